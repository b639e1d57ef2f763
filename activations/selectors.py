"""Reads of activations, always scoped to the requesting user (and so to their tenant)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import BigIntegerField, Count, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from activations.models import (
    OPEN_ACTIVATION_STATUSES,
    OPEN_ORDER_STATUSES,
    Activation,
    ReconciliationIssue,
    UpstreamAccountStatus,
    WebhookEvent,
)
from core.compiled import CompiledQuery
from platfone.types import ENDED, ActivationStatus, BillingStatus, ReportStatus
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
    _, sql, params = _BY_ID.sql({_PK: pk, _USER: user.pk, _TENANT: user.tenant_id})
    activation = next(iter(Activation.objects.raw(sql, params)), None)
    if activation is not None:
        # The caller's user came with its tenant (authentication loaded both): no second join on the hot path.
        activation.user, activation.tenant = user, user.tenant
    return activation


# Every poll reads one activation by id. Building and compiling that ORM query cost more CPU than running it
# (a wide row: 34 columns), so it is compiled once, with sentinel values where the ids go, and run as raw SQL,
# which still converts every column the ORM's way. The query is exactly the ORM's; the sentinels cannot be ids.
_PK, _USER, _TENANT = -(2**62) - 1, -(2**62) - 2, -(2**62) - 3
_BY_ID = CompiledQuery(
    Activation,
    lambda: Activation.objects.filter(
        pk=_PK, user_id=_USER, tenant_id=_TENANT, order_status__in=VISIBLE_ORDER_STATUSES
    ).order_by()[:1],
)


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
    return _below_floor(user, finished, succeeded)


def _below_floor(user, finished: int, succeeded: int) -> bool:
    floor = user.tenant.min_user_success_rate_percent
    return finished >= SUCCESS_RATE_MIN_ORDERS and succeeded * 100 < finished * floor


def user_order_limits(*, user) -> tuple[int, bool]:
    """``open_activation_count`` and ``user_below_success_floor`` together, in one query (ordering asks both
    under the wallet's lock)."""
    counts = Activation.objects.filter(user=user).aggregate(
        open=Count(
            "id", filter=Q(order_status__in=OPEN_ORDER_STATUSES, activation_status__in=OPEN_ACTIVATION_STATUSES)
        ),
        **success_rate_counts(),
    )
    return counts["open"], _below_floor(user, counts["finished_24h"], counts["succeeded_24h"])


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


# --- the operator dashboard: aggregates in the database, scoped to one tenant or (None) to all -------------


def _scoped(tenant_id: int | None):
    activations = Activation.objects.filter(order_status=Activation.OrderStatus.PLACED)
    return activations if tenant_id is None else activations.filter(tenant_id=tenant_id)


def _sold() -> Q:
    return Q(billing_status__in=[Activation.BillingStatus.BILLED, Activation.BillingStatus.REFUNDED])


def _supplier_kept_cost() -> Q:
    """The supplier billed us and did not refund: an approved report or its own refund reverses the cost."""
    return (
        (_sold() | Q(billing_status=Activation.BillingStatus.RELEASED, upstream_billing_status=BillingStatus.BILLED))
        & ~Q(upstream_billing_status=BillingStatus.REFUNDED)
        & ~Q(report_status=ReportStatus.APPROVED)
    )


def _figures() -> dict:
    """Aggregates of one group of placed activations (all integer cents)."""
    zero = Value(0, output_field=BigIntegerField())
    refunded = Q(billing_status=Activation.BillingStatus.REFUNDED)
    return {
        "orders": Count("id"),
        "code_received": Count("id", filter=Q(sms_received_at__isnull=False)),
        "canceled": Count("id", filter=Q(activation_status=ActivationStatus.CANCELED)),
        "expired": Count("id", filter=Q(activation_status=ActivationStatus.EXPIRED)),
        "refunded": Count("id", filter=refunded),
        "finished": Count(
            "id", filter=Q(sms_received_at__isnull=False) | ~Q(activation_status=ActivationStatus.ACTIVE)
        ),
        "charged_cents": Coalesce(Sum("sell_price_cents", filter=_sold()), zero),
        "refunded_cents": Coalesce(Sum("sell_price_cents", filter=refunded), zero),
        "supplier_cost_cents": Coalesce(Sum("price_cents", filter=_supplier_kept_cost()), zero),
        "refund_loss_cents": Coalesce(Sum("price_cents", filter=refunded & _supplier_kept_cost()), zero),
    }


def activation_figures(*, tenant_id: int | None, since) -> dict:
    """Totals of the activations ordered since ``since``: outcomes, money and SMS success. One query."""
    return _scoped(tenant_id).filter(created_at__gte=since).aggregate(**_figures())


def activation_figures_by_day(*, tenant_id: int | None, since) -> list[dict]:
    """``activation_figures`` per UTC day of ordering, oldest first. One query."""
    return list(
        _scoped(tenant_id)
        .filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(**_figures())
        .order_by("day")
    )


def activation_figures_by(*, tenant_id: int | None, since, field: str) -> list[dict]:
    """``activation_figures`` per ``field`` ("service_id", "country_id" or "user"), every group. One query."""
    group = ["user_id", "user__email"] if field == "user" else [field]
    return list(_scoped(tenant_id).filter(created_at__gte=since).values(*group).annotate(**_figures()).order_by(*group))


def open_activations_count(*, tenant_id: int) -> int:
    """The tenant's activations holding one of the upstream account's active slots."""
    return Activation.objects.filter(
        tenant_id=tenant_id, order_status__in=OPEN_ORDER_STATUSES, activation_status__in=OPEN_ACTIVATION_STATUSES
    ).count()


def account_success_rate(*, tenant_id: int, now=None) -> tuple[int, int]:
    """(finished orders, of which an SMS arrived) of the tenant's upstream account over 24 h."""
    counts = Activation.objects.filter(tenant_id=tenant_id).aggregate(**success_rate_counts(now=now))
    return counts["finished_24h"], counts["succeeded_24h"]


WEBHOOK_FAILURE_HOURS = 24


def webhook_failure_key(tenant_id: int, hour: int) -> str:
    """Refused webhooks of one tenant in one hour (counted by ``services.webhook_failure_note``)."""
    return f"activations:webhook-failures:{tenant_id}:{hour}"


def webhook_health(*, tenant_id: int, now=None) -> dict:
    """Last webhook seen, events accepted in 24 h, and open reconciliation issues. Two queries."""
    now = now or timezone.now()
    status = (
        UpstreamAccountStatus.objects.filter(tenant_id=tenant_id).values("last_webhook_at", "low_balance_cents").first()
    )
    events = WebhookEvent.objects.filter(tenant_id=tenant_id, received_at__gte=now - timedelta(hours=24)).count()
    hour = int(now.timestamp() // 3600)
    counts = cache.get_many([webhook_failure_key(tenant_id, hour - back) for back in range(WEBHOOK_FAILURE_HOURS)])
    return {
        "last_webhook_at": status["last_webhook_at"] if status else None,
        "events_24h": events,
        "failures_24h": sum(int(value or 0) for value in counts.values()),
    }


def open_reconciliation_issues(*, tenant_id: int | None) -> int:
    issues = ReconciliationIssue.objects.filter(resolved_at__isnull=True)
    return (issues if tenant_id is None else issues.filter(tenant_id=tenant_id)).count()


def top_pairs(*, tenant_id: int, since, limit: int = 10) -> list[Any]:
    """The tenant's most ordered (service, country) pairs since ``since`` with the last supplier cost seen for
    each (``last_cost_cents``, None when no order got a price). One query."""
    last_cost = (
        Activation.objects.filter(
            tenant_id=tenant_id,
            service_id=OuterRef("service_id"),
            country_id=OuterRef("country_id"),
            price_cents__isnull=False,
        )
        .order_by("-created_at", "-id")
        .values("price_cents")[:1]
    )
    return list(
        Activation.objects.filter(tenant_id=tenant_id, created_at__gte=since)
        .values("service_id", "country_id")
        .annotate(orders=Count("id"), last_cost_cents=Subquery(last_cost))
        .order_by("-orders", "service_id", "country_id")[:limit]
    )


def oldest_open_activation_at(*, tenant_id: int):
    """When the tenant's oldest open activation was ordered; None when none is open."""
    return (
        Activation.objects.filter(
            tenant_id=tenant_id, order_status__in=OPEN_ORDER_STATUSES, activation_status__in=OPEN_ACTIVATION_STATUSES
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def sms_received_between(*, tenant_id: int, after=None, before) -> int:
    """How many of the tenant's activations got their first SMS after ``after`` (None: ever) and before ``before``.

    ``doctor`` compares it with the last supplier webhook: SMS that arrived well after it came by polling, so the
    supplier's webhooks do not reach us."""
    found = Activation.objects.filter(tenant_id=tenant_id, sms_received_at__lt=before)
    if after is not None:
        found = found.filter(sms_received_at__gt=after)
    return found.count()


# --- the user's history in the storefront: filters, phone search, pages and an export of the filtered set ----

# What a user means by an activation's status, as conditions on its columns (the storefront's badges: a refund
# wins over everything, a code once received stays received).
_NOT_REFUNDED = ~Q(billing_status=Activation.BillingStatus.REFUNDED)
HISTORY_STATUSES: dict[str, Q] = {
    "waiting": Q(activation_status=ActivationStatus.ACTIVE, sms_received_at__isnull=True) & _NOT_REFUNDED,
    "received": Q(sms_received_at__isnull=False) & _NOT_REFUNDED,
    "canceled": Q(activation_status=ActivationStatus.CANCELED, sms_received_at__isnull=True) & _NOT_REFUNDED,
    "expired": Q(activation_status=ActivationStatus.EXPIRED, sms_received_at__isnull=True) & _NOT_REFUNDED,
    "refunded": Q(billing_status=Activation.BillingStatus.REFUNDED),
}


def activation_history_for_user(
    *,
    user,
    status: str = "",
    service_id: str = "",
    country_id: str = "",
    created_from=None,
    created_before=None,
    phone_digits: str = "",
    reported_only: bool = False,
):
    """The user's placed activations matching every given filter, newest first, as a lazy queryset (a page is
    sliced from it, an export iterates it in chunks). ``created_before`` is exclusive; ``phone_digits`` matches
    anywhere in the number. Served by the ``activation_user_recent`` index (user, -created_at)."""
    queryset = Activation.objects.filter(user=user, tenant_id=user.tenant_id, order_status__in=VISIBLE_ORDER_STATUSES)
    if status:
        queryset = queryset.filter(HISTORY_STATUSES[status])
    if service_id:
        queryset = queryset.filter(service_id=service_id)
    if country_id:
        queryset = queryset.filter(country_id=country_id)
    if created_from is not None:
        queryset = queryset.filter(created_at__gte=created_from)
    if created_before is not None:
        queryset = queryset.filter(created_at__lt=created_before)
    if phone_digits:
        queryset = queryset.filter(phone__contains=phone_digits)
    if reported_only:
        queryset = queryset.filter(report_status__isnull=False)
    return queryset.order_by("-created_at", "-id")


def activation_history_choices(*, user) -> tuple[list[str], list[str]]:
    """The services and the countries the user has ever bought, for the history's filters. Two queries."""
    mine = Activation.objects.filter(user=user, tenant_id=user.tenant_id, order_status__in=VISIBLE_ORDER_STATUSES)
    services = list(mine.order_by("service_id").values_list("service_id", flat=True).distinct())
    countries = list(mine.order_by("country_id").values_list("country_id", flat=True).distinct())
    return services, countries


def recent_purchases_for_user(*, user, limit: int = 5) -> list[Any]:
    """The user's last distinct (service, country) pairs, newest first: "buy again". One query."""
    seen: list[Any] = []
    pairs = (
        Activation.objects.filter(user=user, tenant_id=user.tenant_id, order_status__in=VISIBLE_ORDER_STATUSES)
        .order_by("-created_at", "-id")
        .values("service_id", "country_id", "sell_price_cents", "created_at")[: limit * 10]
    )
    for row in pairs:
        if not any(s["service_id"] == row["service_id"] and s["country_id"] == row["country_id"] for s in seen):
            seen.append(row)
        if len(seen) == limit:
            break
    return seen
