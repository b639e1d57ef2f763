"""Applying verified upstream webhook events."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant
from activations.models import Activation, UpstreamAccountStatus, WebhookEvent
from activations.selectors import WEBHOOK_FAILURE_HOURS, webhook_failure_key
from activations.services.settlement import apply_upstream_state
from platfone.webhooks import ACTIVATION_EVENTS, LOW_BALANCE_EVENT
from platfone.webhooks import WebhookEvent as Event

logger = logging.getLogger(__name__)


class ActivationNotKnownYet(Exception):
    """The event is about an upstream activation we have not recorded (yet): its order may still be on its
    way back to us. Nothing is recorded, so the upstream's retry can apply it once the order is in."""


def webhook_event_apply(*, tenant: Tenant, event: Event) -> bool:
    """Apply one verified event exactly once; returns False for a replayed event id (nothing changes).

    The event row and the state change commit together: if applying fails, the event is not recorded,
    so the upstream's retry applies it later. Raises ``ActivationNotKnownYet`` for an activation we do not
    know; reconciliation takes care of one that never becomes known.
    """
    _mark_webhook_seen(tenant)
    with transaction.atomic():
        try:
            with transaction.atomic():
                WebhookEvent.objects.create(
                    tenant=tenant,
                    event_id=event.id,
                    type=event.type,
                    upstream_id=(event.activation.activation_id if event.activation else "")[:64],
                    payload=dict(event.data),
                )
        except IntegrityError:
            logger.info("webhook %s for %s replayed; ignored", event.id, tenant.slug)
            return False
        if event.type in ACTIVATION_EVENTS and event.activation is not None:
            activation = Activation.objects.filter(tenant=tenant, upstream_id=event.activation.activation_id).first()
            if activation is None:
                raise ActivationNotKnownYet(event.activation.activation_id)
            apply_upstream_state(activation, event.activation, actor="webhook")
        elif event.type == LOW_BALANCE_EVENT:
            logger.error("tenant %s: upstream balance is low (%s cents)", tenant.slug, event.balance)
            UpstreamAccountStatus.objects.update_or_create(
                tenant=tenant, defaults={"low_balance_cents": event.balance, "low_balance_at": timezone.now()}
            )
    return True


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
    """Count a webhook we refused (bad signature, unreadable event, activation not known yet), per hour in the
    shared cache, for the console's webhook health. Never fails the request it is counting."""
    hour = int(timezone.now().timestamp() // 3600)
    key = webhook_failure_key(tenant.pk, hour)
    try:
        cache.add(key, 0, timeout=(WEBHOOK_FAILURE_HOURS + 1) * 3600)
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=(WEBHOOK_FAILURE_HOURS + 1) * 3600)
