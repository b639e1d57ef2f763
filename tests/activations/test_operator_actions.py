"""What operators do to activations (the console's actions call these services): a refund through the
settlement rules, and a sync forced inside the freshness window."""

from __future__ import annotations

import pytest

from activations import errors
from activations.models import Activation
from activations.services import activation_refresh, activation_refund
from wallet import selectors as wallet_selectors

from .test_api_flow import assert_ledger_clean
from .test_retry_finalize_report import balance, charged, entries, ordered, poll, report

pytestmark = pytest.mark.django_db


def test_an_operator_refund_returns_the_charge_once_and_books_the_supplier_cost_as_a_refund_loss(
    api, emulator, alice, alice_key, fund, django_capture_on_commit_callbacks
):
    # given a charged activation
    data = charged(api, emulator, alice, alice_key, fund)
    activation = Activation.objects.get(pk=data["id"])
    # when an operator refunds it twice
    with django_capture_on_commit_callbacks(execute=True):
        activation = activation_refund(activation=activation, actor="operator:1")
    activation_refund(activation=activation, actor="operator:1")
    # then the user has the money back once, the reseller still owes the supplier (booked as a refund loss, like
    # any refund the supplier does not refund: see case 1), and the number was finalized before the refund
    activation.refresh_from_db()
    assert (activation.billing_status, activation.refund_requested_at is not None) == ("refunded", True)
    assert entries(data["id"], "refund") == 1
    assert balance(alice).balance_cents == 5000
    money = wallet_selectors.reference_money(tenant=alice.tenant, reference=f"activation:{data['id']}")
    assert (money.revenue_cents, money.upstream_cost_cents, money.refund_loss_cents) == (0, 0, activation.price_cents)
    assert money.margin_cents == -activation.price_cents
    assert activation.activation_status == "finalized"
    assert_ledger_clean()


def test_a_report_approved_after_an_operator_refund_reverses_the_supplier_cost_only(
    api, emulator, alice, alice_key, fund
):
    data = charged(api, emulator, alice, alice_key, fund)
    assert report(api, alice_key, data["id"], reason_id=2).status_code == 200
    activation_refund(activation=Activation.objects.get(pk=data["id"]), actor="operator:1")
    emulator.decide_report(data["activation_id"], approve=True)
    poll(api, alice_key, data["id"])
    assert entries(data["id"], "refund") == 1
    money = wallet_selectors.reference_money(tenant=alice.tenant, reference=f"activation:{data['id']}")
    assert (money.upstream_cost_cents, money.refund_loss_cents) == (0, 0)
    assert_ledger_clean()


def test_an_uncharged_activation_is_not_refundable(api, emulator, alice, alice_key, fund):
    data = ordered(api, alice_key, fund, alice)
    with pytest.raises(errors.NotRefundable):
        activation_refund(activation=Activation.objects.get(pk=data["id"]), actor="operator:1")
    assert entries(data["id"], "refund") == 0


def test_a_forced_sync_reads_the_supplier_inside_the_freshness_window(api, emulator, alice, alice_key, fund):
    # given an activation just synced (fresh), whose SMS arrived since
    data = ordered(api, alice_key, fund, alice)
    poll(api, alice_key, data["id"])
    emulator.deliver_sms(data["activation_id"], code="777")
    activation = Activation.objects.get(pk=data["id"])
    # a normal read answers from the database...
    assert activation_refresh(activation=activation, actor="test", polled=False).sms_code is None
    # ...a forced one asks the supplier
    refreshed = activation_refresh(activation=Activation.objects.get(pk=data["id"]), actor="operator:1", force=True)
    assert refreshed.sms_code == "777" and refreshed.billing_status == "billed"
