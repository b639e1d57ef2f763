"""Events for customers, written to the outbox in the same transaction as the change that causes them.

``emit`` is called by the one place that makes a change (``activations.services.settlement`` for activation
state, ``wallet.services`` for credits and low balances) inside its transaction, so:

- a rolled-back change is never announced (its outbox row is rolled back with it);
- a change is announced at most once (``key`` is unique per change: emitting it again inserts nothing);
- the ledger and the activations know nothing of webhooks: a consumer (the webhooks app) hears of each
  committed event through ``event_committed`` and delivers it; a periodic sweep picks up any event whose
  hand-over was lost (a crash between the commit and the signal), so delivery is at least once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from core.models import OutboxEvent

logger = logging.getLogger(__name__)

# The catalogue of customer events (what an endpoint can subscribe to).
ACTIVATION_SMS_RECEIVED = "activation.sms_received"
ACTIVATION_RETRY_RECEIVED = "activation.retry_received"
ACTIVATION_EXPIRED = "activation.expired"
ACTIVATION_CANCELED = "activation.canceled"
ACTIVATION_REFUNDED = "activation.refunded"
WALLET_LOW_BALANCE = "wallet.low_balance"
WALLET_CREDITED = "wallet.credited"
EVENT_TYPES = (
    ACTIVATION_SMS_RECEIVED,
    ACTIVATION_RETRY_RECEIVED,
    ACTIVATION_EXPIRED,
    ACTIVATION_CANCELED,
    ACTIVATION_REFUNDED,
    WALLET_LOW_BALANCE,
    WALLET_CREDITED,
)

# Sent after the commit of a transaction that emitted an event, with ``event_id`` (the row's public_id).
event_committed = Signal()


def emit(
    *,
    key: str,
    type: str,
    tenant_id: int,
    user_id: int | None,
    payload: dict[str, Any],
    ordering_key: str = "",
) -> None:
    """Record an event for ``user_id`` in the caller's transaction; a second emit of the same ``key`` is a no-op.

    Must run inside ``transaction.atomic`` (the change's own transaction): an event outside one could be
    announced for a change that is then rolled back. One INSERT ... ON CONFLICT DO NOTHING; after the commit,
    ``event_committed`` is sent (never for a rolled-back transaction or savepoint).
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown customer event type {type!r}.")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit() must run inside the transaction of the change it announces.")
    public_id = uuid.uuid4()
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                public_id=public_id,
                key=key[:200],
                type=type,
                tenant_id=tenant_id,
                user_id=user_id,
                ordering_key=ordering_key[:100],
                payload=payload,
            )
        ],
        ignore_conflicts=True,  # the change was announced already: keep the first row
    )
    # When the key existed, no row carries this public_id and the consumer finds nothing to do.
    transaction.on_commit(lambda: _announce_commit(str(public_id)), robust=True)


def _announce_commit(event_id: str) -> None:
    event_committed.send(sender=OutboxEvent, event_id=event_id)


def outbox_undispatched(*, created_before: datetime, limit: int) -> list[OutboxEvent]:
    """Events no consumer has taken over, written before ``created_before``, oldest first."""
    return list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True, created_at__lt=created_before).order_by("id")[:limit]
    )


def outbox_prune(*, created_before: datetime, limit: int = 5000) -> int:
    """Delete up to ``limit`` dispatched events written before ``created_before`` (and, by cascade, what the
    consumers recorded about them). Returns how many events were deleted."""
    ids = list(
        OutboxEvent.objects.filter(dispatched_at__isnull=False, created_at__lt=created_before)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    deleted = OutboxEvent.objects.filter(id__in=ids).delete()[1].get(OutboxEvent._meta.label, 0)
    return int(deleted)
