"""Applying verified upstream webhook events."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant
from activations.models import Activation, UpstreamAccountStatus, WebhookEvent
from activations.selectors import WEBHOOK_FAILURE_HOURS, webhook_failure_key
from activations.services.settlement import apply_upstream_state
from platfone.webhooks import ACTIVATION_EVENTS, LOW_BALANCE_EVENT, parse_event
from platfone.webhooks import WebhookEvent as Event

logger = logging.getLogger(__name__)


APPLY_TASK = "activations.apply_webhook_event"
# An event the queue did not apply (a lost publish, a worker that died, an activation not known yet) is swept up
# by the beat after SWEEP_AFTER and for RETRY_WINDOW after it arrived; reconciliation covers what is left.
SWEEP_AFTER = timedelta(seconds=10)
RETRY_WINDOW = timedelta(hours=1)


class ActivationNotKnownYet(Exception):
    """The event is about an upstream activation we have not recorded (yet): its order may still be on its
    way back to us. The event stays stored and unapplied; the sweep applies it once the order is in."""


def webhook_event_record(*, tenant: Tenant, event: Event) -> bool:
    """Store one verified event, once per event id, and have a worker apply it after the commit; returns False
    for a replayed event id (nothing changes). The supplier's request waits for this insert only: applying the
    event (locks, the charge, the customer's events) is ``webhook_event_apply`` in the worker."""
    _mark_webhook_seen(tenant)
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                tenant=tenant,
                event_id=event.id,
                type=event.type,
                upstream_id=(event.activation.activation_id if event.activation else "")[:64],
                payload=event_payload(event),
            )
            # After the commit, and never failing the request: an event whose hand-over fails is the sweep's.
            transaction.on_commit(lambda: current_app.tasks[APPLY_TASK].delay(stored.pk), robust=True)
    except IntegrityError:
        logger.info("webhook %s for %s replayed; ignored", event.id, tenant.slug)
        return False
    return True


def event_payload(event: Event) -> dict:
    """The stored form of an event: the body as the supplier sent it (``parse_event`` reads it back)."""
    return {"id": event.id, "api_version": event.api_version, "type": event.type, "data": dict(event.data)}


def webhook_event_apply(*, stored_id: int, note_unknown: bool = False) -> bool:
    """Apply a stored event exactly once, through ``apply_upstream_state`` like a poll; returns False when it was
    applied already (or is being applied: a second worker skips it rather than wait). Raises
    ``ActivationNotKnownYet`` for an activation we do not know, leaving the event for the sweep (counted in the
    console's webhook health with ``note_unknown``: the first attempt's, not every sweep's)."""
    with transaction.atomic():
        stored = (
            # OF self: the event's row only. Locking the joined tenant row too would block every insert that
            # references the tenant (foreign-key checks) for the length of the apply.
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant")
            .filter(pk=stored_id, applied_at__isnull=True)
            .first()
        )
        if stored is None:
            return False
        event = parse_event(json.dumps(stored.payload).encode())
        tenant = stored.tenant
        if event.type in ACTIVATION_EVENTS and event.activation is not None:
            activation = Activation.objects.filter(tenant=tenant, upstream_id=event.activation.activation_id).first()
            if activation is None:
                if note_unknown:
                    webhook_failure_note(tenant=tenant)
                raise ActivationNotKnownYet(event.activation.activation_id)
            apply_upstream_state(activation, event.activation, actor="webhook")
        elif event.type == LOW_BALANCE_EVENT:
            logger.error("tenant %s: upstream balance is low (%s cents)", tenant.slug, event.balance)
            UpstreamAccountStatus.objects.update_or_create(
                tenant=tenant, defaults={"low_balance_cents": event.balance, "low_balance_at": timezone.now()}
            )
        WebhookEvent.objects.filter(pk=stored.pk).update(applied_at=timezone.now())
    return True


def webhook_events_sweep(*, limit: int = 500) -> dict[str, int]:
    """Apply the stored events the queue has not applied: received more than ``SWEEP_AFTER`` ago and within
    ``RETRY_WINDOW``, oldest first. One event's failure never stops the others."""
    now = timezone.now()
    pending = list(
        WebhookEvent.objects.filter(
            applied_at__isnull=True, received_at__lt=now - SWEEP_AFTER, received_at__gte=now - RETRY_WINDOW
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"applied": 0, "not_known_yet": 0, "failed": 0}
    for stored_id in pending:
        try:
            counts["applied"] += webhook_event_apply(stored_id=stored_id)
        except ActivationNotKnownYet:
            counts["not_known_yet"] += 1
        except Exception:
            logger.exception("webhook event %s: applying it failed; the next sweep tries again", stored_id)
            counts["failed"] += 1
    return counts


def _mark_webhook_seen(tenant: Tenant) -> None:
    # At most one write every few seconds per tenant: a busy webhook stream must not contend on this row.
    now = timezone.now()
    updated = UpstreamAccountStatus.objects.filter(tenant=tenant, last_webhook_at__gte=now - timedelta(seconds=5))
    if updated.exists():
        return
    UpstreamAccountStatus.objects.update_or_create(tenant=tenant, defaults={"last_webhook_at": now})


def webhooks_healthy(tenant: Tenant) -> bool:
    """Webhooks are configured and one arrived recently: polls can trust the database for SMS arrival."""
    if not tenant.platfone_webhook_secret:
        return False
    window = timedelta(seconds=settings.WEBHOOK_HEALTHY_SECONDS)
    return UpstreamAccountStatus.objects.filter(tenant=tenant, last_webhook_at__gte=timezone.now() - window).exists()


def webhook_failure_note(*, tenant: Tenant) -> None:
    """Count a webhook we refused (bad signature, unreadable event) or could not apply yet (activation not known),
    per hour in the shared cache, for the console's webhook health. Never fails the request it is counting."""
    hour = int(timezone.now().timestamp() // 3600)
    key = webhook_failure_key(tenant.pk, hour)
    try:
        cache.add(key, 0, timeout=(WEBHOOK_FAILURE_HOURS + 1) * 3600)
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=(WEBHOOK_FAILURE_HOURS + 1) * 3600)
