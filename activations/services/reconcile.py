"""Reconciliation: compare the upstream's activation history with ours and put every difference right.

- An upstream activation we do not know is an order whose response was lost (we answered the user 503 and
  released the hold). It must not keep billing the reseller: it is canceled upstream when it can be,
  finalized when an SMS already billed it, and recorded for operators either way. If one of our ``lost``
  orders matches it (same service and country, created within minutes), that order is closed with it.
- Our ``lost`` orders that the upstream does not have, once the history reaches back past them, never
  reached it: they are closed as failed.
- Every known activation in the history is applied through ``apply_upstream_state`` (a free sync), and
  billing that still disagrees afterwards is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant
from activations.models import Activation, ReconciliationIssue, UpstreamAccountStatus
from activations.services.issues import NOTHING_TO_DO, each_isolated, invalid_upstream_data, issue_record
from activations.services.settlement import Outcome, apply_upstream_state
from catalog.upstream import client_for_tenant
from platfone import errors as upstream
from platfone.types import Activation as Snapshot
from platfone.types import ActivationStatus, BillingStatus, SmsStatus
from wallet import services as wallet

logger = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 50
LOST_ORDER_MATCH_WINDOW = timedelta(minutes=5)
# An upstream activation younger than this may be an order whose create call is still on its way back to us
# (ordering.py keeps an order "ordering" at most this long, see close_stuck_orders): it is left to a later run.
IN_FLIGHT_WINDOW = timedelta(seconds=120)
ACTOR = "task:reconcile"


@dataclass
class ReconcileReport:
    tenant: str
    pages: int = 0
    seen: int = 0
    synced: int = 0
    unknown: list[str] = field(default_factory=list)
    too_recent: list[str] = field(default_factory=list)
    lost_matched: list[int] = field(default_factory=list)
    lost_failed: list[int] = field(default_factory=list)
    mismatches: list[int] = field(default_factory=list)
    complete: bool = False

    def summary(self) -> str:
        return (
            f"{self.tenant}: {self.seen} upstream activations on {self.pages} page(s), {self.synced} synced, "
            f"{len(self.unknown)} unknown handled, {len(self.lost_matched)} lost orders matched, "
            f"{len(self.lost_failed)} lost orders closed, {len(self.mismatches)} billing mismatches"
            + (f", {len(self.too_recent)} too recent to judge" if self.too_recent else "")
            + ("" if self.complete else " (history not fully read: upstream budget or error)")
        )


def reconcile_tenant(*, tenant: Tenant, max_pages: int = 5) -> ReconcileReport:
    """Reconcile one tenant's upstream account (see the module docstring). Safe to run any time, twice."""
    report = ReconcileReport(tenant=tenant.slug)
    client = client_for_tenant(tenant)
    oldest_seen: int | None = None
    for page in range(1, max_pages + 1):
        try:
            history = client.activation_history(page=page, limit=HISTORY_PAGE_SIZE)
        except upstream.PlatfoneError as exc:
            logger.warning("reconcile %s: history page %s unavailable (%r)", tenant.slug, page, exc)
            break
        report.pages += 1
        for rejected_id, error in history.rejected:
            report.seen += 1
            invalid_upstream_data(tenant, rejected_id, source="history", error=error)
        for snapshot in history.activations:
            report.seen += 1
            oldest_seen = snapshot.created_at if oldest_seen is None else min(oldest_seen, snapshot.created_at)
        each_isolated(
            history.activations,
            lambda snapshot: _reconcile_one(tenant, snapshot, client=client, report=report),
            what=f"reconcile {tenant.slug}",
        )
        if page >= history.pages or not history.activations:
            report.complete = True
            break
    _close_lost_orders(tenant, oldest_seen=oldest_seen, complete=report.complete, report=report)
    UpstreamAccountStatus.objects.update_or_create(tenant=tenant, defaults={"last_reconciled_at": timezone.now()})
    logger.info("reconcile %s", report.summary())
    return report


def _reconcile_one(tenant: Tenant, snapshot: Snapshot, *, client, report: ReconcileReport) -> None:
    activation = Activation.objects.filter(tenant=tenant, upstream_id=snapshot.activation_id).first()
    if activation is None:
        if timezone.now() - datetime.fromtimestamp(snapshot.created_at, tz=UTC) < IN_FLIGHT_WINDOW:
            report.too_recent.append(snapshot.activation_id)
            return
        activation = _match_lost_order(tenant, snapshot)
        if activation is not None:
            report.lost_matched.append(activation.pk)
        _dispose_unknown(tenant, snapshot, activation=activation, client=client)
        report.unknown.append(snapshot.activation_id)
        return
    activation = apply_upstream_state(activation, snapshot, actor=ACTOR)
    report.synced += 1
    if (
        activation.order_status != Activation.OrderStatus.PLACED
        and snapshot.activation_status == ActivationStatus.ACTIVE
    ):
        # A supplier activation recorded on an order we closed (its answer came too late): nobody holds money
        # for it, so it is canceled (or finalized, once billed) like one we never knew.
        _dispose_unknown(
            tenant, snapshot, activation=activation, client=client, kind=ReconciliationIssue.Kind.LATE_ORDER_ANSWER
        )
    if _billing_disagrees(activation, snapshot):
        report.mismatches.append(activation.pk)
        issue_record(
            tenant,
            ReconciliationIssue.Kind.BILLING_MISMATCH,
            snapshot.activation_id,
            activation=activation,
            detail={"ours": activation.billing_status, "upstream": snapshot.billing_status},
            action="reported",
        )


