"""What ``apply_upstream_state`` announces to the activation's owner through the core outbox: each change once
(a webhook racing a poll, a replayed event, a repeated sync announce nothing twice), and nothing for a
settlement that is rolled back."""

from __future__ import annotations

import pytest
from django.db import transaction

from activations.models import Activation
from activations.services import apply_upstream_state, settlement
from catalog.upstream import client_for_tenant
from core.events import event_committed
from core.models import OutboxEvent
from wallet import services as wallet

from .conftest import last_event_id
from .test_api_flow import age, order

pytestmark = pytest.mark.django_db


def ordered(api, key, fund, user, cents=5000):
    fund(user, cents)
    response = order(api, key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def poll(api, key, activation_id):
    age(activation_id)
    response = api.get(f"/api/v1/activations/{activation_id}/poll", HTTP_X_API_KEY=key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def announced(activation_id):
    """(type, key suffix) of the activation's events, in the order they were written."""
    prefix = f"activation:{activation_id}:"
    return [
        (event.type, event.key.removeprefix(prefix))
        for event in OutboxEvent.objects.filter(ordering_key=f"activation:{activation_id}").order_by("id")
    ]


def test_the_code_is_announced_once_with_code_and_text_whatever_reports_it(
    api, hooked_emulator, alice, alice_key, fund
):
    # given
    data = ordered(api, alice_key, fund, alice)
    # when: the upstream's webhook brings the SMS, replays it, and the client polls twice
    hooked_emulator.deliver_sms(data["activation_id"], code="531902", text="Your code is 531902")
    hooked_emulator.redeliver(last_event_id(hooked_emulator, "activation.updated"))
    poll(api, alice_key, data["id"])
    poll(api, alice_key, data["id"])
    # then
    assert announced(data["id"]) == [("activation.sms_received", "sms_received")]
    event = OutboxEvent.objects.get(type="activation.sms_received")
    assert (event.tenant_id, event.user_id) == (alice.tenant_id, alice.pk)
    activation = event.payload["activation"]
    assert (activation["id"], activation["activation_id"]) == (data["id"], data["activation_id"])
    assert (activation["sms_code"], activation["sms_text"]) == ("531902", "Your code is 531902")
    assert (activation["sms_status"], activation["billing_status"]) == ("smsReceived", "billed")
    assert activation["sell_price_cents"] == data["sell_price_cents"] and activation["phone"] == data["phone"]


def test_each_retry_code_is_announced_once(api, emulator, alice, alice_key, fund):
    # given: the first SMS arrived
    data = ordered(api, alice_key, fund, alice)
    emulator.deliver_sms(data["activation_id"], code="1111")
    poll(api, alice_key, data["id"])
    # when: two retries, each polled twice
    for code in ("2222", "3333"):
        assert api.post(f"/api/v1/activations/{data['id']}/retry", HTTP_X_API_KEY=alice_key).status_code == 200
        emulator.deliver_sms(data["activation_id"], code=code)
        poll(api, alice_key, data["id"])
        poll(api, alice_key, data["id"])
    # then
    types = [event_type for event_type, _ in announced(data["id"])]
    assert types == ["activation.sms_received", "activation.retry_received", "activation.retry_received"]
    codes = [e.payload["activation"]["sms_code"] for e in OutboxEvent.objects.filter(type__endswith="retry_received")]
    assert codes == ["2222", "3333"]


def test_an_expiry_is_announced_once(api, emulator, alice, alice_key, fund):
    data = ordered(api, alice_key, fund, alice)
    emulator.expire_activation(data["activation_id"])
    poll(api, alice_key, data["id"])
    poll(api, alice_key, data["id"])
    assert announced(data["id"]) == [("activation.expired", "expired")]
    payload = OutboxEvent.objects.get(type="activation.expired").payload["activation"]
    assert (payload["activation_status"], payload["billing_status"], payload["sms_code"]) == (
        "expired",
        "released",
        None,
    )


def test_a_cancel_before_the_sms_is_announced_as_canceled(api, emulator, alice, alice_key, fund):
    data = ordered(api, alice_key, fund, alice)
    for _ in range(2):
        assert api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key).status_code == 200
    assert announced(data["id"]) == [("activation.canceled", "canceled")]


def test_a_cancel_after_the_sms_is_announced_as_refunded(api, emulator, alice, alice_key, fund):
    data = ordered(api, alice_key, fund, alice)
    emulator.deliver_sms(data["activation_id"], code="4242")
    poll(api, alice_key, data["id"])
    for _ in range(2):
        assert api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key).status_code == 200
    assert announced(data["id"]) == [("activation.sms_received", "sms_received"), ("activation.refunded", "refunded")]
    assert OutboxEvent.objects.get(type="activation.refunded").payload["activation"]["billing_status"] == "refunded"


def test_another_users_activation_is_announced_to_them_only(
    api, emulator, alice, alice_key, charlie, charlie_key, fund
):
    data = ordered(api, charlie_key, fund, charlie)
    emulator.deliver_sms(data["activation_id"], code="9")
    poll(api, charlie_key, data["id"])
    activation_events = OutboxEvent.objects.filter(type__startswith="activation.")
    assert list(activation_events.values_list("user_id", "tenant_id")) == [(charlie.pk, charlie.tenant_id)]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_settlement_announces_nothing(api, emulator, alice, alice_key, fund, monkeypatch):
    # given: the SMS arrived upstream; posting the charge will fail once
    data = ordered(api, alice_key, fund, alice)
    emulator.deliver_sms(data["activation_id"], code="777")
    snapshot = client_for_tenant(alice.tenant).get_activation(data["activation_id"])
    real_charge = wallet.charge
    committed = []
    event_committed.connect(lambda sender, event_id, **kw: committed.append(event_id), weak=False, dispatch_uid="t")

    def failing_charge(**kwargs):
        raise RuntimeError("the database went away mid-settlement")

    monkeypatch.setattr(settlement.wallet, "charge", failing_charge)
    try:
        # when
        with pytest.raises(RuntimeError):
            apply_upstream_state(data["id"], snapshot, actor="test")
        # then: nothing of the change stands, nothing was announced
        activation = Activation.objects.get(pk=data["id"])
        assert (activation.sms_code, activation.billing_status) == (None, "held")
        assert OutboxEvent.objects.filter(ordering_key=f"activation:{data['id']}").count() == 0
        assert committed == []
        # when: the fault is gone and the same snapshot is applied again
        monkeypatch.setattr(settlement.wallet, "charge", real_charge)
        with transaction.atomic():
            apply_upstream_state(data["id"], snapshot, actor="test")
        # then: announced once, after the commit
        [event] = OutboxEvent.objects.filter(ordering_key=f"activation:{data['id']}")
        assert event.type == "activation.sms_received" and committed == [str(event.public_id)]
    finally:
        event_committed.disconnect(dispatch_uid="t")
