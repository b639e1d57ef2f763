"""What an activation's change tells its owner: the customer events ``apply_upstream_state`` announces.

``apply_upstream_state`` notes the activation's state right after locking it (``observe``) and, once the change
and its settlement are done, announces what changed (``announce``) through the base layer's outbox, inside the
same transaction: a rolled-back change announces nothing. Each event's key names the change itself
(``activation:42:sms_received``, ``activation:42:retry_received:<upstream updated_at>`` ...), so applying the
same state again, from a poll racing a webhook, announces nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activations.models import Activation
from core import events
from platfone.types import ActivationStatus, SmsStatus


@dataclass(frozen=True)
class Observed:
    """The parts of an activation's state that customer events are about."""

    sms_received: bool
    sms_status: str
    sms_code: str | None
    sms_text: str | None
    activation_status: str
    billing_status: str


def observe(activation: Activation) -> Observed:
    return Observed(
        sms_received=activation.sms_received_at is not None,
        sms_status=activation.sms_status,
        sms_code=activation.sms_code,
        sms_text=activation.sms_text,
        activation_status=activation.activation_status,
        billing_status=activation.billing_status,
    )


def announce(before: Observed, activation: Activation) -> None:
    """Emit one event per change between ``before`` and the activation as it is now (both under the row lock)."""
    after = observe(activation)
    changes: list[tuple[str, str]] = []
    if after.sms_received and not before.sms_received:
        changes.append((events.ACTIVATION_SMS_RECEIVED, "sms_received"))
    if after.sms_status == SmsStatus.RETRY_RECEIVED and (
        before.sms_status != SmsStatus.RETRY_RECEIVED
        or (before.sms_code, before.sms_text) != (after.sms_code, after.sms_text)
    ):
        # Several retries may follow one another: the upstream's updated_at tells them apart.
        changes.append((events.ACTIVATION_RETRY_RECEIVED, f"retry_received:{activation.upstream_updated_at}"))
    if after.activation_status != before.activation_status:
        if after.activation_status == ActivationStatus.EXPIRED:
            changes.append((events.ACTIVATION_EXPIRED, "expired"))
        elif after.activation_status == ActivationStatus.CANCELED:
            changes.append((events.ACTIVATION_CANCELED, "canceled"))
    if after.billing_status == Activation.BillingStatus.REFUNDED != before.billing_status:
        changes.append((events.ACTIVATION_REFUNDED, "refunded"))
    if not changes:
        return
    payload = {"activation": activation_payload(activation)}
    for event_type, change in changes:
        events.emit(
            key=f"activation:{activation.pk}:{change}",
            type=event_type,
            tenant_id=activation.tenant_id,
            user_id=activation.user_id,
            payload=payload,
            ordering_key=f"activation:{activation.pk}",
        )


def activation_payload(activation: Activation) -> dict[str, Any]:
    """The activation as a customer event shows it (the JSON API's names; timestamps in Unix seconds)."""
    return {
        "id": activation.pk,
        "activation_id": activation.upstream_id,
        "phone": activation.phone,
        "service_id": activation.service_id,
        "country_id": activation.country_id,
        "sell_price_cents": activation.sell_price_cents,
        "sms_status": activation.sms_status,
        "activation_status": activation.activation_status,
        "billing_status": activation.billing_status,
        "sms_code": activation.sms_code,
        "sms_text": activation.sms_text,
        "expire_at": None if activation.expire_at is None else int(activation.expire_at.timestamp()),
    }
