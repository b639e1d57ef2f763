"""Case 1 (hostile use): a cancel after the SMS must not give the code for free, nor more codes after it.

The document's behaviour stays for honest use (cancel after the SMS refunds), but the supplier activation is
finalized in the same request before the refund is posted, a refunded activation is closed for good (retry
and finalize answer 409), the refund's cost is booked as a named refund loss, and one user gets at most the
tenant's ``max_refunds_after_sms_per_day`` such refunds per 24 h.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import Tenant
from activations.models import Activation
from wallet import selectors as wallet_selectors
from wallet.models import Account

from .test_api_flow import age, assert_error, balance, order

pytestmark = pytest.mark.django_db


def ordered_with_code(api, key, emulator, code="111111"):
    data = order(api, key).json()["data"]
    emulator.deliver_sms(data["activation_id"], code=code)
    age(data["id"])
    poll = api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=key).json()["data"]
    assert poll["sms_code"] == code
    return data


def cancel(api, key, activation_id):
    return api.post(f"/api/v1/activations/{activation_id}/cancel", HTTP_X_API_KEY=key)


def test_case1_a_refunded_activation_gives_no_second_code(api, emulator, alice, alice_key, fund):
    # given: the user read the code and canceled for a refund
    fund(alice, 5000)
    data = ordered_with_code(api, alice_key, emulator)
    assert cancel(api, alice_key, data["id"]).status_code == 200
    assert balance(alice).balance_cents == 5000

    # then the supplier activation was closed before the refund: no further SMS can arrive
    assert emulator.get_activation("acme-upstream", data["activation_id"])["activation_status"] == "finalized"
    # and retry / finalize are refused for good
    assert_error(api.post(f"/api/v1/activations/{data['id']}/retry", HTTP_X_API_KEY=alice_key), 409, "not_retriable")
    assert_error(
        api.post(f"/api/v1/activations/{data['id']}/finalize", HTTP_X_API_KEY=alice_key), 409, "not_finalizable"
    )
    detail = api.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=alice_key).json()["data"]
    assert (detail["activation_status"], detail["billing_status"], detail["is_retriable"]) == (
        "finalized",
        "refunded",
        False,
    )
    assert balance(alice).balance_cents == 5000
    call_command("verify_ledger")


def test_case1_no_refund_is_posted_when_the_supplier_cannot_close_the_number(api, emulator, alice, alice_key, fund):
    fund(alice, 5000)
    data = ordered_with_code(api, alice_key, emulator)
    charged = balance(alice).balance_cents
    emulator.add_fault(kind="error", endpoint="finalize_activation", probability=1)

    assert_error(cancel(api, alice_key, data["id"]), 503, "upstream_unavailable")

    assert balance(alice).balance_cents == charged  # nothing refunded while the number can still get SMS
    activation = Activation.objects.get(pk=data["id"])
    assert (activation.activation_status, activation.billing_status) == ("active", "billed")
    # once the supplier answers again, the same cancel refunds
    emulator.clear_faults()
    assert cancel(api, alice_key, data["id"]).status_code == 200
    assert balance(alice).balance_cents == 5000


def test_case1_the_refund_is_booked_as_a_refund_loss_of_the_tenant(api, emulator, tenant, alice, alice_key, fund):
    fund(alice, 5000)
    data = ordered_with_code(api, alice_key, emulator)

    cancel(api, alice_key, data["id"])

    money = wallet_selectors.reference_money(tenant=tenant, reference=f"activation:{data['id']}")
    assert (money.charged_cents, money.refunded_cents) == (data["sell_price_cents"], data["sell_price_cents"])
    assert (money.upstream_cost_cents, money.refund_loss_cents) == (0, data["price_cents"])
    assert money.margin_cents == -data["price_cents"]  # a booked, named loss
    loss = Account.objects.get(tenant=tenant, type=Account.Type.TENANT_REFUND_LOSS)
    assert loss.balance_cents == data["price_cents"]
    call_command("verify_ledger")


def test_case1_an_approved_report_after_the_refund_cancels_the_loss(api, emulator, tenant, alice, alice_key, fund):
    fund(alice, 5000)
    data = ordered_with_code(api, alice_key, emulator)
    cancel(api, alice_key, data["id"])
    filed = api.post(
        f"/api/v1/activations/{data['id']}/report", {"reason_id": 2, "message": "wrong"}, HTTP_X_API_KEY=alice_key
    )
    assert filed.json()["data"]["status"] == "accepted", filed.content

    emulator.decide_report(data["activation_id"], approve=True)
    age(data["id"])
    api.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=alice_key)

    money = wallet_selectors.reference_money(tenant=tenant, reference=f"activation:{data['id']}")
    assert (money.upstream_cost_cents, money.refund_loss_cents, money.margin_cents) == (0, 0, 0)
    assert balance(alice).balance_cents == 5000  # the user is not refunded twice
    call_command("verify_ledger")


def test_case1_refunds_after_the_sms_are_limited_per_user_per_day(api, emulator, tenant, alice, alice_key, bob, fund):
    # given a storefront allowing 2 refunds after the SMS per user per day
    Tenant.objects.filter(pk=tenant.pk).update(max_refunds_after_sms_per_day=2, max_active_activations_per_user=10)
    fund(alice, 5000)
    refunded = [ordered_with_code(api, alice_key, emulator, code=f"{n}{n}{n}") for n in range(2)]
    for data in refunded:
        assert cancel(api, alice_key, data["id"]).status_code == 200
    third = ordered_with_code(api, alice_key, emulator, code="333")
    before = balance(alice).balance_cents

    # when
    body = assert_error(cancel(api, alice_key, third["id"]), 409, "refund_limit")

    # then: a clear reason, nothing refunded, the number still works for the user
    assert "2 numbers" in body["error"] and "24 hours" in body["error"]
    assert balance(alice).balance_cents == before
    assert Activation.objects.get(pk=third["id"]).billing_status == "billed"
    # and bob, in the same storefront, is not affected
    from accounts.services import api_key_create

    bob_key = api_key_create(user=bob).raw_key
    fund(bob, 5000)
    assert cancel(api, bob_key, ordered_with_code(api, bob_key, emulator)["id"]).status_code == 200


def test_case1_honest_use_keeps_the_documents_refund(api, emulator, alice, alice_key, fund):
    """Canceling a number whose code did not help (the document's "abandon" case) still refunds at once."""
    fund(alice, 5000)
    data = ordered_with_code(api, alice_key, emulator)
    assert cancel(api, alice_key, data["id"]).json() == {"ok": True, "data": {"result": "canceled"}}
    assert balance(alice).balance_cents == 5000


def test_case1_a_cancel_cut_short_after_the_close_is_finished_by_the_next_one(
    api, emulator, tenant, alice, alice_key, fund, monkeypatch
):
    """The supplier closed the number, then the request died before the refund (or a second cancel came in
    between): the next cancel refunds, once, instead of calling the activation finished."""
    from activations.services import actions

    fund(alice, 5000)
    data = ordered_with_code(api, alice_key, emulator)
    charged = balance(alice).balance_cents
    real_refund = actions._refund_after_sms

    def crash(activation, *, actor):
        raise RuntimeError("worker killed between the supplier's close and the refund")

    monkeypatch.setattr(actions, "_refund_after_sms", crash)
    with pytest.raises(RuntimeError):
        actions.activation_cancel(activation=Activation.objects.get(pk=data["id"]), actor="user:test")
    activation = Activation.objects.get(pk=data["id"])
    assert (activation.activation_status, activation.billing_status) == ("finalized", "billed")
    assert balance(alice).balance_cents == charged
    monkeypatch.setattr(actions, "_refund_after_sms", real_refund)

    # when the user cancels again (twice): refunded once
    assert cancel(api, alice_key, data["id"]).status_code == 200
    assert cancel(api, alice_key, data["id"]).status_code == 200
    assert balance(alice).balance_cents == 5000
    money = wallet_selectors.reference_money(tenant=tenant, reference=f"activation:{data['id']}")
    assert money.refunded_cents == data["sell_price_cents"]
    call_command("verify_ledger")


def test_case1_a_number_finished_without_a_cancel_is_not_refunded_by_one(api, emulator, alice, alice_key, fund):
    fund(alice, 5000)
    data = ordered_with_code(api, alice_key, emulator)
    assert api.post(f"/api/v1/activations/{data['id']}/finalize", HTTP_X_API_KEY=alice_key).status_code == 200
    charged = balance(alice).balance_cents

    assert_error(cancel(api, alice_key, data["id"]), 409, "not_cancelable")

    assert balance(alice).balance_cents == charged
