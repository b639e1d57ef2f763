"""Cryptomus, offline: invoices created against a local fake of its API (requests signed
md5(base64(body) + key)), callbacks signed with its documented scheme; under- and over-payments."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from payments import services
from payments.models import Payment
from tests.payments.conftest import CRYPTOMUS_KEY, CRYPTOMUS_MERCHANT, balance, cryptomus_callback

pytestmark = pytest.mark.django_db

INVOICE = "a4b1e3d2-5c6f-4a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
def cryptomus_api(fake_api, settings, acme_settings):
    def answer(path, body, headers):
        request = json.loads(body)
        return 200, {
            "state": 0,
            "result": {
                "uuid": INVOICE,
                "order_id": request["order_id"],
                "amount": request["amount"],
                "currency": "USD",
                "url": f"https://pay.cryptomus.com/pay/{INVOICE}",
                "payment_status": "check",
                "is_final": False,
            },
        }

    server = fake_api(answer)
    settings.PAYMENTS_CRYPTOMUS_API_BASE = server.base
    acme_settings.provider = "cryptomus"
    acme_settings.save()
    return server


def start(user, amount_cents=2500) -> Payment:
    return services.payment_start(
        user=user,
        amount_cents=amount_cents,
        return_url=lambda p: f"http://acme.test/wallet/top-up/{p.public_id}/",
        notify_url=lambda provider: f"http://acme.test/payments/acme/{provider}/notify/",
    )


def callback(status: str, *, amount="25.00", paid_usd="25.00", is_final=True, order_id="x") -> dict:
    """The fields of a Cryptomus payment callback, in the order it sends them."""
    return {
        "type": "payment",
        "uuid": INVOICE,
        "order_id": order_id,
        "amount": amount,
        "payment_amount": paid_usd,
        "payment_amount_usd": paid_usd,
        "merchant_amount": paid_usd,
        "commission": "0.00",
        "is_final": is_final,
        "status": status,
        "from": "TXo2eYrWhpjfMS3ixxV5KfD4T7sCdTcDbb",
        "wallet_address_uuid": None,
        "network": "tron",
        "currency": "USD",
        "payer_currency": "USDT",
        "additional_data": "https://acme.test/wallet/",
        "txid": "6f0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d",
    }


def test_an_invoice_is_created_with_a_signed_request(cryptomus_api, alice):
    payment = start(alice)
    assert payment.provider_txn_id == INVOICE and payment.checkout_url == f"https://pay.cryptomus.com/pay/{INVOICE}"
    sent = cryptomus_api.requests[0]
    assert sent["path"] == "/v1/payment" and sent["headers"]["merchant"] == CRYPTOMUS_MERCHANT
    expected = hashlib.md5(base64.b64encode(sent["body"]) + CRYPTOMUS_KEY.encode()).hexdigest()
    assert sent["headers"]["sign"] == expected
    body = json.loads(sent["body"])
    assert body["amount"] == "25.00" and body["currency"] == "USD" and body["order_id"] == payment.public_id.hex
    assert body["url_callback"] == "http://acme.test/payments/acme/cryptomus/notify/"


def test_a_paid_callback_credits_the_invoice_once(cryptomus_api, alice, notify):
    payment = start(alice)
    body = cryptomus_callback(callback("paid"))
    assert notify("acme", "cryptomus", body).json()["data"]["outcome"] == "credited 2500 cents"
    assert notify("acme", "cryptomus", body).json()["data"]["outcome"].startswith("duplicate")
    payment.refresh_from_db()
    assert payment.status == "paid" and balance(alice) == 2500


def test_an_over_payment_credits_what_was_paid(cryptomus_api, alice, notify):
    start(alice)
    notify("acme", "cryptomus", cryptomus_callback(callback("paid_over", paid_usd="27.409")))
    assert balance(alice) == 2740  # rounded down: never a fraction of a cent that was not paid


def test_an_under_payment_waits_while_it_can_be_completed_then_credits_what_arrived(cryptomus_api, alice, notify):
    payment = start(alice)
    waiting = cryptomus_callback(callback("wrong_amount", paid_usd="10.00", is_final=False))
    assert notify("acme", "cryptomus", waiting).json()["data"]["outcome"].startswith("pending")
    assert balance(alice) == 0
    final = cryptomus_callback(callback("wrong_amount", paid_usd="10.00", is_final=True))
    assert notify("acme", "cryptomus", final).json()["data"]["outcome"] == "credited 1000 cents"
    payment.refresh_from_db()
    assert payment.status == "paid" and payment.credited_cents == 1000 and payment.amount_cents == 2500


def test_a_failed_invoice_credits_nothing_and_a_late_fail_after_paid_changes_nothing(cryptomus_api, alice, notify):
    payment = start(alice)
    notify("acme", "cryptomus", cryptomus_callback(callback("paid")))
    assert (
        "nothing changed"
        in notify("acme", "cryptomus", cryptomus_callback(callback("cancel"))).json()["data"]["outcome"]
    )
    payment.refresh_from_db()
    assert payment.status == "paid" and balance(alice) == 2500


def test_a_cancelled_invoice_fails_the_payment(cryptomus_api, alice, notify):
    payment = start(alice)
    notify("acme", "cryptomus", cryptomus_callback(callback("cancel", paid_usd="0.00")))
    payment.refresh_from_db()
    assert payment.status == "failed" and balance(alice) == 0


def test_a_refund_takes_the_top_up_back(cryptomus_api, alice, notify):
    payment = start(alice)
    notify("acme", "cryptomus", cryptomus_callback(callback("paid")))
    notify("acme", "cryptomus", cryptomus_callback(callback("refund_paid")))
    payment.refresh_from_db()
    assert balance(alice) == 0 and payment.reversed_cents == 2500


def tampered(body: bytes, old: bytes, new: bytes) -> bytes:
    assert old in body
    return body.replace(old, new)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda: cryptomus_callback(callback("paid"), api_key="someone-elses-key"), id="forged"),
        pytest.param(
            lambda: tampered(cryptomus_callback(callback("paid")), b'"amount": "25.00"', b'"amount": "2500.00"'),
            id="tampered-amount",
        ),
        pytest.param(lambda: json.dumps(callback("paid")).encode(), id="unsigned"),
        pytest.param(lambda: b"[]", id="not-an-object"),
    ],
)
def test_forged_or_tampered_callbacks_change_nothing(cryptomus_api, alice, notify, body):
    payment = start(alice)
    response = notify("acme", "cryptomus", body())
    assert response.status_code == 400 and response.json()["code"] == "invalid_notification"
    payment.refresh_from_db()
    assert payment.status == "pending" and balance(alice) == 0


def test_the_signature_covers_slashes_and_unicode_like_php(cryptomus_api, alice, notify):
    start(alice)
    fields = {**callback("paid"), "additional_data": "Zahlung für https://acme.test/wallet/"}
    assert notify("acme", "cryptomus", cryptomus_callback(fields)).status_code == 200
    assert balance(alice) == 2500
