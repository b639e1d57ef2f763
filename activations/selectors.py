"""Reads of activations, always scoped to the requesting user (and so to their tenant)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from activations.models import OPEN_ACTIVATION_STATUSES, OPEN_ORDER_STATUSES, Activation
from platfone.types import ENDED, ActivationStatus
from wallet import selectors as wallet_selectors

VISIBLE_ORDER_STATUSES = (Activation.OrderStatus.PLACED,)

# Ids beyond a 64-bit integer cannot exist; refusing them early keeps the database out of it.
MAX_ID = 2**63 - 1


def activation_get_for_user(*, user, activation_id: str | int) -> Activation | None:
    """The user's activation with that id, or None (also for another user's or another tenant's)."""
    try:
        pk = int(str(activation_id))
    except ValueError:
        return None
    if not 0 < pk <= MAX_ID or str(activation_id) != str(pk):
        return None
    activation = Activation.objects.filter(
        pk=pk, user=user, tenant_id=user.tenant_id, order_status__in=VISIBLE_ORDER_STATUSES
    ).first()
    if activation is not None:
        # The caller's user came with its tenant (authentication loaded both): no second join on the hot path.
        activation.user, activation.tenant = user, user.tenant
    return activation


def activations_for_user(*, user, page: int, limit: int) -> tuple[list[Activation], int]:
    """One page of the user's activations, most recent first, and the total count."""
    queryset = Activation.objects.filter(user=user, tenant_id=user.tenant_id, order_status__in=VISIBLE_ORDER_STATUSES)
    total = queryset.count()
    offset = (page - 1) * limit
    return list(queryset.order_by("-created_at", "-id")[offset : offset + limit]), total


def activation_for_idempotency_key(*, user, idempotency_key: str) -> Activation | None:
    """The user's placed activation ordered with that key, if any (a failed or lost order frees its key)."""
    return Activation.objects.filter(
        user=user, tenant_id=user.tenant_id, idempotency_key=idempotency_key, order_status__in=VISIBLE_ORDER_STATUSES
    ).first()


def activations_open_for_user(*, user, limit: int = 100) -> list[Activation]:
    """The user's placed activations the upstream has not ended, most recent first (at most ``limit``)."""
    return list(
        Activation.objects.filter(
            user=user,
            tenant_id=user.tenant_id,
            order_status__in=VISIBLE_ORDER_STATUSES,
            activation_status=ActivationStatus.ACTIVE,
        ).order_by("-created_at", "-id")[:limit]
    )


def open_activation_count(*, user) -> int:
    return Activation.objects.filter(
        user=user, order_status__in=OPEN_ORDER_STATUSES, activation_status__in=OPEN_ACTIVATION_STATUSES
    ).count()


SUCCESS_RATE_WINDOW_HOURS = 24
SUCCESS_RATE_MIN_ORDERS = 10


def success_rate_counts(*, prefix: str = "", now=None) -> dict[str, Count]:
    """Aggregates of (finished orders, of which an SMS arrived) over the last 24 h, for ``aggregate`` on
    activations (``prefix=""``) or ``annotate`` on users (``prefix="activations__"``). Orders still waiting
    for their SMS count neither way. This is the user's share of the upstream account's success rate."""
    since = (now or timezone.now()) - timedelta(hours=SUCCESS_RATE_WINDOW_HOURS)
    recent = Q(**{f"{prefix}order_status": Activation.OrderStatus.PLACED, f"{prefix}created_at__gte": since})
    succeeded = Q(**{f"{prefix}sms_received_at__isnull": False})
    finished = succeeded | ~Q(**{f"{prefix}activation_status": ActivationStatus.ACTIVE})
    field = f"{prefix}id" if prefix else "id"
    return {
        "finished_24h": Count(field, filter=recent & finished),
        "succeeded_24h": Count(field, filter=recent & succeeded),
    }


def user_success_rate(*, user, now=None) -> tuple[int, int]:
    """(finished orders, of which an SMS arrived) over the last 24 h."""
    counts = Activation.objects.filter(user=user).aggregate(**success_rate_counts(now=now))
    return counts["finished_24h"], counts["succeeded_24h"]


# A user with at least this many SMS received in the last 30 days has a good record: the storefront's success
# guard never stops them (it stops fresh accounts, the ones a swarm is made of).
GOOD_RECORD_MIN_SMS = 3
GOOD_RECORD_WINDOW = timedelta(days=30)
SUCCESS_GUARD_RETRY_AFTER_SECONDS = 600


def tenant_success_rate_low(*, tenant, now=None) -> bool:
    """The storefront's own 24 h success rate, computed as the supplier does (after the 10th order) but with
    orders still waiting counted as failures (they may all expire), is below the tenant's guard line."""
    if not tenant.success_guard_percent:
        return False
    since = (now or timezone.now()) - timedelta(hours=SUCCESS_RATE_WINDOW_HOURS)
    counts = Activation.objects.filter(
        tenant=tenant, order_status=Activation.OrderStatus.PLACED, created_at__gte=since
    ).aggregate(placed=Count("id"), succeeded=Count("id", filter=Q(sms_received_at__isnull=False)))
    placed, succeeded = counts["placed"], counts["succeeded"]
    return placed >= SUCCESS_RATE_MIN_ORDERS and succeeded * 100 < placed * tenant.success_guard_percent


def user_has_good_record(*, user, now=None) -> bool:
    since = (now or timezone.now()) - GOOD_RECORD_WINDOW
    return Activation.objects.filter(user=user, sms_received_at__gte=since)[:GOOD_RECORD_MIN_SMS].count() >= (
        GOOD_RECORD_MIN_SMS
    )


def user_below_success_floor(*, user) -> bool:
    finished, succeeded = user_success_rate(user=user)
    floor = user.tenant.min_user_success_rate_percent
    return finished >= SUCCESS_RATE_MIN_ORDERS and succeeded * 100 < finished * floor


def settlement_problems(*, tenant=None) -> list[str]:
    """What the money says that the activations contradict, as sentences (empty when all agree): an active hold
    on an activation that can no longer receive an SMS (ended, or an order that failed or was lost), and a
    charge on an activation that never received one. Reads the wallet's selectors only."""
    problems = []
    ended = Q(activation_status__in=[*ENDED]) | Q(
        order_status__in=[Activation.OrderStatus.FAILED, Activation.OrderStatus.LOST]
    )
    activations = Activation.objects.all() if tenant is None else Activation.objects.filter(tenant=tenant)
    held = wallet_selectors.active_hold_references(prefix="activation:")
    for activation_id in activations.filter(ended, pk__in=held).values_list("pk", flat=True):
        problems.append(f"activation #{activation_id} can no longer receive an SMS but money is still held for it")
    charged = wallet_selectors.charge_references(prefix="activation:")
    never_received = activations.filter(pk__in=charged, sms_received_at__isnull=True, sms_code__isnull=True)
    for activation_id in never_received.values_list("pk", flat=True):
        problems.append(f"activation #{activation_id} was charged without an SMS")
    return problems


def open_activations_for_user(*, user, limit: int = 50) -> list[Activation]:
    """The user's placed activations that are still open (waiting for or holding an SMS), newest first."""
    return list(
        Activation.objects.filter(
            user=user,
            tenant_id=user.tenant_id,
            order_status__in=VISIBLE_ORDER_STATUSES,
            activation_status__in=OPEN_ACTIVATION_STATUSES,
        ).order_by("-created_at", "-id")[:limit]
    )
