"""The tenant's limits (minimum, maximum, the daily cap per user) and manual transfers, from the form to the
operator's approval in the console."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEntry
from payments import services
from payments.errors import PaymentNotReviewable, TopupAmountOutOfRange, TopupDailyCap, TopupUnavailable
from payments.models import Payment
from tests.payments.conftest import balance
from tests.portal.conftest import ACME, host_client, verified
from wallet.models import JournalEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(alice):
    verified(alice)
    client = host_client(ACME)
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    return client


def start(user, amount_cents):
    return services.payment_start(
        user=user,
        amount_cents=amount_cents,
        return_url=lambda p: "http://acme.test/",
        notify_url=lambda provider: "http://acme.test/notify/",
    )


@pytest.mark.parametrize("amount", [499, 50_001, 0, -100])
def test_amounts_outside_the_tenants_range_are_refused(alice, acme_settings, amount):
    with pytest.raises(TopupAmountOutOfRange) as error:
        start(alice, amount)
    assert error.value.details == {"min_cents": 500, "max_cents": 50_000}
    assert not Payment.objects.exists()


def test_the_daily_cap_counts_open_and_paid_top_ups_per_user(alice, dave, acme_settings):
    start(alice, 15_000)
    with pytest.raises(TopupDailyCap) as error:
        start(alice, 5_001)
    assert error.value.details == {"cap_cents": 20_000, "remaining_cents": 5_000}
    start(alice, 5_000)  # exactly up to the cap
    start(dave, 20_000)  # another user has a cap of their own
    # failed and expired ones no longer count
    Payment.objects.filter(user=alice, amount_cents=5_000).update(status="failed")
    start(alice, 5_000)


def test_the_wallet_form_shows_the_limit_errors_in_dollars(alice_client, acme_settings):
    page = alice_client.post("/wallet/top-up/", {"amount": "600.00", "method": "checkout"})
    assert page.status_code == 400
    assert b"between $5.00 and $500.00" in page.content
    page = alice_client.post("/wallet/top-up/", {"amount": "abc", "method": "checkout"})
    assert page.status_code == 400 and not Payment.objects.exists()


def test_a_store_without_payment_settings_offers_only_its_instructions(alice_client, tenant):
    tenant.topup_instructions = "Wire to IBAN XX00"
    tenant.save()
    page = alice_client.get("/wallet/")
    assert b"data-topup-form" not in page.content and b"Wire to IBAN XX00" in page.content
    assert alice_client.post("/wallet/top-up/", {"amount": "10", "method": "checkout"}).status_code == 400
    assert not Payment.objects.exists()


def test_manual_transfers_need_the_switch_and_a_reference(alice, acme_settings):
    with pytest.raises(services.PaymentError):
        services.manual_topup_submit(user=alice, amount_cents=1000, reference="  ")
    acme_settings.manual_enabled = False
    acme_settings.save()
    with pytest.raises(TopupUnavailable):
        services.manual_topup_submit(user=alice, amount_cents=1000, reference="SEPA-123")


def test_a_reported_transfer_waits_for_an_operator_and_is_listed(alice_client, alice, acme_settings):
    response = alice_client.post("/wallet/top-up/", {"amount": "25", "method": "manual", "reference": "SEPA-777"})
    assert response.status_code == 302
    payment = Payment.objects.get(user=alice)
    assert (payment.provider, payment.status, payment.amount_cents) == ("manual", "pending", 2500)
    assert b"SEPA-777" in alice_client.get("/wallet/").content
    assert balance(alice) == 0
    # without a reference the form says so
    page = alice_client.post("/wallet/top-up/", {"amount": "25", "method": "manual", "reference": ""})
    assert page.status_code == 400 and Payment.objects.count() == 1


def test_the_operator_approves_a_transfer_in_the_console_once_and_is_recorded(
    staff_client, acme_staff, alice, acme_settings
):
    payment = services.manual_topup_submit(user=alice, amount_cents=2500, reference="SEPA-777")
    url = reverse("admin:payments_payment_approve", args=[payment.pk])
    assert staff_client.get(url).status_code == 200
    # the operator credits what actually arrived
    response = staff_client.post(url, {"amount_cents": "2400", "note": "bank statement 12/01"})
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == "paid" and payment.credited_cents == 2400 and payment.reviewed_by == acme_staff
    assert balance(alice) == 2400
    entry = JournalEntry.objects.get(idempotency_key=f"topup:manual:{payment.pk}")
    assert entry.actor == f"operator:{acme_staff.pk}"
    audit = AuditEntry.objects.get(action="payment.approve")
    assert audit.actor == acme_staff and audit.tenant_id == alice.tenant_id and audit.reason == "bank statement 12/01"
    # a second submission (another tab) changes nothing
    again = staff_client.post(url, {"amount_cents": "2400"})
    assert again.status_code == 200 and b"not waiting for a review" in again.content
    assert balance(alice) == 2400 and AuditEntry.objects.filter(action="payment.approve").count() == 1


def test_the_operator_rejects_a_transfer_with_a_reason(staff_client, alice, acme_settings):
    payment = services.manual_topup_submit(user=alice, amount_cents=2500, reference="SEPA-000")
    url = reverse("admin:payments_payment_reject", args=[payment.pk])
    assert staff_client.post(url, {"reason": ""}).status_code == 200  # the reason is required
    assert staff_client.post(url, {"reason": "No such transfer arrived"}).status_code == 302
    payment.refresh_from_db()
    assert payment.status == "failed" and payment.failure_reason == "No such transfer arrived"
    assert balance(alice) == 0 and AuditEntry.objects.filter(action="payment.reject").count() == 1
    with pytest.raises(PaymentNotReviewable):
        services.manual_topup_approve(payment=payment, operator=alice)


def test_another_tenants_staff_cannot_review_it(client, globex_staff, alice, acme_settings):
    payment = services.manual_topup_submit(user=alice, amount_cents=2500, reference="SEPA-777")
    client.force_login(globex_staff)
    for action in ("approve", "reject"):
        response = client.post(reverse(f"admin:payments_payment_{action}", args=[payment.pk]), {"amount_cents": "1"})
        assert response.status_code in (302, 404)
    payment.refresh_from_db()
    assert payment.status == "pending" and balance(alice) == 0


def test_only_manual_top_ups_can_be_approved(staff_client, alice, acme_settings):
    payment = start(alice, 1000)
    assert staff_client.get(reverse("admin:payments_payment_approve", args=[payment.pk])).status_code == 404
    with pytest.raises(PaymentNotReviewable):
        services.manual_topup_approve(payment=payment, operator=alice)


def test_the_settings_screen_keeps_secrets_write_only(staff_client, acme_settings):
    url = reverse("admin:payments_paymentsettings_change", args=[acme_settings.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    assert acme_settings.stripe_secret_key.encode() not in page.content
    assert acme_settings.demo_secret.encode() not in page.content
    data = {
        "provider": "stripe",
        "manual_enabled": "on",
        "min_amount_cents": "300",
        "max_amount_cents": "10000",
        "daily_cap_cents": "30000",
        "expire_after_minutes": "60",
        "cryptomus_merchant_id": acme_settings.cryptomus_merchant_id,
        "stripe_secret_key": "",  # empty keeps the stored value
        "stripe_webhook_secret": "",
        "cryptomus_api_key": "",
        "demo_secret": "",
    }
    assert staff_client.post(url, data).status_code == 302
    acme_settings.refresh_from_db()
    assert acme_settings.provider == "stripe" and acme_settings.min_amount_cents == 300
    assert acme_settings.stripe_secret_key.startswith("sk_test_acme")  # kept
    audit = AuditEntry.objects.filter(target_type="payments.paymentsettings").latest("id")
    assert "sk_test" not in str(audit.after) and "sk_test" not in str(audit.before)
    # the minimum above the maximum is refused on the form
    assert staff_client.post(url, {**data, "min_amount_cents": "20000"}).status_code == 200