def _billing_disagrees(activation: Activation, snapshot: Snapshot) -> bool:
    ours, theirs = activation.billing_status, snapshot.billing_status
    if theirs == BillingStatus.BILLED:
        return ours not in {Activation.BillingStatus.BILLED, Activation.BillingStatus.REFUNDED}
    if theirs in {BillingStatus.RELEASED, BillingStatus.REFUNDED}:
        # A user refunded on cancel after the SMS is our decision, not a mismatch; a charge the upstream
        # never billed is.
        return ours == Activation.BillingStatus.BILLED
    return False


def _match_lost_order(tenant: Tenant, snapshot: Snapshot) -> Activation | None:
    created = datetime.fromtimestamp(snapshot.created_at, tz=UTC)
    candidates = Activation.objects.filter(
        tenant=tenant,
        order_status=Activation.OrderStatus.LOST,
        upstream_id__isnull=True,
        service_id=snapshot.service_id,
        country_id=snapshot.country_id,
        created_at__gte=created - LOST_ORDER_MATCH_WINDOW,
        created_at__lte=created + LOST_ORDER_MATCH_WINDOW,
    ).order_by("created_at")
    for candidate in candidates:
        try:
            with transaction.atomic():
                return apply_upstream_state(
                    candidate,
                    snapshot,
                    actor=ACTOR,
                    outcome=Outcome(order_status="failed", order_error="lost order found upstream and closed"),
                )
        except IntegrityError:
            continue  # another run attached this upstream id first
    return None


def _dispose_unknown(
    tenant: Tenant,
    snapshot: Snapshot,
    *,
    activation: Activation | None,
    client,
    kind: str = ReconciliationIssue.Kind.UNKNOWN_UPSTREAM,
) -> None:
    now = int(timezone.now().timestamp())
    action = NOTHING_TO_DO
    if snapshot.activation_status == ActivationStatus.ACTIVE:
        try:
            if snapshot.sms_status == SmsStatus.REQUESTED and snapshot.can_cancel(now):
                client.cancel_activation(snapshot.activation_id)
                action = "canceled upstream"
            elif snapshot.billing_status == BillingStatus.BILLED:
                client.finalize_activation(snapshot.activation_id)
                action = "finalized upstream (already billed to the reseller)"
            else:
                action = "left to expire upstream (not cancelable yet)"
        except upstream.PlatfoneError as exc:
            action = f"retry later: {type(exc).__name__}"
    if activation is None and snapshot.billing_status == BillingStatus.BILLED and snapshot.price > 0:
        # No order of ours to book it on: the reseller's cost is still booked, once per upstream activation.
        wallet.record_upstream_cost(
            tenant=tenant,
            amount_cents=snapshot.price,
            idempotency_key=f"upstream:{tenant.pk}:{snapshot.activation_id}:cost",
            reference=f"upstream:{snapshot.activation_id}",
            actor=ACTOR,
        )
    issue_record(
        tenant,
        kind,
        snapshot.activation_id,
        activation=activation,
        detail={
            "service_id": snapshot.service_id,
            "country_id": snapshot.country_id,
            "price": snapshot.price,
            "sms_status": snapshot.sms_status,
            "activation_status": snapshot.activation_status,
            "billing_status": snapshot.billing_status,
        },
        action=action,
    )


def _close_lost_orders(tenant: Tenant, *, oldest_seen: int | None, complete: bool, report: ReconcileReport) -> None:
    """Lost orders inside the stretch of history we read, that it did not show, never reached the upstream."""
    newest = timezone.now() - LOST_ORDER_MATCH_WINDOW  # younger ones may still be on their way into the history
    unmatched = Activation.objects.filter(
        tenant=tenant, order_status=Activation.OrderStatus.LOST, upstream_id__isnull=True, created_at__lte=newest
    )
    if not complete:
        if oldest_seen is None:
            return
        unmatched = unmatched.filter(
            created_at__gte=datetime.fromtimestamp(oldest_seen, tz=UTC) + LOST_ORDER_MATCH_WINDOW
        )

    def close(activation: Activation) -> None:
        apply_upstream_state(
            activation, None, actor=ACTOR, outcome=Outcome(order_status="failed", order_error="never reached upstream")
        )
        report.lost_failed.append(activation.pk)

    each_isolated(unmatched, close, what=f"close lost orders of {tenant.slug}")


def reconciliation_issue_resolve(*, issue: ReconciliationIssue) -> bool:
    """Mark an issue as dealt with by an operator. Compare-and-set: False when it already was resolved."""
    return bool(
        ReconciliationIssue.objects.filter(pk=issue.pk, resolved_at__isnull=True).update(resolved_at=timezone.now())
    )
