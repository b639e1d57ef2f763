"""Races through the SMS-Activate handler: the same settlement rules as the JSON API, whoever comes first.

- Two ``getStatus`` calls and the upstream's webhook arrive at once, just after the SMS: charged exactly once,
  and no reader sees anything but waiting or the code.
- ``setStatus 8`` twice at once: refunded at most once after an SMS (exactly once, as the storefront refunds a
  cancel after the SMS); before an SMS, the hold is released once and nothing is charged.

On PostgreSQL the racers are real threads released together by a barrier (``@pytest.mark.postgres``); on every
database the same actors also run one after another.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from accounts.models import Tenant
from accounts.services import api_key_create
from activations.models import Activation
from catalog import upstream
from catalog.services import catalog_sync
from platfone.emulator import Emulator, emulator_session
from tests.compat.conftest import HANDLER
from tests.reliability.conftest import EMULATOR_BASE, UPSTREAM_KEYS, connect_tenants, make_emulator
from tests.reliability.support import WebhookRouter, age_activations
from wallet import selectors as wallet_selectors
from wallet import services as wallet
from wallet.models import Hold, JournalEntry

ROUNDS = 6
FUNDS = 100_000


@dataclass
class World:
    emulator: Emulator
    router: WebhookRouter
    key: str


@pytest.fixture
def world(monkeypatch, settings, tenant, other_tenant, alice):
    # Every read may go to the upstream (no freshness window): the getStatus calls really race the webhook.
    settings.ACTIVATION_FRESH_SECONDS = 0
    settings.ACTIVATION_SAFETY_SYNC_SECONDS = 0
    settings.ACTIVATION_SYNC_BACKOFF_SECONDS = 0
    router = WebhookRouter(tenants_by_key={key: slug for slug, key in UPSTREAM_KEYS.items()}, seed=5)
    emulator = make_emulator(router)
    emulator.configure(max_active=1000)
    monkeypatch.setattr(upstream, "session_factory", lambda _tenant: emulator_session(emulator))
    connect_tenants([tenant, other_tenant], EMULATOR_BASE)
    catalog_sync(tenant=tenant)
    Tenant.objects.filter(pk=tenant.pk).update(
        rate_limit_per_minute=1_000_000, max_active_activations_per_user=1000, min_user_success_rate_percent=0
    )
    wallet.deposit(user=alice, amount_cents=FUNDS, idempotency_key="races:fund", actor="test")
    yield World(emulator=emulator, router=router, key=api_key_create(user=alice, name="races").raw_key)
    emulator.close()


def call(key: str, action: str, **params) -> str:
    # A client per call: threads must not share one. A view that raised answers the 500 a server would send.
    response = Client(raise_request_exception=False).get(HANDLER, {"api_key": key, "action": action, **params})
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def order(world: World) -> Activation:
    answer = call(world.key, "getNumber", service="wa", country="187")
    assert answer.startswith("ACCESS_NUMBER:"), answer
    return Activation.objects.get(pk=int(answer.split(":")[1]))


def run(actors, *, threaded: bool) -> None:
    if not threaded:
        for actor in actors:
            actor()
        return
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(actors))

    def racer(actor):
        try:
            barrier.wait(10)
            actor()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    assert errors == [], errors


def count(activation: Activation, kind: str) -> int:
    return JournalEntry.objects.filter(reference=f"activation:{activation.pk}", kind=kind).count()


def two_status_reads_and_the_webhook(world: World, *, threaded: bool) -> None:
    sold = 0
    for n in range(ROUNDS):
        activation = order(world)
        code = f"{n + 1:06d}"
        # the SMS arrives upstream; its webhook is held back to be one of the racers
        world.router.capture, world.router.captured = True, []
        world.emulator.deliver_sms(activation.upstream_id, code=code)
        world.router.capture = False
        webhook = world.router.captured[-1]
        age_activations(pk=activation.pk)
        answers: dict[str, str] = {}
        run(
            [
                lambda: answers.update(v1=call(world.key, "getStatus", id=activation.pk)),
                lambda: answers.update(v2=call(world.key, "getStatusV2", id=activation.pk)),
                lambda: world.router.fire(*webhook),
            ],
            threaded=threaded,
        )
        assert call(world.key, "getStatus", id=activation.pk) == f"STATUS_OK:{code}"
        assert answers["v1"] in {"STATUS_WAIT_CODE", f"STATUS_OK:{code}"}, answers
        assert answers["v2"] == '{"verificationType":0,"sms":null,"call":null}' or f'"code":"{code}"' in answers["v2"]
        assert count(activation, "charge") == 1, f"round {n}"
        sold += Activation.objects.get(pk=activation.pk).sell_price_cents
    assert world.router.server_errors() == []
    alice = Activation.objects.first().user
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == FUNDS - sold
    call_command("verify_ledger")


def two_cancels(world: World, *, threaded: bool) -> None:
    for n in range(ROUNDS):
        activation = order(world)
        with_sms = n % 2 == 0
        if with_sms:
            world.emulator.deliver_sms(activation.upstream_id, code=f"{n + 1:06d}")  # webhook applied: charged
            assert count(activation, "charge") == 1
        answers: list[str] = []
        run(
            [lambda: answers.append(call(world.key, "setStatus", id=activation.pk, status="8"))] * 2,
            threaded=threaded,
        )
        assert answers == ["ACCESS_CANCEL", "ACCESS_CANCEL"], answers
        assert count(activation, "refund") == (1 if with_sms else 0), f"round {n}"
        assert count(activation, "charge") == (1 if with_sms else 0), f"round {n}"
        assert not Hold.objects.filter(reference=f"activation:{activation.pk}", status=Hold.Status.ACTIVE).exists()
        assert call(world.key, "getStatus", id=activation.pk) == "STATUS_CANCEL"
    alice = Activation.objects.first().user
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == FUNDS
    call_command("verify_ledger")


@pytest.mark.django_db
def test_status_reads_and_the_webhook_one_after_another_charge_once(world):
    two_status_reads_and_the_webhook(world, threaded=False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_status_reads_and_the_webhook_at_once_charge_once(world):
    two_status_reads_and_the_webhook(world, threaded=True)


@pytest.mark.django_db
def test_two_cancels_one_after_another_refund_at_most_once(world):
    two_cancels(world, threaded=False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_cancels_at_once_refund_at_most_once(world):
    two_cancels(world, threaded=True)
