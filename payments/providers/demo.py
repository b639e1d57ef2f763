"""The demo provider: a checkout page served by this installation, for ``make run`` and the tests.

Its notifications are signed like Stripe's (``X-Demo-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``
under the tenant's demo secret) and verified by the same rules as a real provider's: a bad signature, a timestamp
outside the tolerance or a malformed body is refused. The "Pay" button of the checkout page
(``payments.views.demo_checkout``) signs a notification and hands it to the same entry point a provider's HTTP
POST reaches, so the whole top-up path runs offline end to end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from payments.errors import InvalidNotification
from payments.providers.base import Checkout, Incoming, Notification, PaymentStatus

SIGNATURE_HEADER = "X-Demo-Signature"
TOLERANCE_SECONDS = 300
STATUSES: dict[str, PaymentStatus] = {
    "payment.succeeded": "paid",
    "payment.failed": "failed",
    "payment.expired": "expired",
}


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class DemoProvider:
    name = "demo"

    def __init__(self, *, secret: str) -> None:
        self.secret = secret

    def create_checkout(self, *, payment: Any, return_url: str, notify_url: str) -> Checkout:
        url = reverse("payments:demo-checkout", args=[payment.public_id])
        return Checkout(
            redirect_url=f"{url}?{urlencode({'return': return_url})}", provider_txn_id=f"demo_{payment.public_id.hex}"
        )

    def notification_for(self, *, provider_txn_id: str, amount_cents: int, event_type: str) -> Incoming:
        """What the demo "provider" sends when the user presses Pay (or Cancel): a signed notification."""
        body = json.dumps(
            {
                "id": f"evt_{secrets.token_hex(12)}",
                "type": event_type,
                "data": {"checkout_id": provider_txn_id, "amount_cents": amount_cents, "currency": "usd"},
            }
        ).encode()
        return Incoming(
            body=body, headers={SIGNATURE_HEADER: sign(body, self.secret), "Content-Type": "application/json"}
        )

    def verify_notification(self, incoming: Incoming) -> Notification | None:
        header = incoming.header(SIGNATURE_HEADER)
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise InvalidNotification("Missing or malformed signature header.") from None
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise InvalidNotification("The notification's timestamp is outside the tolerance (a replay?).")
        expected = sign(incoming.body, self.secret, timestamp).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise InvalidNotification("The notification's signature does not match.")
        try:
            event = json.loads(incoming.body)
            data = event["data"]
            event_id, event_type = str(event["id"]), str(event["type"])
            txn, amount, currency = str(data["checkout_id"]), data["amount_cents"], str(data.get("currency", ""))
        except (ValueError, KeyError, TypeError):
            raise InvalidNotification("The notification's body is malformed.") from None
        status = STATUSES.get(event_type)
        if status is None:
            return None
        if currency.lower() != "usd" or isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InvalidNotification("The notification's amount is not whole USD cents.")
        return Notification(
            event_id=event_id,
            kind="payment",
            provider_txn_id=txn,
            status=status,
            amount_cents=amount,
            payload=event,
        )
