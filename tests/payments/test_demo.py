"""The top-up path through the demo provider: the wallet page's form, the checkout page's Pay, the signed
notification, the credit (exactly once), and everything that must change nothing."""

from __future__ import annotations

import time

import pytest

from payments import services
from payments.models import Payment, PaymentEvent
from tests.payments.conftest import balance, demo_event, demo_headers
from tests.portal.conftest import ACME, host_client, verified
from wallet.models import JournalEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(alice):
    verified(alice)
    client = host_client(ACME)
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    return client


def start(user, amount_cents=1500) -> Payment:
    return services.payment_start(
        user=user,
        amount_cents=amount_cents,
        return_url=lambda p: f"http://acme.test/wallet/top-up/{p.public_id}/",
        notify_url=lambda provider: f"http://acme.test/payments/acme/{provider}/notify/",
    )


def test_a_user_tops_up_through_the_demo_checkout_end_to_end(alice_client, alice, acme_settings):
    # given the wallet page offers the form
    page = alice_client.get("/wallet/")
    assert b"data-topup-form" in page.content and b"$5.00" in page.content  # the minimum is shown
    # when alice asks for $12.50 she is sent to the demo checkout
    response = alice_client.post("/wallet/top-up/", {"amount": "12.50", "method": "checkout"})
    assert response.status_code == 302
    payment = Payment.objects.get(user=alice)
    assert payment.status == "pending" and payment.amount_cents == 1250
    assert response["Location"].startswith(f"/payments/demo/checkout/{payment.public_id}/")
    # the wallet lists it as pending, and nothing is credited yet
    assert str(payment.public_id).encode() in alice_client.get("/wallet/").content
    assert balance(alice) == 0
    checkout = alice_client.get(response["Location"])
    assert checkout.status_code == 200 and b"$12.50" in checkout.content
    # when she presses Pay
    back = alice_client.post(response["Location"], {"action": "pay"})
    # then the signed notification credited the wallet once, and she is back on the store's status page
    assert back.status_code == 302 and back["Location"] == f"http://acme.test/wallet/top-up/{payment.public_id}/"
    payment.refresh_from_db()
    assert payment.status == "paid" and payment.credited_cents == 1250
    assert balance(alice) == 1250
    status = alice_client.get(f"/wallet/top-up/{payment.public_id}/")
    assert b'data-topup-status="paid"' in status.content
    # and pressing Pay again (a second tab) changes nothing
    assert alice_client.post(response["Location"], {"action": "pay"}).status_code == 404
    assert balance(alice) == 1250
    assert JournalEntry.objects.filter(kind="deposit", idempotency_key=payment.deposit_key).count() == 1


def test_the_return_page_credits_nothing_by_itself(alice_client, alice, acme_settings):
    payment = start(alice)
    for _ in range(3):
        page = alice_client.get(f"/wallet/top-up/{payment.public_id}/")
        assert b'data-topup-status="pending"' in page.content
    assert balance(alice) == 0


def test_cancel_on_the_checkout_fails_the_payment_and_credits_nothing(alice_client, alice, acme_settings):
    payment = start(alice)
    alice_client.post(f"/payments/demo/checkout/{payment.public_id}/", {"action": "cancel"})
    payment.refresh_from_db()
    assert payment.status == "failed" and balance(alice) == 0


def test_a_signed_notification_credits_once_and_its_replay_changes_nothing(notify, alice, acme_settings):
    payment = start(alice)
    body = demo_event(payment.provider_txn_id, 1500)
    first = notify("acme", "demo", body, **demo_headers(body, acme_settings.demo_secret))
    assert first.status_code == 200 and first.json()["data"]["outcome"] == "credited 1500 cents"
    replay = notify("acme", "demo", body, **demo_headers(body, acme_settings.demo_secret))
    assert replay.status_code == 200 and replay.json()["data"]["outcome"].startswith("duplicate")
    # the same payment paid under another event id (a provider's retry with a new id) credits nothing either
    other = demo_event(payment.provider_txn_id, 1500, event_id="evt_demo_2")
    assert (
        notify("acme", "demo", other, **demo_headers(other, acme_settings.demo_secret))
        .json()["data"]["outcome"]
        .startswith("already paid")
    )
    assert balance(alice) == 1500
    assert PaymentEvent.objects.filter(payment=payment).count() == 2


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda body, secret: (body, demo_headers(body, "not-the-secret")), id="forged"),
        pytest.param(
            lambda body, secret: (body.replace(b"1500", b"9900"), demo_headers(body, secret)), id="tampered-amount"
        ),
        pytest.param(lambda body, secret: (body, demo_headers(body, secret, int(time.time()) - 3600)), id="stale"),
        pytest.param(lambda body, secret: (body, {}), id="unsigned"),
        pytest.param(lambda body, secret: (b"{not json", demo_headers(b"{not json", secret)), id="malformed"),
    ],
)
def test_forged_tampered_stale_or_malformed_notifications_change_nothing(notify, alice, acme_settings, mangle):
    payment = start(alice)
    body, headers = mangle(demo_event(payment.provider_txn_id, 1500), acme_settings.demo_secret)
    response = notify("acme", "demo", body, **headers)
    assert response.status_code == 400 and response.json()["code"] == "invalid_notification"
    payment.refresh_from_db()
    assert payment.status == "pending" and balance(alice) == 0
    assert not PaymentEvent.objects.exists()


