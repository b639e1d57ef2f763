"""Case 2 (hostile use / flaky upstream): settlement converges in one call.

If the first snapshot we see already shows the SMS, an approved report (the supplier refunded) and an ended
activation, the one call charges and then refunds, each exactly once; nothing waits for a later sync that,
for an ended activation, would never come. Ended activations whose report is still in review keep being
synced, within the budget, until the report is decided.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from activations import tasks
from activations.models import Activation
from activations.services import apply_upstream_state
from platfone.types import Activation as Snapshot
from wallet import selectors as wallet_selectors

from .test_api_flow import age, balance, order

pytestmark = pytest.mark.django_db

UPSTREAM_KEY = "acme-upstream"


def entries(activation_id, kind):
    from wallet.models import JournalEntry

    return JournalEntry.objects.filter(idempotency_key=f"activation:{activation_id}:{kind}").count()


def test_case2_a_first_snapshot_with_sms_and_approved_report_charges_and_refunds_in_one_call(
    api, emulator, tenant, alice, alice_key, fund
):
    # given an order we have not heard about since placing it, while upstream the SMS came, a report was
    # filed and approved, and the activation ended
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    emulator.deliver_sms(data["activation_id"], code="424242")
    emulator.create_report(UPSTREAM_KEY, data["activation_id"], reason_id=2, message="wrong code", evidence=None)
    emulator.decide_report(data["activation_id"], approve=True)
    emulator.expire_activation(data["activation_id"])
    snapshot = Snapshot.from_json(emulator.get_activation(UPSTREAM_KEY, data["activation_id"]))
    assert (snapshot.sms_status, snapshot.report_status, snapshot.billing_status) == (
        "smsReceived",
        "approved",
        "refunded",
    )

    # when: the first snapshot we see is applied, once
    activation = apply_upstream_state(data["id"], snapshot, actor="test")

    # then: charged once and refunded once, in that one call
    assert activation.billing_status == Activation.BillingStatus.REFUNDED
    assert (entries(data["id"], "charge"), entries(data["id"], "refund")) == (1, 1)
    assert balance(alice).balance_cents == 5000 and balance(alice).held_cents == 0
    money = wallet_selectors.reference_money(tenant=tenant, reference=f"activation:{data['id']}")
    assert money.margin_cents == 0  # the supplier refunded its price too
    # and applying it again changes nothing
    apply_upstream_state(data["id"], snapshot, actor="test")
    assert (entries(data["id"], "charge"), entries(data["id"], "refund")) == (1, 1)
    call_command("verify_ledger")


def test_case2_an_ended_activation_with_a_report_in_review_is_synced_until_the_report_is_decided(
    api, emulator, alice, alice_key, fund
):
    # given a finalized activation whose report is in review
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    emulator.deliver_sms(data["activation_id"], code="1")
    age(data["id"])
    api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key)
    api.post(f"/api/v1/activations/{data['id']}/finalize", HTTP_X_API_KEY=alice_key)
    api.post(f"/api/v1/activations/{data['id']}/report", {"reason_id": 2}, HTTP_X_API_KEY=alice_key)
    assert Activation.objects.get(pk=data["id"]).report_status == "inReview"

    # when the report is approved upstream (no webhook) and the beat's sync runs
    emulator.decide_report(data["activation_id"], approve=True)
    age(data["id"])
    tasks.sync_due()

    # then the refund is seen without anyone polling
    assert Activation.objects.get(pk=data["id"]).billing_status == Activation.BillingStatus.REFUNDED
    assert balance(alice).balance_cents == 5000
    # and a decided report is not synced any more
    age(data["id"])
    emulator.reset_counters()
    tasks.sync_due()
    assert emulator.request_count("get_activation") == 0
