"""Signing and verifying Platfone webhooks.

The upstream documents the headers (`x-webhook-id`, `x-timestamp`, `x-signature`) but not how the signature
is computed. We assume the common scheme: hex HMAC-SHA256, keyed with the webhook secret, over
`"{webhook_id}.{timestamp}."` followed by the raw body bytes. If the real upstream differs, only `sign`
changes: the verifier and the emulator's sender both go through it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from platfone.types import Activation, ParseError

DEFAULT_TOLERANCE = 300
# The events whose payload is an activation snapshot.
ACTIVATION_EVENTS = frozenset({"activation.updated", "activation_report.updated", "alternative.activation.updated"})
LOW_BALANCE_EVENT = "account.low_balance"
EVENT_TYPES = ACTIVATION_EVENTS | {LOW_BALANCE_EVENT}


def sign(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `f"{webhook_id}.{timestamp}."` + body."""
    message = f"{webhook_id}.{timestamp}.".encode() + bytes(body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a sender attaches to `body`."""
    return {
        "Content-Type": "application/json",
        "x-webhook-id": webhook_id,
        "x-timestamp": str(timestamp),
        "x-signature": sign(secret, webhook_id, timestamp, body),
    }


def _parse_timestamp(timestamp: Any) -> int | None:
    if isinstance(timestamp, bool):
        return None
    if isinstance(timestamp, int):
        return timestamp
    if isinstance(timestamp, str):
        text = timestamp.strip()
        digits = text[1:] if text[:1] == "-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 12:
            return int(text)
    return None


def verify(
    secret: str,
    webhook_id: str,
    timestamp: int | str,
    signature: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """True only for a correctly signed body whose timestamp is within `tolerance` seconds of `now`.

    Never raises: any missing, malformed or non-ASCII input is simply "not verified".
    """
    try:
        if not secret or not isinstance(secret, str) or not isinstance(webhook_id, str) or not webhook_id:
            return False
        if not isinstance(signature, str) or not signature.isascii():
            return False
        if isinstance(body, str):
            body = body.encode()
        if not isinstance(body, bytes | bytearray | memoryview):
            return False
        parsed = _parse_timestamp(timestamp)
        if parsed is None:
            return False
        current = time.time() if now is None else now
        # Both directions: a far-future timestamp would otherwise make a captured request replayable for long.
        if abs(current - parsed) > tolerance:
            return False
        expected = sign(secret, webhook_id, parsed, bytes(body))
        return hmac.compare_digest(expected, signature.strip().lower())
    except Exception:  # a verifier must answer False, never crash the webhook view
        return False


@dataclass(frozen=True)
class WebhookEvent:
    """A parsed webhook body. `activation` is set when the payload is an activation object."""

    id: str
    api_version: str
    type: str
    data: Mapping[str, Any]
    activation: Activation | None
    balance: int | None


def parse_event(body: bytes) -> WebhookEvent:
    """Parse a (verified) webhook body; raises `ParseError` (a ValueError) when it is not a webhook event."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ParseError("webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise ParseError("webhook body is not an object")
    event_id, api_version, kind, data = (payload.get(k) for k in ("id", "api_version", "type", "data"))
    if not isinstance(event_id, str) or not event_id:
        raise ParseError("webhook event without an id")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise ParseError(f"unknown webhook event type {kind!r}")
    if not isinstance(data, dict):
        raise ParseError("webhook event without a data object")
    nested = data.get("activation")
    activation_data: dict[str, Any] = nested if isinstance(nested, dict) else data
    activation = None
    if kind in ACTIVATION_EVENTS:
        activation = Activation.from_json(activation_data)
    elif "activation_id" in activation_data:
        # The doc's low-balance example carries activation fields; use them when complete, never fail on them.
        try:
            activation = Activation.from_json(activation_data)
        except ParseError:
            activation = None
    balance = data.get("balance")
    return WebhookEvent(
        id=event_id,
        api_version=api_version if isinstance(api_version, str) else "",
        type=kind,
        data=data,
        activation=activation,
        balance=balance if isinstance(balance, int) and not isinstance(balance, bool) else None,
    )
