"""Reads of webhook endpoints and their delivery log, always scoped to their owner (and so to the tenant)."""

from __future__ import annotations

from django.db.models import Prefetch

from accounts.models import User
from webhooks.models import Attempt, Delivery, Endpoint


def endpoints_for_user(*, user: User) -> list[Endpoint]:
    if user.tenant_id is None:
        return []
    return list(Endpoint.objects.filter(user=user, tenant_id=user.tenant_id).order_by("id"))


def endpoint_get_for_user(*, user: User, endpoint_id: object) -> Endpoint | None:
    """The user's endpoint ``endpoint_id``; None for a malformed id and for anyone else's endpoint."""
    pk = _positive_int(endpoint_id)
    if pk is None or user.tenant_id is None:
        return None
    return Endpoint.objects.filter(pk=pk, user=user, tenant_id=user.tenant_id).first()


def endpoint_count_for_user(*, user: User) -> int:
    return Endpoint.objects.filter(user=user).count()


def deliveries_for_endpoint(
    *, endpoint: Endpoint, page: int = 1, limit: int = 20, status: str | None = None
) -> tuple[list[Delivery], int]:
    """One page of the endpoint's deliveries, newest first, each with its event and its attempts (oldest
    first): three queries whatever the page size, and one to count."""
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    total = deliveries.count()
    offset = (page - 1) * limit
    items = list(
        deliveries.select_related("event")
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("id")))
        .order_by("-id")[offset : offset + limit]
    )
    return items, total


def delivery_get(*, endpoint: Endpoint, delivery_id: object) -> Delivery | None:
    pk = _positive_int(delivery_id)
    if pk is None:
        return None
    return Delivery.objects.filter(pk=pk, endpoint=endpoint).first()


def _positive_int(value: object) -> int | None:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    number = int(text)
    return number if number > 0 else None
