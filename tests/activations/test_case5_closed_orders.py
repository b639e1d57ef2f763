"""Case 5 (flaky upstream): a closed order never comes back to life.

``close_stuck_orders`` marks an order in flight for too long ``lost`` and releases its hold. When the
supplier's answer then arrives, the order is adopted only on a fresh hold (or the supplier activation is let
go: canceled upstream, never silently placed without money held). Order statuses move along one table;
a snapshot with the same ``updated_at`` never brings an ended activation back; webhook event ids are
de-duplicated on the whole id.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from activations.models import Activation, ReconciliationIssue
from activations.services import apply_upstream_state
from activations.services import ordering as ordering_module
from activations.services.maintenance import close_stuck_orders
from activations.services.settlement import ORDER_TRANSITIONS, Outcome
from platfone.types import Activation as Snapshot

from .test_api_flow import age, assert_error, balance, order
from .test_webhooks import activation_event, send

pytestmark = pytest.mark.django_db

UPSTREAM_KEY = "acme-upstream"


def closed_by_the_beat_while_in_flight(monkeypatch, emulator, tenant, method="create_activation"):
    """The upstream takes so long to answer that the beat closes the order as lost before the answer lands."""
    real = getattr(emulator, method)

    def slow_answer(*args, **kwargs):
        answer = real(*args, **kwargs)
        Activation.objects.filter(order_status="ordering").update(created_at=timezone.now() - timedelta(minutes=5))
        assert close_stuck_orders(tenant=tenant) == 1
        return answer

    monkeypatch.setattr(emulator, method, slow_answer)


def test_case5_a_late_answer_is_adopted_on_a_fresh_hold(api, emulator, tenant, alice, alice_key, fund, monkeypatch):
    fund(alice, 5000)
    closed_by_the_beat_while_in_flight(monkeypatch, emulator, tenant)

    created = order(api, alice_key)

    # the user gets the number, with money held for it again
    assert created.status_code == 200, created.content
    data = created.json()["data"]
    activation = Activation.objects.get(pk=data["id"])
    assert (activation.order_status, activation.billing_status) == ("placed", "held")
    assert balance(alice).held_cents == data["sell_price_cents"]
    # and its SMS is charged once, like any other
    emulator.deliver_sms(data["activation_id"], code="5555")
    age(data["id"])
    assert api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key).json()["data"]["sms_code"]
    assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
    assert balance(alice).held_cents == 0
    call_command("verify_ledger")


def test_case5_a_late_answer_that_cannot_be_held_again_is_canceled_upstream(
    api, emulator, tenant, alice, alice_key, fund, monkeypatch
):
    # given the user spends the released money on something else while the first answer is on its way
    fund(alice, 200)
    real = emulator.create_activation

    def slow_answer(*args, **kwargs):
        answer = real(*args, **kwargs)
        Activation.objects.filter(order_status="ordering").update(created_at=timezone.now() - timedelta(minutes=5))
        close_stuck_orders(tenant=tenant)
        from wallet import services as wallet

        wallet.adjust(user=alice, amount_cents=-150, reason="spent meanwhile", idempotency_key="spent", actor="test")
        return answer

    monkeypatch.setattr(emulator, "create_activation", slow_answer)

    # when
    response = order(api, alice_key)

    # then: nothing charged or held, the supplier's number canceled, operators told
    assert_error(response, 503, "upstream_unavailable")
    assert (balance(alice).balance_cents, balance(alice).held_cents) == (50, 0)
    [upstream] = emulator.activations(UPSTREAM_KEY)
    assert upstream["activation_status"] == "canceled"
    activation = Activation.objects.get()
    assert (activation.order_status, activation.billing_status) == ("lost", "released")
    issue = ReconciliationIssue.objects.get(kind=ReconciliationIssue.Kind.LATE_ORDER_ANSWER)
    assert issue.action == "canceled upstream"
    call_command("verify_ledger")


def test_case5_a_repriced_order_closed_meanwhile_gets_no_new_hold(
    api, emulator, tenant, alice, alice_key, fund, monkeypatch
):
    # given a cached quote, while the supplier's price rose (its answer will be a 409 with a suggested price)
    fund(alice, 5000)
    api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key)
    emulator.set_price("whatsapp", "us", min=400, max=900, suggested=500, count=50)
    real_rehold = ordering_module._rehold

    def rehold_after_the_beat(activation, **kwargs):
        Activation.objects.filter(pk=activation.pk).update(created_at=timezone.now() - timedelta(minutes=5))
        close_stuck_orders(tenant=tenant)
        return real_rehold(activation, **kwargs)

    monkeypatch.setattr(ordering_module, "_rehold", rehold_after_the_beat)

    response = order(api, alice_key, max_price=10000)

    assert_error(response, 503, "upstream_unavailable")
    assert balance(alice).held_cents == 0  # no hold left behind on the closed order
    assert emulator.activations(UPSTREAM_KEY) == []  # and nothing was ordered with the new price
    call_command("verify_ledger")


def test_case5_order_statuses_only_move_forward(api, emulator, alice, alice_key, fund):
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    Activation.objects.filter(pk=data["id"]).update(order_status="lost")

    activation = apply_upstream_state(data["id"], None, actor="test", outcome=Outcome(order_status="placed"))

    assert activation.order_status == "lost"  # placed again only on a fresh hold (adopt_hold_id)
    assert ORDER_TRANSITIONS["placed"] == frozenset() and ORDER_TRANSITIONS["failed"] == frozenset()
    assert activation.events.filter(kind="order_transition_refused").exists()


def test_case5_an_equal_timestamp_never_brings_a_finalized_activation_back(api, emulator, alice, alice_key, fund):
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    emulator.deliver_sms(data["activation_id"], code="1")
    age(data["id"])
    api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key)
    active = Snapshot.from_json(emulator.get_activation(UPSTREAM_KEY, data["activation_id"]))
    api.post(f"/api/v1/activations/{data['id']}/finalize", HTTP_X_API_KEY=alice_key)
    finalized = Activation.objects.get(pk=data["id"])
    assert finalized.activation_status == "finalized"

    # when an "active" read with the same updated_at lands late
    same_time = Snapshot(**{**active.__dict__, "updated_at": finalized.upstream_updated_at})
    apply_upstream_state(data["id"], same_time, actor="test")

    assert Activation.objects.get(pk=data["id"]).activation_status == "finalized"


def test_case5_webhook_event_ids_are_deduplicated_whole_and_over_long_ones_refused(
    api, hooked_emulator, alice, alice_key, fund
):
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    snapshot = hooked_emulator.get_activation(UPSTREAM_KEY, data["activation_id"])

    too_long = send(activation_event(snapshot, "e" * 101))
    exactly = send(activation_event(snapshot, "e" * 100))

    assert too_long.status_code == 400
    assert exactly.status_code == 200
    from activations.models import WebhookEvent

    assert list(WebhookEvent.objects.filter(event_id__startswith="eee").values_list("event_id", flat=True)) == [
        "e" * 100
    ]
