"""Stripe Checkout, through the official ``stripe`` library.

A Checkout Session per payment (USD cents, one line item); the wallet is credited on the signed
``checkout.session.completed`` webhook (or ``async_payment_succeeded`` for delayed methods), verified by
``stripe.Webhook.construct_event`` (Stripe's documented scheme: HMAC-SHA256 of "timestamp.payload", 5-minute
tolerance). Refunds (``charge.refunded``, cumulative) and disputes (``charge.dispute.created``, and
``charge.dispute.closed`` when won) are reported against the session's payment intent.
``settings.PAYMENTS_STRIPE_API_BASE`` points the client elsewhere (the tests' local fake server); in production
it is Stripe's own.
"""

from __future__ import annotations

import time
from typing import Any

import stripe
from django.conf import settings

from payments.errors import InvalidNotification, PaymentProviderUnavailable
from payments.providers.base import Checkout, Incoming, Notification

SESSION_STATUS = {
    "checkout.session.async_payment_succeeded": "paid",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "expired",
}


class StripeProvider:
    name = "stripe"

    def __init__(self, *, secret_key: str, webhook_secret: str, expires_in_minutes: int = 60) -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        # Stripe accepts a session lifetime of 30 minutes to 24 hours; ours expires the payment at the same time.
        self.expires_in_minutes = max(30, min(expires_in_minutes, 24 * 60))

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.secret_key,
            base_addresses={"api": settings.PAYMENTS_STRIPE_API_BASE},
            max_network_retries=1,
        )

    def create_checkout(self, *, payment: Any, return_url: str, notify_url: str) -> Checkout:
        separator = "&" if "?" in return_url else "?"
        try:
            session = self.client().v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": "usd",
                                "unit_amount": payment.amount_cents,
                                "product_data": {"name": "Wallet top-up"},
                            },
                        }
                    ],
                    "client_reference_id": str(payment.public_id),
                    "metadata": {"payment": str(payment.public_id)},
                    "success_url": return_url,
                    "expires_at": int(time.time()) + self.expires_in_minutes * 60,
                    "cancel_url": f"{return_url}{separator}canceled=1",
                },
                options={"idempotency_key": f"checkout-{payment.public_id}"},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderUnavailable() from exc
        if not session.id or not session.url:
            raise PaymentProviderUnavailable()
        return Checkout(redirect_url=session.url, provider_txn_id=session.id)

    def verify_notification(self, incoming: Incoming) -> Notification | None:
        try:
            event = stripe.Webhook.construct_event(
                incoming.body.decode("utf-8"), incoming.header("Stripe-Signature"), self.webhook_secret
            )
        except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError):
            raise InvalidNotification() from None
        try:
            return self._notification(event.to_dict())
        except (KeyError, TypeError, AttributeError, ValueError):
            raise InvalidNotification("The event's shape is not Stripe's.") from None

    @staticmethod
    def _notification(event: dict[str, Any]) -> Notification | None:
        kind, obj, payload = event["type"], event["data"]["object"], event
        if kind.startswith("checkout.session.") and obj.get("currency", "usd") != "usd":
            raise InvalidNotification("Only USD checkouts are accepted.")
        if kind == "checkout.session.completed" or kind in SESSION_STATUS:
            status = SESSION_STATUS.get(kind) or ("paid" if obj["payment_status"] == "paid" else "pending")
            return Notification(
                event_id=event["id"],
                kind="payment",
                provider_txn_id=obj["id"],
                status=status,  # type: ignore[arg-type]
                amount_cents=int(obj.get("amount_total") or 0),
                charge_id=str(obj.get("payment_intent") or ""),
                payload=payload,
            )
        if kind == "charge.refunded":
            return Notification(
                event_id=event["id"],
                kind="refund",
                amount_cents=int(obj["amount_refunded"]),
                charge_id=str(obj["payment_intent"]),
                reversal_ref=f"refunded-total:{int(obj['amount_refunded'])}",
                payload=payload,
            )
        if kind == "charge.dispute.created":
            return Notification(
                event_id=event["id"],
                kind="dispute",
                amount_cents=int(obj["amount"]),
                charge_id=str(obj["payment_intent"]),
                reversal_ref=str(obj["id"]),
                payload=payload,
            )
        if kind == "charge.dispute.closed" and obj["status"] == "won":
            return Notification(
                event_id=event["id"],
                kind="dispute_won",
                charge_id=str(obj["payment_intent"]),
                reversal_ref=str(obj["id"]),
                payload=payload,
            )
        return None
