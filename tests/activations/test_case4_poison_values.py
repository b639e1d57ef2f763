"""Case 4 (flaky upstream): a poison value from the supplier stops nothing.

The client validates every field of a supplier snapshot (types, lengths, ranges, enums) and rejects a bad one
as a typed upstream error (``InvalidUpstreamData``), recorded for operators as a ``ReconciliationIssue``: the
poll answers the last known state, the webhook is a 400 (never a 500), and every loop over activations (sync,
expiry, finalize, reconcile) isolates each item's failure so other users' SMS are still charged.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from activations import tasks
from activations.models import Activation, ReconciliationIssue
from activations.services import reconcile as reconcile_module
from activations.services import settlement

from .test_api_flow import age, balance, order
from .test_webhooks import activation_event, send

pytestmark = pytest.mark.django_db

UPSTREAM_KEY = "acme-upstream"
POISONS = {
    "a 65-character code": {"sms_status": "smsReceived", "billing_status": "billed", "sms_code": "9" * 65},
    "an over-long phone": {"phone": "1" * 40},
    "an expiry in the year 9999": {"expire_at": 253_402_300_800},
    "a negative price": {"price": -5},
    "an unknown status": {"sms_status": "smsTeleported"},
    "an over-long activation id": {"activation_id": "a" * 65},
}


def poison(emulator, monkeypatch, upstream_id, fields):
    """The supplier answers reads of ``upstream_id`` with a snapshot carrying ``fields``."""
    real = emulator.get_activation

    def get_activation(api_key, activation_id):
        snapshot = real(api_key, activation_id)
        return {**snapshot, **fields} if activation_id == upstream_id else snapshot

    monkeypatch.setattr(emulator, "get_activation", get_activation)


def issues():
    return list(ReconciliationIssue.objects.filter(kind=ReconciliationIssue.Kind.INVALID_UPSTREAM_DATA))


@pytest.mark.parametrize("fields", POISONS.values(), ids=POISONS.keys())
def test_case4_a_poisoned_read_answers_the_last_known_state_and_is_recorded(
    api, emulator, alice, alice_key, fund, monkeypatch, fields
):
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    poison(emulator, monkeypatch, data["activation_id"], fields)
    age(data["id"])

    response = api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key)

    assert response.status_code == 200
    assert response.json()["data"]["sms_status"] == "smsRequested"  # nothing of the poison was used
    [issue] = issues()
    assert issue.upstream_id == data["activation_id"] and issue.detail["source"] == "sync"
    assert balance(alice).held_cents == data["sell_price_cents"]


def test_case4_a_signed_poisoned_webhook_is_a_400_recorded_once(api, hooked_emulator, alice, alice_key, fund):
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    snapshot = {**hooked_emulator.get_activation(UPSTREAM_KEY, data["activation_id"]), "sms_code": "9" * 65}

    answers = [send(activation_event(snapshot, f"evt-poison-{n}")) for n in range(2)]

    assert [a.status_code for a in answers] == [400, 400]
    [issue] = issues()
    assert (issue.upstream_id, issue.detail["source"]) == (data["activation_id"], "webhook")
    assert Activation.objects.get(pk=data["id"]).sms_code is None


def test_case4_one_poisoned_activation_does_not_stop_the_background_sync(
    api, emulator, tenant, alice, alice_key, bob, fund, monkeypatch
):
    # given alice's activation reads as poison, and bob's SMS arrived (no webhook, nobody polls)
    from accounts.services import api_key_create

    bob_key = api_key_create(user=bob).raw_key
    fund(alice, 5000)
    fund(bob, 5000)
    poisoned = order(api, alice_key).json()["data"]
    good = order(api, bob_key).json()["data"]
    poison(emulator, monkeypatch, poisoned["activation_id"], POISONS["a 65-character code"])
    emulator.deliver_sms(good["activation_id"], code="777")
    age(poisoned["id"])
    age(good["id"])

    # when
    tasks.sync_due()

    # then bob was charged once all the same
    assert Activation.objects.get(pk=good["id"]).billing_status == "billed"
    assert balance(bob).balance_cents == 5000 - good["sell_price_cents"]
    assert len(issues()) == 1
    call_command("verify_ledger")


def test_case4_an_unexpected_failure_on_one_activation_does_not_stop_the_loops(
    api, emulator, alice, alice_key, bob, fund, monkeypatch
):
    """Whatever fails for one item (a database error on PostgreSQL, a bug) is logged and counted; the others
    are still settled by the sync, and reconciliation goes on too."""
    from accounts.services import api_key_create

    bob_key = api_key_create(user=bob).raw_key
    fund(alice, 5000)
    fund(bob, 5000)
    broken = order(api, alice_key).json()["data"]
    good = order(api, bob_key).json()["data"]
    emulator.deliver_sms(broken["activation_id"], code="1")
    emulator.deliver_sms(good["activation_id"], code="2")
    real_apply = settlement.apply_upstream_state

    def apply(activation, snapshot, **kwargs):
        if (activation if isinstance(activation, int) else activation.pk) == broken["id"]:
            raise RuntimeError("value too long for type character varying(64)")
        return real_apply(activation, snapshot, **kwargs)

    monkeypatch.setattr("activations.services.sync.apply_upstream_state", apply)
    monkeypatch.setattr(reconcile_module, "apply_upstream_state", apply)
    age(broken["id"])
    age(good["id"])

    tasks.sync_due()
    assert Activation.objects.get(pk=good["id"]).billing_status == "billed"

    result = tasks.reconcile()
    assert result["acme"] != "error"  # the tenant's run finished despite the broken item


def test_case4_a_poisoned_history_item_does_not_sink_the_page(
    api, emulator, tenant, alice, alice_key, fund, monkeypatch
):
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    real = emulator.activation_history

    def history(api_key, **kwargs):
        page = real(api_key, **kwargs)
        bad = {**page["activations"][0], "activation_id": "poison-1", "price": -1}
        return {**page, "activations": [bad, *page["activations"]], "total": page["total"] + 1}

    monkeypatch.setattr(emulator, "activation_history", history)

    report = reconcile_module.reconcile_tenant(tenant=tenant)

    assert report.synced == 1  # our own activation was still reconciled
    [issue] = issues()
    assert (issue.upstream_id, issue.detail["source"]) == ("poison-1", "history")
    assert Activation.objects.get(pk=data["id"]).order_status == "placed"
