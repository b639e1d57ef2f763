"""Keeping activations fresh from the upstream without spending more than its budget allows.

The upstream account is shared by all of a tenant's users (300 ``GET activation/:id`` a minute), so a
poll reaches the upstream only when the activation's state is older than the freshness window, and then
only one caller at a time per activation (compare-and-set on ``next_sync_at``). With healthy webhooks the
window is long: webhooks bring SMS arrivals, and the sync is a safety net.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from itertools import takewhile

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Tenant
from activations.models import Activation
from activations.services.issues import each_isolated, invalid_upstream_data
from activations.services.settlement import Outcome, apply_upstream_state
from activations.services.webhooks import webhooks_healthy
from catalog.errors import UpstreamNotConfigured
from catalog.upstream import client_for_tenant, fair_share_error, spender_of
from platfone import errors as upstream
from platfone.types import ENDED, ActivationStatus, BillingStatus, ReportStatus

logger = logging.getLogger(__name__)

POLL_MARK_SECONDS = 10


def freshness_window(tenant: Tenant) -> timedelta:
    """How old a synced state may be before a reader asks the upstream again."""
    key = f"activations:webhooks-healthy:{tenant.pk}"
    healthy = cache.get(key)
    if healthy is None:
        healthy = webhooks_healthy(tenant)
        cache.set(key, healthy, 5)
    if healthy:
        return timedelta(seconds=settings.ACTIVATION_SAFETY_SYNC_SECONDS)
    return timedelta(seconds=settings.ACTIVATION_FRESH_SECONDS)


def activation_refresh(*, activation: Activation, actor: str, polled: bool = True, force: bool = False) -> Activation:
    """Bring the activation up to date with the upstream, within the upstream's budget, then return it.

    At most one caller at a time syncs a given activation (compare-and-set on ``next_sync_at``); others,
    and every caller inside the freshness window, answer from the database. An upstream fault (timeout,
    5xx, garbage, rate limit, spent budget) is never the caller's error: the last known state is returned.
    An activation past ``expire_at`` (plus a grace period) that the upstream cannot confirm is expired
    locally, which releases the hold. ``polled`` marks a user's read (it raises the activation's priority
    in the background sync), at most once every few seconds so that polling does not write every time.
    ``force`` (an operator's "sync now") reads the upstream even inside the freshness window, still one caller
    at a time and within the request budget.
    """
    now = timezone.now()
    if polled and (
        activation.last_polled_at is None or now - activation.last_polled_at > timedelta(seconds=POLL_MARK_SECONDS)
    ):
        Activation.objects.filter(pk=activation.pk).update(last_polled_at=now)
    upstream_id = activation.upstream_id
    wanted = (force and activation.order_status == Activation.OrderStatus.PLACED) or needs_sync(activation, now)
    if upstream_id is None or not wanted:
        return _expire_if_overdue(activation, actor=actor, now=now)

    claimed = (
        # Compare-and-set on what this caller read: a sync that finished since (last_synced_at moved) is the
        # answer, not a reason to read the upstream again.
        Activation.objects.filter(pk=activation.pk, last_synced_at=activation.last_synced_at)
        .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        .update(next_sync_at=now + timedelta(seconds=settings.ACTIVATION_SYNC_CLAIM_SECONDS))
    )
    if not claimed:
        return Activation.objects.get(pk=activation.pk)
    try:
        snapshot = client_for_tenant(activation.tenant, spender=spender_of(actor)).get_activation(upstream_id)
    except upstream.FairShareExceeded as exc:
        # This user's share of the supplier's reads is spent: release the claim (others may sync it) and say so.
        Activation.objects.filter(pk=activation.pk).update(next_sync_at=now)
        raise fair_share_error(exc) from exc
    except (upstream.PlatfoneError, UpstreamNotConfigured) as exc:
        logger.info("activation %s: sync failed (%r); answering from the database", activation.pk, exc)
        if isinstance(exc, upstream.InvalidUpstreamData):
            invalid_upstream_data(activation.tenant, upstream_id, source="sync", error=exc)
        backoff = getattr(exc, "retry_after", None) or settings.ACTIVATION_SYNC_BACKOFF_SECONDS
        Activation.objects.filter(pk=activation.pk).update(next_sync_at=now + timedelta(seconds=min(backoff, 60)))
        return _expire_if_overdue(Activation.objects.get(pk=activation.pk), actor=actor, now=now)
    Activation.objects.filter(pk=activation.pk).update(last_synced_at=now, next_sync_at=now)
    return apply_upstream_state(activation, snapshot, actor=actor)


def needs_sync(activation: Activation, now: datetime) -> bool:
    if activation.order_status != Activation.OrderStatus.PLACED or not activation.upstream_id:
        return False
    if activation.next_sync_at is not None and activation.next_sync_at > now:
        return False  # someone is syncing it, or the upstream asked us to back off
    if activation.activation_status in ENDED:
        # Only an open report (a refund) or an expiry the upstream has not confirmed (an SMS may have come
        # while it could not answer) can still change a finished activation.
        if not (activation.report_status == ReportStatus.IN_REVIEW or expired_unconfirmed(activation)):
            return False
        return _older_than(activation, now, freshness_window(activation.tenant))
    if activation.is_past_expiry(now) and not activation.sms_received:
        return True  # the upstream has expired it by now: confirm, and release the hold
    return _older_than(activation, now, freshness_window(activation.tenant))


def expired_unconfirmed(activation: Activation) -> bool:
    """Expired here after the grace period, while the upstream, last we heard, still reserved its price."""
    return (
        activation.activation_status == ActivationStatus.EXPIRED
        and activation.upstream_billing_status == BillingStatus.RESERVED
    )


def _older_than(activation: Activation, now: datetime, window: timedelta) -> bool:
    return activation.last_synced_at is None or now - activation.last_synced_at >= window


def _expire_if_overdue(activation: Activation, *, actor: str, now: datetime) -> Activation:
    grace = timedelta(seconds=settings.ACTIVATION_LOCAL_EXPIRY_GRACE_SECONDS)
    if (
        activation.activation_status == ActivationStatus.ACTIVE
        and not activation.sms_received
        and activation.expire_at is not None
        and now >= activation.expire_at + grace
    ):
        return apply_upstream_state(activation, None, actor=actor, outcome=Outcome(local_expiry=True))
    return activation


def sync_due_activations(*, tenant: Tenant, reserve_fraction: float = 0.3) -> int:
    """Sync the tenant's activations whose state is older than the freshness window, most wanted first
    (recently polled, then recently created), spending at most the part of the upstream budget that is
    not reserved for users' own polls: ``reserve_fraction`` of the per-minute limit is never touched, however
    often the beat runs in that minute. Returns how many were synced."""
    client = client_for_tenant(tenant)
    remaining = client.budget_remaining("get_activation")
    if remaining is None or client.budget is None:
        reserve, allowance = 0, 100
    else:
        # The reserve is a share of the minute's limit, not of what is left: a share of what is left would let
        # six runs a minute spend all but 0.3 ** 6 of it.
        reserve = math.ceil(reserve_fraction * client.budget.limit("get_activation"))
        allowance = remaining - reserve
    if allowance <= 0:
        return 0
    now = timezone.now()
    window = freshness_window(tenant)
    due = (
        Activation.objects.filter(tenant=tenant, order_status=Activation.OrderStatus.PLACED)
        .filter(
            Q(activation_status=ActivationStatus.ACTIVE)
            | Q(report_status=ReportStatus.IN_REVIEW)
            # see expired_unconfirmed
            | Q(activation_status=ActivationStatus.EXPIRED, upstream_billing_status=BillingStatus.RESERVED)
        )
        .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lte=now - window) | Q(expire_at__lte=now))
        .select_related("tenant")
        .order_by(F("last_polled_at").desc(nulls_last=True), "-created_at")[:allowance]
    )
    # Stop at the reserve: users' polls (or retries of failed reads) may spend the rest meanwhile.
    within_budget = takewhile(lambda _: not reserve or (client.budget_remaining("get_activation") or 0) > reserve, due)
    return each_isolated(
        within_budget,
        lambda activation: activation_refresh(activation=activation, actor="task:sync", polled=False),
        what=f"sync {tenant.slug}",
    )
