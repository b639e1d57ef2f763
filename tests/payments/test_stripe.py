"""Stripe Checkout, offline: the official client against a local fake of Stripe's API, webhooks signed with
Stripe's documented scheme on recorded payload shapes, verified by ``stripe.Webhook.construct_event``."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import pytest

from payments import services
from payments.errors import PaymentProviderUnavailable
from payments.models import Payment, PaymentReversal
from tests.payments.conftest import STRIPE_KEY, balance, stripe_event, stripe_session, stripe_signature
from wallet import services as wallet
from wallet.models import JournalEntry

pytestmark = pytest.mark.django_db

SESSION_ID = "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"
PI = "pi_3MtwBwLkdIwHu7ix28a3tqPa"


@pytest.fixture
def stripe_api(fake_api, settings, acme_settings):
    def answer(path, body, headers):
        if path != "/v1/checkout/sessions":
            return 404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}
        return 200, {
            "id": SESSION_ID,
            "object": "checkout.session",
            "amount_total": int(parse_qs(body.decode())["line_items[0][price_data][unit_amount]"][0]),
            "currency": "usd",
            "mode": "payment",
            "payment_status": "unpaid",
            "status": "open",
            "url": f"https://checkout.stripe.com/c/pay/{SESSION_ID}",
        }

    server = fake_api(answer)
    settings.PAYMENTS_STRIPE_API_BASE = server.base
    acme_settings.provider = "stripe"
    acme_settings.save()
    return server


def start(user, amount_cents=2000) -> Payment:
    return services.payment_start(
        user=user,
        amount_cents=amount_cents,
        return_url=lambda p: f"http://acme.test/wallet/top-up/{p.public_id}/",
        notify_url=lambda provider: f"http://acme.test/payments/acme/{provider}/notify/",
    )


def send(notify, body: bytes, **kwargs):
    return notify("acme", "stripe", body, HTTP_STRIPE_SIGNATURE=stripe_signature(body, **kwargs))


def post(notify, body: bytes, signature: str):
    return notify("acme", "stripe", body, **{"Stripe-Signature": signature})


def completed(amount=2000, event_id="evt_completed_1", **kwargs) -> bytes:
    return stripe_event("checkout.session.completed", stripe_session(SESSION_ID, amount, **kwargs), event_id=event_id)


def test_a_checkout_session_is_created_for_the_amount_in_usd_cents(stripe_api, alice):
    payment = start(alice, 2000)
    assert payment.status == "pending" and payment.provider_txn_id == SESSION_ID
    assert payment.checkout_url == f"https://checkout.stripe.com/c/pay/{SESSION_ID}"
    sent = stripe_api.requests[0]
    form = parse_qs(sent["body"].decode())
    assert form["mode"] == ["payment"] and form["line_items[0][price_data][currency]"] == ["usd"]
    assert form["line_items[0][price_data][unit_amount]"] == ["2000"]
    assert form["client_reference_id"] == [str(payment.public_id)]
    # the session expires with the tenant's checkout lifetime (60 minutes; Stripe's minimum is 30)
    assert abs(int(form["expires_at"][0]) - (time.time() + 3600)) < 60
    assert sent["headers"]["Authorization"] == f"Bearer {STRIPE_KEY}"
    assert sent["headers"]["Idempotency-Key"] == f"checkout-{payment.public_id}"
    assert balance(alice) == 0


def test_stripe_down_fails_the_payment_and_charges_nothing(fake_api, settings, acme_settings, alice):
    server = fake_api(lambda path, body, headers: (500, {"error": {"type": "api_error", "message": "boom"}}))
    settings.PAYMENTS_STRIPE_API_BASE = server.base
    acme_settings.provider = "stripe"
    acme_settings.save()
    with pytest.raises(PaymentProviderUnavailable):
        start(alice)
    assert Payment.objects.get().status == "failed"


def test_the_signed_completed_webhook_credits_once(stripe_api, alice, notify):
    payment = start(alice)
    body = completed()
    response = post(notify, body, stripe_signature(body))
    assert response.status_code == 200 and response.json()["data"]["outcome"] == "credited 2000 cents"
    payment.refresh_from_db()
    assert payment.status == "paid" and payment.provider_charge_id == PI and balance(alice) == 2000
    # replayed (Stripe retries the same event), and the async success of the same session: nothing more
    assert post(notify, body, stripe_signature(body)).json()["data"]["outcome"].startswith("duplicate")
    succeeded = stripe_event(
        "checkout.session.async_payment_succeeded", stripe_session(SESSION_ID, 2000), event_id="evt_async_1"
    )
    assert post(notify, succeeded, stripe_signature(succeeded)).json()["data"]["outcome"].startswith("already paid")
    assert balance(alice) == 2000
    assert JournalEntry.objects.filter(kind="deposit", idempotency_key=f"topup:stripe:{SESSION_ID}").count() == 1


def test_a_completed_but_unpaid_session_waits_for_the_async_result(stripe_api, alice, notify):
    payment = start(alice)
    body = completed(payment_status="unpaid")
    assert post(notify, body, stripe_signature(body)).json()["data"]["outcome"].startswith("pending")
    failed = stripe_event(
        "checkout.session.async_payment_failed",
        stripe_session(SESSION_ID, 2000, payment_status="unpaid"),
        event_id="evt_failed_1",
    )
    post(notify, failed, stripe_signature(failed))
    payment.refresh_from_db()
    assert payment.status == "failed" and balance(alice) == 0


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda body: stripe_signature(body, secret="whsec_someone_else"), id="forged"),
        pytest.param(lambda body: stripe_signature(body, timestamp=int(time.time()) - 3600), id="replayed-late"),
        pytest.param(lambda body: "", id="unsigned"),
        pytest.param(lambda body: "t=1,v1=deadbeef", id="garbage"),
    ],
)
def test_forged_or_stale_webhooks_change_nothing(stripe_api, alice, notify, signature):
    payment = start(alice)
    body = completed()
    response = post(notify, body, signature(body))
    assert response.status_code == 400 and response.json()["code"] == "invalid_notification"
    payment.refresh_from_db()
    assert payment.status == "pending" and balance(alice) == 0


def test_a_tampered_amount_changes_nothing(stripe_api, alice, notify):
    start(alice)
    body = completed(2000)
    tampered = body.replace(b'"amount_total": 2000', b'"amount_total": 900000')
    assert tampered != body
    assert post(notify, tampered, stripe_signature(body)).status_code == 400
    assert balance(alice) == 0


def test_an_expired_event_after_payment_changes_nothing(stripe_api, alice, notify):
    payment = start(alice)
    body = completed()
    post(notify, body, stripe_signature(body))
    expired = stripe_event(
        "checkout.session.expired", stripe_session(SESSION_ID, 2000, payment_status="unpaid"), event_id="evt_exp"
    )
    assert "nothing changed" in post(notify, expired, stripe_signature(expired)).json()["data"]["outcome"]
    payment.refresh_from_db()
    assert payment.status == "paid" and balance(alice) == 2000


def charge_refunded(amount_refunded: int, event_id: str) -> bytes:
    charge = {
        "id": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "charge",
        "amount": 2000,
        "amount_refunded": amount_refunded,
        "currency": "usd",
        "payment_intent": PI,
        "refunded": amount_refunded == 2000,
        "status": "succeeded",
    }
    return stripe_event("charge.refunded", charge, event_id=event_id)


def dispute(amount: int, event_id: str = "evt_dispute_1", dispute_id: str = "dp_1MtwBwLkdIwHu7ix") -> bytes:
    obj = {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "charge": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
        "currency": "usd",
        "payment_intent": PI,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    return stripe_event("charge.dispute.created", obj, event_id=event_id)


def test_refunds_take_the_money_back_once_even_out_of_order(stripe_api, alice, notify):
    payment = start(alice)
    body = completed()
    post(notify, body, stripe_signature(body))
    # a partial refund of $5, then the full refund; the older (smaller) total arriving late changes nothing
    partial, full = charge_refunded(500, "evt_r1"), charge_refunded(2000, "evt_r2")
    post(notify, full, stripe_signature(full))
    assert balance(alice) == 0
    assert "nothing left" in post(notify, partial, stripe_signature(partial)).json()["data"]["outcome"]
    payment.refresh_from_db()
    assert payment.reversed_cents == 2000 and payment.exposure_cents == 0 and balance(alice) == 0
    assert JournalEntry.objects.filter(kind="deposit_reversal").count() == 1


def test_partial_refunds_add_up(stripe_api, alice, notify):
    start(alice)
    body = completed()
    post(notify, body, stripe_signature(body))
    for total, event_id in ((500, "evt_r1"), (1200, "evt_r2")):
        refunded = charge_refunded(total, event_id)
        post(notify, refunded, stripe_signature(refunded))
    assert balance(alice) == 800
    assert sorted(PaymentReversal.objects.values_list("amount_cents", flat=True)) == [500, 700]


def test_a_dispute_after_the_money_was_spent_leaves_a_visible_exposure_not_a_negative_wallet(stripe_api, alice, notify):
    payment = start(alice)
    body = completed()
    post(notify, body, stripe_signature(body))
    # alice spends $15 of the $20 (a charge to the tenant's revenue)
    hold = wallet.place_hold(user=alice, amount_cents=1500, idempotency_key="hold:a1", reference="activation:1")
    wallet.charge(hold_id=hold.pk, idempotency_key="charge:a1", description="a number", actor="test")
    body = dispute(2000)
    outcome = post(notify, body, stripe_signature(body)).json()["data"]["outcome"]
    assert outcome == "dispute of 2000 cents: 500 taken back, 1500 exposure"
    payment.refresh_from_db()
    assert balance(alice) == 0 and payment.exposure_cents == 1500 and payment.reversed_cents == 2000
    # replayed under another event id: the dispute is recorded once
    again = dispute(2000, event_id="evt_dispute_retry")
    assert "already recorded" in post(notify, again, stripe_signature(again)).json()["data"]["outcome"]
    assert payment.reversals.count() == 1


def test_a_won_dispute_restores_the_wallet_and_clears_the_exposure_once(stripe_api, alice, notify):
    payment = start(alice)
    body = completed()
    post(notify, body, stripe_signature(body))
    hold = wallet.place_hold(user=alice, amount_cents=1500, idempotency_key="hold:a1", reference="activation:1")
    wallet.charge(hold_id=hold.pk, idempotency_key="charge:a1", description="a number", actor="test")
    opened = dispute(2000)
    post(notify, opened, stripe_signature(opened))
    closed_obj = {
        "id": "dp_1MtwBwLkdIwHu7ix",
        "object": "dispute",
        "amount": 2000,
        "currency": "usd",
        "payment_intent": PI,
        "status": "won",
    }
    closed = stripe_event("charge.dispute.closed", closed_obj, event_id="evt_dispute_won")
    outcome = post(notify, closed, stripe_signature(closed)).json()["data"]["outcome"]
    assert outcome == "dispute won: 500 cents restored, 1500 exposure cleared"
    payment.refresh_from_db()
    assert balance(alice) == 500 and payment.exposure_cents == 0 and payment.reversed_cents == 0
    # the same closure sent under another id restores nothing more
    again = stripe_event("charge.dispute.closed", closed_obj, event_id="evt_dispute_won_2")
    assert "already reinstated" in post(notify, again, stripe_signature(again)).json()["data"]["outcome"]
    assert balance(alice) == 500
    # a lost dispute is acknowledged and changes nothing
    lost = stripe_event("charge.dispute.closed", {**closed_obj, "status": "lost"}, event_id="evt_dispute_lost")
    assert post(notify, lost, stripe_signature(lost)).json()["data"]["outcome"].startswith("ignored")


def test_money_held_for_an_order_is_not_taken_by_a_refund(stripe_api, alice, notify):
    payment = start(alice)
    body = completed()
    post(notify, body, stripe_signature(body))
    wallet.place_hold(user=alice, amount_cents=1500, idempotency_key="hold:a1", reference="activation:1")
    refunded = charge_refunded(2000, "evt_r1")
    post(notify, refunded, stripe_signature(refunded))
    payment.refresh_from_db()
    assert balance(alice) == 1500 and payment.exposure_cents == 1500  # the hold stays covered


def test_a_refund_before_its_payment_is_applied_when_sent_again_after_it(stripe_api, alice, notify):
    payment = start(alice)
    refunded = charge_refunded(2000, "evt_r1")
    # before any session event named the payment intent, the refund matches nothing of ours
    first = post(notify, refunded, stripe_signature(refunded))
    assert first.status_code == 200 and first.json()["data"]["outcome"].startswith("unmatched")
    # once the intent is known but the payment not paid yet, it is refused so that Stripe retries it
    pending = completed(payment_status="unpaid", event_id="evt_pending")
    post(notify, pending, stripe_signature(pending))
    early = post(notify, refunded, stripe_signature(refunded))
    assert early.status_code == 409 and early.json()["code"] == "payment_not_ready"
    body = completed()
    post(notify, body, stripe_signature(body))
    assert balance(alice) == 2000
    # Stripe retries the same event: now it applies, once
    assert post(notify, refunded, stripe_signature(refunded)).json()["data"]["outcome"].startswith("refund of 2000")
    assert post(notify, refunded, stripe_signature(refunded)).json()["data"]["outcome"].startswith("duplicate")
    payment.refresh_from_db()
    assert balance(alice) == 0 and payment.reversed_cents == 2000


def test_events_we_do_not_act_on_are_acknowledged(stripe_api, alice, notify):
    body = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    response = post(notify, body, stripe_signature(body))
    assert response.status_code == 200 and response.json()["data"]["outcome"].startswith("ignored")


def test_another_currency_is_refused(stripe_api, alice, notify):
    start(alice)
    session = {**stripe_session(SESSION_ID, 2000), "currency": "eur"}
    body = json.dumps(json.loads(stripe_event("checkout.session.completed", session))).encode()
    assert post(notify, body, stripe_signature(body)).status_code == 400
    assert balance(alice) == 0
