"""The webhook / poll / get / beat / cancel race, many times over with random interleavings.

Each round orders one number and lets its SMS (or its end) meet everyone who settles money at once:
- ``sms_first``: the SMS arrived upstream; its webhook (delivered twice), a poll, a get, a beat task and the
  user's cancel race to record it;
- ``sms_vs_cancel``: the SMS arrives upstream (webhook and all) while the user cancels and others read;
- ``expiry``: the number expires upstream while the user cancels and others read.

After each round, whoever won: the activation is charged exactly once if the upstream has its SMS and never
otherwise, refunded once exactly when a cancel was accepted after the SMS, its hold is closed, the wallet
is deposits - charges + refunds, and ``verify_ledger`` is clean.

On PostgreSQL the racers are real threads behind a barrier, each with a seeded random delay and start
order. Everywhere (SQLite too) the same actors also run one after another, in a seeded random order.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Tenant
from activations import tasks
from activations.models import Activation
from platfone.emulator import EmulatorError
from tests.reliability.chaos import api_client
from tests.reliability.support import SMS_STATUSES, age_activations, money_problems
from wallet.models import Hold, JournalEntry

SCENARIOS = ("sms_first", "sms_vs_cancel", "expiry")
ROUNDS = 24


@pytest.fixture
def race_setup(emulator, cast, settings, tenant, other_tenant):
    # Every read may go to the upstream (no freshness window), so polls really race webhooks and the beat.
    settings.ACTIVATION_FRESH_SECONDS = 0
    settings.ACTIVATION_SAFETY_SYNC_SECONDS = 0
    settings.ACTIVATION_SYNC_BACKOFF_SECONDS = 0
    Tenant.objects.filter(pk__in=[tenant.pk, other_tenant.pk]).update(
        max_active_activations_per_user=1000, min_user_success_rate_percent=0
    )
    emulator.configure(max_active=1000)
    return cast


class Round:
    """One activation and the actors that will race over it."""

    def __init__(self, *, emulator, router, cast, scenario: str, rng: random.Random):
        self.emulator, self.router, self.scenario, self.rng = emulator, router, scenario, rng
        self.user = rng.choice(cast.users)
        self.key = cast.keys[self.user]
        response = APIClient().post(
            "/api/v1/activations",
            {"service_id": rng.choice(["whatsapp", "telegram"]), "country_id": rng.choice(["us", "uk"])},
            format="json",
            HTTP_X_API_KEY=self.key,
        )
        assert response.status_code == 200, response.content
        self.data = response.json()["data"]
        self.pk, self.upstream_id = self.data["id"], self.data["activation_id"]
        self.code = f"{rng.randrange(10**6):06d}"
        self.statuses: dict[str, list[int]] = {}
        self.codes_seen: list[str | None] = []
        self._lock = threading.Lock()
        if scenario == "sms_first":
            # The SMS is there; its webhook is held back to be one of the racers.
            router.capture, router.captured = True, []
            emulator.deliver_sms(self.upstream_id, code=self.code)
            router.capture = False
            self.webhook = router.captured[-1]
        age_activations(pk=self.pk)

    # --- the actors ---------------------------------------------------------------------------------------

    def _api(self, name: str, method: str, path: str) -> None:
        client = api_client()
        call = client.get if method == "GET" else client.post
        response = call(f"/api/v1/activations/{self.pk}{path}", HTTP_X_API_KEY=self.key)
        with self._lock:
            self.statuses.setdefault(name, []).append(response.status_code)
            if response.status_code == 200 and "sms_code" in response.json()["data"]:
                self.codes_seen.append(response.json()["data"]["sms_code"])

    def webhook_delivery(self) -> None:
        self.router.fire(*self.webhook)

    def sms_arrives(self) -> None:
        with contextlib.suppress(EmulatorError):  # canceled first: the SMS has nowhere to go
            self.emulator.deliver_sms(self.upstream_id, code=self.code)

    def number_expires(self) -> None:
        self.emulator.expire_activation(self.upstream_id)

    def poll(self) -> None:
        self._api("poll", "GET", "/poll")

    def get(self) -> None:
        self._api("get", "GET", "")

    def cancel(self) -> None:
        self._api("cancel", "POST", "/cancel")

    def beat(self) -> None:
        # Reconciliation reads the whole history: rarer, as on the real schedule.
        self.rng.choices([tasks.sync_due, tasks.expire_overdue, tasks.reconcile], weights=[3, 2, 1])[0]()

    def actors(self) -> list:
        readers = [self.poll, self.get, self.beat, self.cancel]
        if self.scenario == "sms_first":
            actors = [self.webhook_delivery, self.webhook_delivery, *readers]
        elif self.scenario == "sms_vs_cancel":
            actors = [self.sms_arrives, *readers]
        else:
            actors = [self.number_expires, *readers]
        self.rng.shuffle(actors)
        return actors

    # --- the verdict ----------------------------------------------------------------------------------

    def settle_and_check(self) -> list[str]:
        """Let the dust settle (one more read after time passed), then judge the round."""
        age_activations(pk=self.pk)
        self.poll()
        activation = Activation.objects.get(pk=self.pk)
        upstream = next(a for a in self.emulator.activations() if a["activation_id"] == self.upstream_id)
        has_sms = upstream["sms_status"] in SMS_STATUSES
        charges = JournalEntry.objects.filter(reference=f"activation:{self.pk}", kind="charge").count()
        refunds = JournalEntry.objects.filter(reference=f"activation:{self.pk}", kind="refund").count()
        cancel_accepted = 200 in self.statuses.get("cancel", [])
        label = f"{self.scenario} #{self.pk} ({self.statuses})"
        problems = []
        if charges != (1 if has_sms else 0):
            problems.append(f"{label}: upstream SMS {has_sms}, {charges} charge(s)")
        if refunds != (1 if has_sms and cancel_accepted else 0):
            problems.append(f"{label}: cancel accepted {cancel_accepted}, SMS {has_sms}, {refunds} refund(s)")
        if (
            Hold.objects.filter(reference=f"activation:{self.pk}", status=Hold.Status.ACTIVE).exists()
            and not activation.is_open
        ):
            problems.append(f"{label}: ended ({activation.activation_status}) with an active hold")
        if has_sms and activation.sms_code != self.code:
            problems.append(f"{label}: upstream code {self.code}, ours {activation.sms_code!r}")
        if any(code not in (None, self.code) for code in self.codes_seen):
            problems.append(f"{label}: a reader saw a code that was never sent: {self.codes_seen}")
        if any(status >= 500 for statuses in self.statuses.values() for status in statuses):
            problems.append(f"{label}: a server error")
        if self.scenario != "expiry" and not has_sms and not cancel_accepted:
            problems.append(f"{label}: neither the SMS nor the cancel went through")
        return problems


def race(actors, rng: random.Random) -> list[BaseException]:
    """Run the actors in threads released together, each after its own random delay."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(actors))
    delays = [rng.uniform(0, 0.015) for _ in actors]

    def run(actor, delay):
        try:
            barrier.wait(10)
            time.sleep(delay)
            actor()
        except BaseException as exc:  # collected and asserted by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(actor, delay)) for actor, delay in zip(actors, delays, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors + [RuntimeError("a racer hung") for t in threads if t.is_alive()]


