"""Getting outbox events to the endpoints: fan-out, attempts, retries, ordering, automatic disable.

- **Fan-out** (``fan_out_event``): a committed event becomes one ``Delivery`` per enabled endpoint of its user
  that subscribes to its type, once (the event row is locked and marked dispatched in the same transaction).
- **Attempts** (``delivery_attempt``): a worker claims a due delivery by compare-and-set (``locked_until``), so
  two workers never send the same delivery at once; a worker that dies mid-attempt loses its claim after
  ``LEASE`` and the delivery is attempted again: delivery is at least once, and receivers de-duplicate by the
  event id (the ``X-Event-Id`` header, the same on every attempt).
- **Retries**: after a failed attempt (no answer, or a status other than 2xx; redirects are not followed), the
  next one comes after 15 s, then twice as long each time (capped at 6 h), with a last attempt when the
  24 hours after the event are over: 15 attempts in all. Then the delivery has failed.
- **Order**: deliveries to one endpoint with the same ordering key (one activation's events) go out in the
  order the events happened: a delivery waits while an earlier one of its chain is pending (or an earlier
  event is not fanned out yet) and is sent as soon as that one succeeds or fails for good.
- **Automatic disable**: when every attempt to an endpoint has failed for 24 hours, it is disabled, its pending
  deliveries are closed, and its owner gets an e-mail.
- **Sweep** (``webhooks_sweep``, run by the beat): fans out events whose after-commit hand-over was lost and
  queues the deliveries that are due (retries), so nothing depends on a message that may have been lost.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from core.events import outbox_undispatched
from core.models import OutboxEvent
from webhooks import transport
from webhooks.errors import EndpointDisabled
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

# The Celery task (webhooks.tasks) that makes one attempt, queued by name: services never import tasks.
DELIVER_TASK = "webhooks.deliver"
USER_AGENT = "reseller-webhooks/1.0"

RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY_DELAY = timedelta(seconds=15)
MAX_RETRY_DELAY = timedelta(hours=6)
DISABLE_AFTER_FAILING = timedelta(hours=24)
# An event whose hand-over is this old is fanned out by the sweep (the after-commit path normally wins).
SWEEP_GRACE = timedelta(seconds=5)
# A delivery waiting for an earlier event of its chain to be fanned out looks again this soon.
WAIT_FOR_PREDECESSOR = timedelta(seconds=5)


def lease() -> timedelta:
    """How long a claim lasts: longer than any attempt can take (transport's deadline), plus a margin."""
    seconds = settings.CUSTOMER_WEBHOOK_CONNECT_TIMEOUT + 2 * settings.CUSTOMER_WEBHOOK_READ_TIMEOUT + 30
    return timedelta(seconds=seconds)


def retry_delay(failed_attempts: int) -> timedelta:
    """The wait after the ``failed_attempts``-th failure: 15 s, 30 s, 1 min ... doubling, at most 6 h."""
    exponent = max(0, failed_attempts - 1)
    if exponent > 20:
        return MAX_RETRY_DELAY
    return min(FIRST_RETRY_DELAY * (2**exponent), MAX_RETRY_DELAY)


def next_attempt_time(*, created_at: datetime, failed_attempts: int, now: datetime) -> datetime | None:
    """When to try again after a failure, or None once the 24 h after the event are over (the last attempt
    is made at the end of the window)."""
    deadline = created_at + RETRY_WINDOW
    if now >= deadline:
        return None
    return min(now + retry_delay(failed_attempts), deadline)


# --- queueing ----------------------------------------------------------------------------------------


def queue_delivery(delivery_id: int) -> None:
    """Attempt the delivery in a worker once the current transaction commits."""
    task = current_app.tasks[DELIVER_TASK]
    transaction.on_commit(lambda: task.delay(delivery_id), robust=True)


# --- fan-out -----------------------------------------------------------------------------------------


def fan_out_event(*, event_id: str, queue: bool = True) -> list[int]:
    """Create the deliveries of a committed outbox event (``event_id``: its public id) and, with ``queue``,
    queue their first attempts (a caller that makes them itself passes False).

    Exactly once per event: the event row is locked and marked dispatched in the same transaction; an unknown
    or already dispatched event does nothing. Returns the new deliveries' ids.
    """
    with transaction.atomic():
        event = OutboxEvent.objects.select_for_update().filter(public_id=event_id, dispatched_at__isnull=True).first()
        if event is None:
            return []
        now = timezone.now()
        enabled: list[Endpoint] = []
        if event.user_id is not None:
            enabled = list(
                Endpoint.objects.filter(
                    user_id=event.user_id, tenant_id=event.tenant_id, status=Endpoint.Status.ENABLED
                )
            )
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(endpoint=endpoint, event=event, ordering_key=event.ordering_key, next_attempt_at=now)
                for endpoint in enabled
                if endpoint.subscribes_to(event.type)
            ]
        )
        OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=now)
        if queue:
            for delivery in deliveries:
                queue_delivery(delivery.pk)
        if event.ordering_key and enabled:
            _wake_waiting_successors(event, [endpoint.pk for endpoint in enabled])
    return [delivery.pk for delivery in deliveries]


