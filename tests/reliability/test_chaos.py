"""Chaos: the upstream fails 20 % of its calls (timeouts before and after the fact, 500/502, garbage bodies,
429s) and loses or repeats webhooks, while clients order, poll, get, cancel, retry and finalize.

Then the faults are lifted and time passes (beat tasks, reads). Whatever happened:
- our API never answered a 5xx, except 503 ``upstream_unavailable`` where it is the documented answer
  (an order or cancel the upstream did not confirm); reads never fail;
- every SMS delivered upstream on an order the user got is visible with its code and charged exactly once;
  one delivered on an order we had to give up (the answer was lost) is never charged and is reported by
  reconciliation;
- once every waiting number has ended, no hold is left: each was released or charged;
- balances = deposits - charges + refunds, and ``verify_ledger`` is clean.
"""

from __future__ import annotations

import pytest

from accounts.models import Tenant
from tests.reliability.chaos import MAY_BE_UPSTREAM_DOWN, Chaos, Player, add_chaos_faults
from tests.reliability.support import CallLog, money_problems
from wallet.models import Hold


def players_of(cast) -> list[Player]:
    return [Player(user=user, key=cast.keys[user]) for user in cast.users]


def assert_converged(chaos: Chaos, log: CallLog, cast, router) -> None:
    problems = log.server_errors(documented_503=MAY_BE_UPSTREAM_DOWN)
    problems += router.server_errors()
    problems += log.envelope_problems()
    problems += chaos.visibility_problems()
    problems += money_problems(users=cast.users, funded=cast.funded, emulator=chaos.emulator)
    assert problems == [], "\n".join(problems) + f"\n\nstatuses: {log.statuses()}"


def run_chaos_then_settle(chaos: Chaos, log: CallLog, cast, router, run) -> None:
    # given: a fifth of the upstream's calls fail, webhooks are lost or repeated
    add_chaos_faults(chaos.emulator, rate=0.2, seed=chaos.seed)
    # when
    run()
    # then: mid-flight, the books already balance (holds may still be open)
    interim = money_problems(users=cast.users, funded=cast.funded, converged=False)
    assert interim == [], "\n".join(interim)
    # when: the upstream recovers and time passes
    router.drop = 0.0
    chaos.converge()
    # then
    assert_converged(chaos, log, cast, router)
    # when: every number still waiting ends
    chaos.close_every_number()
    chaos.converge()
    # then: every hold was released or charged
    assert_converged(chaos, log, cast, router)
    assert Hold.objects.filter(status=Hold.Status.ACTIVE).count() == 0
    # and the run did exercise what it is about (printed, for the record of a failing run)
    print(f"statuses: {sorted(log.statuses().items())}")
    print(f"faults: {[(f['kind'], f['hits']) for f in chaos.emulator.list_faults()]}")
    print(f"upstream calls: {chaos.emulator.request_counts()}, SMS delivered: {len(chaos.delivered)}")
    labels = {(c.label, c.status) for c in log.calls}
    assert ("order", 200) in labels and ("order", 503) in labels and ("cancel", 200) in labels
    assert len(chaos.delivered) >= 5


def set_mode(mode: str, router, settings, tenants) -> None:
    """``webhooks``: the production setup, a lossy webhook stream and the default freshness windows (polls
    mostly answer from the database). ``polling``: no webhooks and no freshness window, so every read may
    go to the (failing) upstream and races the others."""
    router.drop, router.duplicate = 0.3, 0.2
    if mode == "polling":
        Tenant.objects.filter(pk__in=[t.pk for t in tenants]).update(platfone_webhook_secret="")
        settings.ACTIVATION_FRESH_SECONDS = 0
        settings.ACTIVATION_SYNC_BACKOFF_SECONDS = 0


@pytest.mark.django_db
@pytest.mark.parametrize(("seed", "mode"), [(1, "webhooks"), (2, "polling")])
def test_sequential_chaos_loses_no_sms_and_charges_each_once(
    emulator, webhook_router, cast, settings, tenant, other_tenant, seed, mode
):
    set_mode(mode, webhook_router, settings, [tenant, other_tenant])
    log = CallLog()
    chaos = Chaos(emulator=emulator, players=players_of(cast), log=log, seed=seed)
    run_chaos_then_settle(chaos, log, cast, webhook_router, lambda: chaos.run_sequential(300))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("seed", "mode"), [(3, "webhooks"), (4, "polling")])
def test_concurrent_chaos_loses_no_sms_and_charges_each_once(
    emulator, webhook_router, cast, settings, tenant, other_tenant, seed, mode
):
    set_mode(mode, webhook_router, settings, [tenant, other_tenant])
    log = CallLog()
    chaos = Chaos(emulator=emulator, players=players_of(cast), log=log, seed=seed)

    def run():
        errors = chaos.run_threads(steps_per_client=70)
        assert errors == []
        chaos.ensure_delivered(5)

    run_chaos_then_settle(chaos, log, cast, webhook_router, run)
