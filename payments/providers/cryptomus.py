"""Cryptomus invoices and their signed callbacks (the documented scheme, written and tested here).

Every request and callback is signed ``md5(base64(json) + payment API key)``. Requests sign the exact JSON body
sent. Callbacks carry ``sign`` inside the JSON: it is removed and the rest re-encoded the way Cryptomus's PHP
encodes it (``json_encode(..., JSON_UNESCAPED_UNICODE)``: compact, "/" escaped as "\\/"), in the order received.

Statuses: ``paid`` credits the invoice amount; ``paid_over`` credits what was actually paid in USD
(``payment_amount_usd``, the user's money); ``wrong_amount`` (an under-payment) credits what arrived once the
invoice is final (``is_final``), and waits while Cryptomus still lets the payer complete it; ``fail``,
``cancel`` and ``system_fail`` fail the payment; ``refund_paid`` takes the top-up back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import requests
from django.conf import settings

from payments.errors import InvalidNotification, PaymentProviderUnavailable
from payments.providers.base import (
    Checkout,
    Incoming,
    Notification,
    PaymentStatus,
    cents_to_dollars,
    dollars_to_cents,
)

TIMEOUT = (3.05, 15)
FAILED = {"fail", "cancel", "system_fail"}


def sign_body(body: bytes, api_key: str) -> str:
    return hashlib.md5(base64.b64encode(body) + api_key.encode(), usedforsecurity=False).hexdigest()


def callback_encoding(data: dict[str, Any]) -> bytes:
    """The bytes Cryptomus signs a callback over (PHP's json_encode with JSON_UNESCAPED_UNICODE)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/").encode()


class CryptomusProvider:
    name = "cryptomus"

    def __init__(self, *, merchant_id: str, api_key: str) -> None:
        self.merchant_id = merchant_id
        self.api_key = api_key

    def create_checkout(self, *, payment: Any, return_url: str, notify_url: str) -> Checkout:
        body = json.dumps(
            {
                "amount": cents_to_dollars(payment.amount_cents),
                "currency": "USD",
                "order_id": payment.public_id.hex,
                "url_callback": notify_url,
                "url_return": return_url,
                "url_success": return_url,
            }
        ).encode()
        headers = {
            "merchant": self.merchant_id,
            "sign": sign_body(body, self.api_key),
            "Content-Type": "application/json",
        }
        try:
            response = requests.post(
                f"{settings.PAYMENTS_CRYPTOMUS_API_BASE.rstrip('/')}/v1/payment",
                data=body,
                headers=headers,
                timeout=TIMEOUT,
            )
            result = response.json().get("result") if response.status_code == 200 else None
            uuid, url = (result or {}).get("uuid"), (result or {}).get("url")
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise PaymentProviderUnavailable() from exc
        if not isinstance(uuid, str) or not isinstance(url, str) or not url.startswith("https://"):
            raise PaymentProviderUnavailable()
        return Checkout(redirect_url=url, provider_txn_id=uuid)

    def verify_notification(self, incoming: Incoming) -> Notification | None:
        try:
            data = json.loads(incoming.body)
        except ValueError:
            raise InvalidNotification("The callback is not JSON.") from None
        if not isinstance(data, dict) or not isinstance(data.get("sign"), str):
            raise InvalidNotification("The callback is not signed.")
        received = data.pop("sign")
        if not hmac.compare_digest(sign_body(callback_encoding(data), self.api_key), received):
            raise InvalidNotification("The callback's signature does not match.")
        try:
            return self._notification(data)
        except (KeyError, TypeError):
            raise InvalidNotification("The callback's shape is not Cryptomus's.") from None

    @staticmethod
    def _notification(data: dict[str, Any]) -> Notification | None:
        if data.get("type") != "payment":
            return None
        uuid, status = str(data["uuid"]), str(data["status"])
        if str(data.get("currency", "")).upper() != "USD":
            raise InvalidNotification("Only USD invoices are accepted.")
        final = data.get("is_final") in (True, "true", 1)
        event_id = f"{uuid}:{status}:{data.get('payment_amount_usd') or data.get('payment_amount') or ''}:{final}"

        def payment(state: PaymentStatus, amount_cents: int = 0) -> Notification:
            return Notification(
                event_id=event_id,
                kind="payment",
                provider_txn_id=uuid,
                status=state,
                amount_cents=amount_cents,
                payload=data,
            )

        if status == "paid":
            return payment("paid", dollars_to_cents(data["amount"]))
        if status == "paid_over":
            return payment(
                "paid", max(dollars_to_cents(data["amount"]), dollars_to_cents(data.get("payment_amount_usd") or 0))
            )
        if status == "wrong_amount":
            if not final:
                return payment("pending")
            received = dollars_to_cents(data.get("payment_amount_usd") or 0)
            return payment("paid", received) if received > 0 else payment("failed")
        if status in FAILED:
            return payment("failed")
        if status == "refund_paid":
            return Notification(
                event_id=event_id, kind="refund", provider_txn_id=uuid, reversal_ref=f"refund:{uuid}", payload=data
            )
        return payment("pending")