def _wake_waiting_successors(event: OutboxEvent, endpoint_ids: list[int]) -> None:
    """Later deliveries of the event's chain that waited for it to be fanned out (never attempted yet)."""
    waiting = list(
        Delivery.objects.filter(
            endpoint_id__in=endpoint_ids,
            ordering_key=event.ordering_key,
            status=Delivery.Status.PENDING,
            event_id__gt=event.pk,
            attempts=0,
        ).values_list("pk", flat=True)
    )
    for delivery_id in waiting:
        Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
        queue_delivery(delivery_id)


# --- attempts ----------------------------------------------------------------------------------------


def event_body(event: OutboxEvent) -> bytes:
    """The JSON a receiver gets: the same bytes on every attempt."""
    document = {
        "id": event.event_id,
        "type": event.type,
        "created": int(event.created_at.timestamp()),
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def signed_headers(endpoint: Endpoint, event: OutboxEvent, body: bytes, *, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event.event_id,
        EVENT_TYPE_HEADER: event.type,
        "X-Delivery-Attempt": str(attempt),
        SIGNATURE_HEADER: signature_header(endpoint.signing_secrets(), int(time.time()), body),
    }


def delivery_attempt(*, delivery_id: int) -> Attempt | None:
    """Make the next attempt of a due delivery, if this worker wins its claim; record it and plan what follows.

    Returns the attempt, or None when there was nothing to do (not due, claimed by another worker, finished,
    or waiting for an earlier delivery of its chain). The HTTP request runs outside any transaction.
    """
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(locked_until=now + lease())
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("endpoint", "event").filter(pk=delivery_id).first()
    if delivery is None:
        return None  # its endpoint was deleted meanwhile
    endpoint = delivery.endpoint
    if not endpoint.is_enabled:
        close_pending_deliveries(endpoint_id=endpoint.pk, reason="endpoint disabled")
        return None
    wait_until = _blocked_until(delivery, now)
    if wait_until is not None:
        Delivery.objects.filter(pk=delivery.pk).update(locked_until=None, next_attempt_at=wait_until)
        return None
    number = delivery.attempts + 1
    body = event_body(delivery.event)
    result = transport.post(
        endpoint.url,
        body,
        signed_headers(endpoint, delivery.event, body, attempt=number),
        connect_timeout=settings.CUSTOMER_WEBHOOK_CONNECT_TIMEOUT,
        read_timeout=settings.CUSTOMER_WEBHOOK_READ_TIMEOUT,
        allow_loopback=settings.CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK,
    )
    return _record_attempt(delivery, result, number=number, started_at=now)


def _blocked_until(delivery: Delivery, now: datetime) -> datetime | None:
    """When to look again if an earlier event of the delivery's chain has not been delivered yet."""
    if not delivery.ordering_key:
        return None
    earlier = (
        Delivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            ordering_key=delivery.ordering_key,
            status=Delivery.Status.PENDING,
            event_id__lt=delivery.event_id,
        )
        .order_by("event_id")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if earlier is not None:
        # Its completion wakes this one; the time is a safety net should that wake-up be lost.
        return max(earlier, now) + WAIT_FOR_PREDECESSOR
    if OutboxEvent.objects.filter(
        ordering_key=delivery.ordering_key, id__lt=delivery.event_id, dispatched_at__isnull=True
    ).exists():
        return now + WAIT_FOR_PREDECESSOR
    return None


def _record_attempt(
    delivery: Delivery, result: transport.Result, *, number: int, started_at: datetime
) -> Attempt | None:
    with transaction.atomic():
        # The endpoint row serializes the failure bookkeeping of its concurrent deliveries. NO KEY: new deliveries
        # referencing the endpoint (a concurrent fan-out) need not wait for it.
        endpoint = Endpoint.objects.select_for_update(no_key=True).filter(pk=delivery.endpoint_id).first()
        if endpoint is None or not Delivery.objects.filter(pk=delivery.pk).exists():
            return None  # the owner deleted the endpoint while we were sending
        attempt = Attempt.objects.create(
            delivery=delivery,
            number=number,
            manual=delivery.redeliver_requested,
            started_at=started_at,
            latency_ms=result.latency_ms,
            status_code=result.status_code,
            succeeded=result.succeeded,
            error=result.error or ("" if result.succeeded else _status_error(result.status_code)),
            response_snippet=result.snippet.decode("utf-8", errors="replace"),
        )
        now = timezone.now()
        fields: dict[str, object] = {"attempts": number, "locked_until": None, "redeliver_requested": False}
        if result.succeeded:
            fields.update(status=Delivery.Status.SUCCEEDED, next_attempt_at=None, completed_at=now, failure_reason="")
            if endpoint.failing_since is not None:
                Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        else:
            next_at = next_attempt_time(created_at=delivery.created_at, failed_attempts=number, now=now)
            if next_at is None:
                fields.update(
                    status=Delivery.Status.FAILED,
                    next_attempt_at=None,
                    completed_at=now,
                    failure_reason=f"no successful attempt within 24 h ({attempt.error})"[:200],
                )
            else:
                fields.update(next_attempt_at=next_at)
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        if not result.succeeded:
            _count_failure(endpoint, started_at=started_at, now=now, error=attempt.error)
        if fields.get("status") in (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED):
            _wake_next_in_chain(delivery)
    return attempt


def _status_error(status_code: int | None) -> str:
    if status_code is not None and 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed"
    return f"HTTP {status_code}"


def _count_failure(endpoint: Endpoint, *, started_at: datetime, now: datetime, error: str) -> None:
    """Start the endpoint's failure run, or disable it once the run has lasted 24 h (under its row lock)."""
    if endpoint.failing_since is None:
        Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=started_at)
        return
    if endpoint.is_enabled and now - endpoint.failing_since >= DISABLE_AFTER_FAILING:
        Endpoint.objects.filter(pk=endpoint.pk).update(
            status=Endpoint.Status.DISABLED, disabled_reason=Endpoint.DisabledReason.FAILING, disabled_at=now
        )
        close_pending_deliveries(endpoint_id=endpoint.pk, reason="endpoint disabled after failing for 24 h")
        endpoint_id = endpoint.pk
        transaction.on_commit(lambda: notify_disabled(endpoint_id=endpoint_id, last_error=error), robust=True)
        logger.warning("webhook endpoint %s disabled after failing for 24 h (%s)", endpoint.pk, error)


