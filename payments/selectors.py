"""Reads of top-ups, always scoped to the user (and so to the tenant)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db.models import Case, F, Sum, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.models import Tenant, User
from payments.models import Payment, PaymentSettings

DAILY_WINDOW = timedelta(hours=24)
OPEN = (Payment.Status.CREATED, Payment.Status.PENDING)


def payment_settings_for(*, tenant: Tenant) -> PaymentSettings | None:
    return PaymentSettings.objects.filter(tenant=tenant).first()


def payments_open_for_user(*, user: User, limit: int = 20) -> list[Payment]:
    """The user's top-ups still waiting for the provider or an operator, newest first."""
    return list(Payment.objects.filter(user=user, status__in=OPEN).order_by("-id")[:limit])


def payment_get_for_user(*, user: User, public_id: str) -> Payment | None:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return Payment.objects.filter(user=user, public_id=key).first()


def topup_total_last_24h(*, user: User) -> int:
    """What counts against the daily cap: paid top-ups (what was credited, or asked if more) and open ones."""
    since = timezone.now() - DAILY_WINDOW
    total = (
        Payment.objects.filter(user=user, created_at__gte=since, status__in=[*OPEN, Payment.Status.PAID])
        .annotate(
            counted=Case(
                When(status=Payment.Status.PAID, then=Greatest(F("credited_cents"), F("amount_cents"))),
                default=F("amount_cents"),
            )
        )
        .aggregate(total=Coalesce(Sum("counted"), 0))["total"]
    )
    return int(total)


def demo_payment_get(*, public_id: uuid.UUID) -> Payment | None:
    """A demo checkout by its unguessable id (the demo provider's page has no log-in, like a real provider's)."""
    return Payment.objects.select_related("tenant").filter(public_id=public_id, provider="demo").first()
