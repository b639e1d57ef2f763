"""Background upkeep the beat runs: expire what is overdue, finalize what is done."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from accounts.models import Tenant
from activations.models import Activation
from activations.services.actions import activation_finalize
from activations.services.issues import each_isolated
from activations.services.settlement import Outcome, apply_upstream_state
from activations.services.sync import activation_refresh
from core.errors import DomainError
from platfone import errors as upstream
from platfone.types import ActivationStatus

logger = logging.getLogger(__name__)


def expire_overdue_activations(*, tenant: Tenant, limit: int = 200) -> int:
    """Settle activations past ``expire_at`` without an SMS, so holds are released even if nobody polls.

    Each is synced (the upstream confirms the expiry) or, when the upstream cannot answer, expired locally
    after the grace period — both through ``activation_refresh``. Returns how many were looked at.
    """
    now = timezone.now()
    overdue = (
        Activation.objects.filter(
            tenant=tenant,
            order_status=Activation.OrderStatus.PLACED,
            activation_status=ActivationStatus.ACTIVE,
            billing_status=Activation.BillingStatus.HELD,
            expire_at__lte=now,
        )
        .select_related("tenant")
        .order_by("expire_at")[:limit]
    )
    return each_isolated(
        overdue,
        lambda activation: activation_refresh(activation=activation, actor="task:expire", polled=False),
        what=f"expire {tenant.slug}",
    )


def finalize_due_activations(*, tenant: Tenant, limit: int = 50) -> int:
    """Finalize activations whose SMS arrived longer ago than the tenant's delay: frees upstream slots
    (20 active at most) and ends billing disputes. Returns how many were finalized."""
    cutoff = timezone.now() - timedelta(seconds=tenant.finalize_after_sms_seconds)
    due = (
        Activation.objects.filter(
            tenant=tenant,
            order_status=Activation.OrderStatus.PLACED,
            activation_status=ActivationStatus.ACTIVE,
            sms_received_at__lte=cutoff,
        )
        .select_related("tenant")
        .order_by(F("sms_received_at").asc())[:limit]
    )
    postponed: list[int] = []

    def finalize(activation: Activation) -> None:
        try:
            activation_finalize(activation=activation, actor="task:finalize")
        except (DomainError, upstream.PlatfoneError) as exc:  # refused or unreachable: the next run tries again
            logger.info("activation %s: finalize postponed (%r)", activation.pk, exc)
            postponed.append(activation.pk)

    return each_isolated(due, finalize, what=f"finalize {tenant.slug}") - len(postponed)


def close_stuck_orders(*, tenant: Tenant, older_than_seconds: int = 120) -> int:
    """Orders still ``ordering`` long after any upstream call would have timed out were cut off mid-way
    (a worker or web process died): keep them as ``lost`` for reconciliation and release their holds."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = Activation.objects.filter(
        tenant=tenant, order_status=Activation.OrderStatus.ORDERING, created_at__lte=cutoff
    ).values_list("pk", flat=True)
    return each_isolated(
        stuck,
        lambda activation_id: apply_upstream_state(
            activation_id, None, actor="task:expire", outcome=Outcome(order_status="lost", order_error="stuck")
        ),
        what=f"close stuck orders of {tenant.slug}",
    )