def _wake_next_in_chain(delivery: Delivery) -> None:
    """The delivery is done: the next pending one of its chain (if any) may go now."""
    if not delivery.ordering_key:
        return
    successor = (
        Delivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            ordering_key=delivery.ordering_key,
            status=Delivery.Status.PENDING,
            event_id__gt=delivery.event_id,
        )
        .order_by("event_id")
        .values_list("pk", flat=True)
        .first()
    )
    if successor is not None:
        Delivery.objects.filter(pk=successor, next_attempt_at__gt=timezone.now()).update(next_attempt_at=timezone.now())
        queue_delivery(successor)


def close_pending_deliveries(*, endpoint_id: int, reason: str) -> int:
    """Close the endpoint's pending deliveries as failed (the endpoint no longer receives); they stay in the
    log and can be redelivered."""
    return Delivery.objects.filter(endpoint_id=endpoint_id, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED,
        failure_reason=reason[:200],
        next_attempt_at=None,
        locked_until=None,
        completed_at=timezone.now(),
    )


def notify_disabled(*, endpoint_id: int, last_error: str) -> None:
    """E-mail the owner that the endpoint was disabled (Django's mail backend). A failure to send is logged."""
    endpoint = Endpoint.objects.select_related("user", "tenant").filter(pk=endpoint_id).first()
    if endpoint is None or not endpoint.user.email:
        return
    context = {"endpoint": endpoint, "tenant": endpoint.tenant, "last_error": last_error}
    message = EmailMessage(
        subject=render_to_string("webhooks/email/endpoint_disabled_subject.txt", context).strip(),
        body=render_to_string("webhooks/email/endpoint_disabled.txt", context),
        to=[endpoint.user.email],
        reply_to=[endpoint.tenant.support_email] if endpoint.tenant.support_email else None,
    )
    try:
        message.send()
    except Exception:  # the disable stands; the owner also sees it on the endpoint
        logger.exception("could not e-mail %s about disabled webhook endpoint %s", endpoint.user.email, endpoint.pk)


# --- the owner's actions -------------------------------------------------------------------------


def delivery_redeliver(*, endpoint: Endpoint, delivery: Delivery) -> Delivery:
    """Attempt the delivery again now (whatever its state), marked manual in the log. If that attempt fails
    and the event's 24 h are not over, retries follow the usual schedule. ``EndpointDisabled`` when the
    endpoint is disabled."""
    with transaction.atomic():
        if not Endpoint.objects.filter(pk=endpoint.pk, status=Endpoint.Status.ENABLED).exists():
            raise EndpointDisabled()
        Delivery.objects.filter(pk=delivery.pk, endpoint=endpoint).update(
            status=Delivery.Status.PENDING,
            next_attempt_at=timezone.now(),
            completed_at=None,
            failure_reason="",
            redeliver_requested=True,
        )
        queue_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


# --- the beat's sweep ----------------------------------------------------------------------------


def webhooks_sweep(*, limit: int = 500) -> dict[str, int]:
    """Fan out events whose hand-over was lost, and queue the deliveries that are due. Returns the counts."""
    now = timezone.now()
    fanned_out = 0
    for event in outbox_undispatched(created_before=now - SWEEP_GRACE, limit=limit):
        fan_out_event(event_id=str(event.public_id))
        fanned_out += 1
    now = timezone.now()  # after the fan-out: what it created is due too
    due = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    task = current_app.tasks[DELIVER_TASK]
    for delivery_id in due:
        task.delay(delivery_id)
    return {"events_fanned_out": fanned_out, "deliveries_queued": len(due)}
