"""Celery entry points for customer webhooks: thin wrappers that take ids and call services.

Every task is safe to run twice (fan-out is once per event, an attempt needs a claim), so a duplicate message
or a redelivery after a worker crash sends nothing twice at the same time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.events import outbox_prune
from webhooks.services import delivery_attempt, fan_out_event, webhooks_sweep
from webhooks.services.delivery import DELIVER_TASK

logger = logging.getLogger(__name__)


def on_event_committed(sender, event_id: str, **kwargs) -> None:
    """``core.events.event_committed`` receiver: fan the event out in a worker."""
    fan_out.delay(event_id)


@shared_task(name="webhooks.fan_out", ignore_result=True)
def fan_out(event_id: str) -> None:
    """Create the event's deliveries; the first is attempted right here (one Celery hop from the change to the
    customer), the others in parallel by other workers."""
    delivery_ids = fan_out_event(event_id=event_id, queue=False)
    for delivery_id in delivery_ids[1:]:
        deliver.delay(delivery_id)
    if delivery_ids:
        delivery_attempt(delivery_id=delivery_ids[0])


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver(delivery_id: int) -> None:
    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return webhooks_sweep()


@shared_task(name="webhooks.prune", ignore_result=True)
def prune() -> int:
    cutoff = timezone.now() - timedelta(days=settings.CUSTOMER_WEBHOOK_LOG_DAYS)
    return outbox_prune(created_before=cutoff)