def run_rounds(*, emulator, router, cast, seed: int, threaded: bool) -> None:
    rng = random.Random(seed)
    problems: list[str] = []
    for n in range(ROUNDS):
        scenario = SCENARIOS[n % len(SCENARIOS)]
        round_ = Round(emulator=emulator, router=router, cast=cast, scenario=scenario, rng=rng)
        actors = round_.actors()
        if threaded:
            errors = race(actors, rng)
            assert errors == [], f"round {n} ({scenario}): {errors!r}"
        else:
            for actor in actors:
                actor()
        problems += round_.settle_and_check()
    problems += router.server_errors()
    problems += money_problems(users=cast.users, funded=cast.funded, emulator=emulator)
    assert problems == [], "\n".join(problems)
    # The rounds did produce every outcome the race can have.
    outcomes = set(Activation.objects.values_list("billing_status", flat=True))
    assert {"refunded", "released"} <= outcomes


@pytest.mark.django_db
def test_seeded_random_orderings_settle_each_activation_once(emulator, webhook_router, race_setup):
    run_rounds(emulator=emulator, router=webhook_router, cast=race_setup, seed=11, threaded=False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [21, 22])
def test_racing_threads_settle_each_activation_once(emulator, webhook_router, race_setup, seed):
    run_rounds(emulator=emulator, router=webhook_router, cast=race_setup, seed=seed, threaded=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_order_and_a_settlement_for_the_same_user_do_not_deadlock(
    emulator, webhook_router, race_setup, alice, monkeypatch
):
    """The exact interleaving behind the deadlocks the threaded races hit now and then.

    An order holds the user's wallet row (its hold) and has inserted its activation, whose foreign key to the
    tenant PostgreSQL checks at COMMIT (Django's FKs are DEFERRABLE INITIALLY DEFERRED): the commit needs a
    KEY SHARE lock on the tenant row. Meanwhile a settlement of another activation of the same user locks
    the activation row - and, through ``select_related("tenant")`` in the same SELECT ... FOR UPDATE, the
    tenant row - then waits for the wallet. Each waits for the other: PostgreSQL aborts one of them.
    """
    from activations.services import activation_create, apply_upstream_state, ordering
    from platfone.types import Activation as Snapshot

    # given: an activation of alice whose SMS has arrived upstream, not yet applied here
    client = APIClient()
    first = client.post(
        "/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json",
        HTTP_X_API_KEY=race_setup.keys[alice],
    ).json()["data"]  # fmt: skip
    webhook_router.capture = True  # the webhook is lost: the settlement below is the first to see the SMS
    emulator.deliver_sms(first["activation_id"], code="4242")
    snapshot = Snapshot.from_json(
        next(a for a in emulator.activations() if a["activation_id"] == first["activation_id"])
    )
    # and a second order of alice that stops right after placing its hold, inside its transaction
    holding, settling = threading.Event(), threading.Event()
    real_count = ordering.selectors.open_activation_count

    def count_after_the_settlement_started(*, user):
        holding.set()
        settling.wait(10)
        time.sleep(0.5)  # the settlement is now waiting for the wallet
        return real_count(user=user)

    monkeypatch.setattr(ordering.selectors, "open_activation_count", count_after_the_settlement_started)
    errors: list[BaseException] = []

    def order():
        try:
            activation_create(user=alice, service_id="telegram", country_id="uk")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def settle():
        try:
            holding.wait(10)
            settling.set()
            apply_upstream_state(first["id"], snapshot, actor="webhook")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=order), threading.Thread(target=settle)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # then
    assert errors == []
    assert JournalEntry.objects.filter(reference=f"activation:{first['id']}", kind="charge").count() == 1
    assert Activation.objects.filter(user=alice, order_status="placed").count() == 2