def test_a_notification_signed_for_another_tenant_changes_nothing(notify, alice, acme_settings, globex_settings):
    payment = start(alice)
    body = demo_event(payment.provider_txn_id, 1500)
    # signed with globex's secret, sent to globex's endpoint: verified there, but acme's payment is not globex's
    response = notify("globex", "demo", body, **demo_headers(body, globex_settings.demo_secret))
    assert response.json()["data"]["outcome"].startswith("unmatched")
    # signed with globex's secret, sent to acme's endpoint: forged
    assert notify("acme", "demo", body, **demo_headers(body, globex_settings.demo_secret)).status_code == 400
    assert balance(alice) == 0


def test_out_of_order_failure_after_payment_changes_nothing(notify, alice, acme_settings):
    payment = start(alice)
    secret = acme_settings.demo_secret
    paid = demo_event(payment.provider_txn_id, 1500, event_id="evt_a")
    failed = demo_event(payment.provider_txn_id, 1500, event_id="evt_b", type="payment.failed")
    expired = demo_event(payment.provider_txn_id, 1500, event_id="evt_c", type="payment.expired")
    notify("acme", "demo", paid, **demo_headers(paid, secret))
    assert "nothing changed" in notify("acme", "demo", failed, **demo_headers(failed, secret)).json()["data"]["outcome"]
    assert (
        "nothing changed" in notify("acme", "demo", expired, **demo_headers(expired, secret)).json()["data"]["outcome"]
    )
    payment.refresh_from_db()
    assert payment.status == "paid" and balance(alice) == 1500


def test_a_verified_payment_after_expiry_still_credits_the_money_that_arrived(notify, alice, acme_settings):
    payment = start(alice)
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - services.timedelta(days=2))
    assert services.payments_expire_stale() == 1
    body = demo_event(payment.provider_txn_id, 1500)
    notify("acme", "demo", body, **demo_headers(body, acme_settings.demo_secret))
    payment.refresh_from_db()
    assert payment.status == "paid" and balance(alice) == 1500


def test_unknown_store_or_provider_is_404(notify, acme_settings):
    body = demo_event("demo_x", 100)
    assert notify("nosuch", "demo", body).status_code == 404
    assert notify("acme", "paypal", body).status_code == 404
    assert notify("acme", "manual", body).status_code == 404


def test_the_notify_endpoint_takes_only_post(client, acme_settings):
    assert client.get("/payments/acme/demo/notify/").status_code == 405


def test_another_users_top_up_page_is_404(alice, bob, acme_settings):
    payment = start(alice)
    verified(bob)
    client = host_client(ACME)
    client.force_login(bob, backend="accounts.backends.TenantEmailBackend")
    assert client.get(f"/wallet/top-up/{payment.public_id}/").status_code == 404
    assert client.get("/wallet/top-up/not-a-uuid/").status_code == 404


def test_the_demo_provider_is_refused_where_it_is_not_switched_on(settings, alice_client, alice, acme_settings, notify):
    payment = start(alice)
    settings.PAYMENTS_DEMO_PROVIDER = False
    # no new checkout, no notification, no Pay: it would be free money in production
    page = alice_client.post("/wallet/top-up/", {"amount": "12.50", "method": "checkout"})
    assert page.status_code == 400 and b"not offered" in page.content
    body = demo_event(payment.provider_txn_id, 1500)
    assert notify("acme", "demo", body, **demo_headers(body, acme_settings.demo_secret)).status_code == 404
    assert alice_client.post(f"/payments/demo/checkout/{payment.public_id}/", {"action": "pay"}).status_code == 404
    assert balance(alice) == 0
