"""The one place an activation's state changes and its money settles: ``apply_upstream_state``.

Every path (the create call, get, poll, cancel, webhooks, beat tasks, reconciliation) funnels a snapshot
of the upstream activation, or a local fact, through it. Settlement is idempotent by construction: every
wallet call carries a key unique per activation and kind (``activation:<id>:charge`` ...), so racing
callers charge the user exactly once and refund at most once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from activations.models import Activation, ActivationEvent, ReconciliationIssue
from activations.services.snapshots import values_from_snapshot
from platfone.types import Activation as Snapshot
from platfone.types import ActivationStatus, BillingStatus, ReportStatus
from wallet import services as wallet

logger = logging.getLogger(__name__)


def ledger_reference(activation_id: int) -> str:
    """What the ledger calls an activation's money (opaque to it)."""
    return f"activation:{activation_id}"


def settlement_key(activation_id: int, kind: str) -> str:
    return f"{ledger_reference(activation_id)}:{kind}"


def record_event(activation_id: int, *, actor: str, kind: str, **detail) -> None:
    ActivationEvent.objects.create(activation_id=activation_id, actor=actor, kind=kind, detail=detail)


# --- the one state transition ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A local fact to apply together with (or instead of) an upstream snapshot."""

    order_status: str | None = None
    order_error: str = ""
    cancel_requested: bool = False
    local_expiry: bool = False
    refund_requested: bool = False  # an operator refunds a charged activation (the reseller bears the cost)


def apply_upstream_state(
    activation: Activation | int,
    snapshot: Snapshot | None,
    *,
    actor: str,
    outcome: Outcome | None = None,
) -> Activation:
    """Record ``snapshot`` (and/or a local ``outcome``) on the activation, then settle its money.

    Locks the activation row (``select_for_update``) for the whole transaction. A snapshot whose
    ``updated_at`` is older than the one already recorded is ignored as stale (an equal one is applied
    again, harmlessly). Settlement after the update is idempotent: charge once when an SMS has arrived,
    release the hold when the activation ended without one, refund once after an approved report or a
    cancel after the charge. Returns the activation as stored after the change.
    """
    activation_id = activation if isinstance(activation, int) else activation.pk
    outcome = outcome or Outcome()
    with transaction.atomic():
        # of=self: lock the activation only, not the joined tenant row (that serialized every settlement of a
        # tenant and deadlocked against orders, whose foreign-key checks need a share lock on the tenant).
        locked = Activation.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=activation_id)
        changed = []
        if snapshot is not None and not _is_stale(locked, snapshot):
            changed += _record_snapshot(locked, snapshot)
        if outcome.order_status and locked.order_status != outcome.order_status:
            locked.order_status = outcome.order_status
            locked.order_error = outcome.order_error[:200]
            changed += ["order_status", "order_error"]
        if outcome.cancel_requested and locked.cancel_requested_at is None:
            locked.cancel_requested_at = timezone.now()
            changed.append("cancel_requested_at")
        if outcome.refund_requested and locked.refund_requested_at is None:
            locked.refund_requested_at = timezone.now()
            changed.append("refund_requested_at")
        if locked.sms_received and locked.sms_received_at is None:
            locked.sms_received_at = timezone.now()
            changed.append("sms_received_at")
        if outcome.local_expiry and not locked.sms_received and locked.activation_status == ActivationStatus.ACTIVE:
            locked.activation_status = ActivationStatus.EXPIRED
            changed.append("activation_status")
        if changed:
            locked.save(update_fields=[*set(changed), "updated_at"])
            record_event(
                locked.pk,
                actor=actor,
                kind="state",
                fields=sorted(set(changed)),
                sms_status=locked.sms_status,
                activation_status=locked.activation_status,
            )
        _settle(locked, actor=actor)
    return locked


def _is_stale(activation: Activation, snapshot: Snapshot) -> bool:
    return activation.upstream_updated_at is not None and snapshot.updated_at < activation.upstream_updated_at


def _record_snapshot(activation: Activation, snapshot: Snapshot) -> list[str]:
    values = values_from_snapshot(snapshot)
    if activation.sms_received and not (snapshot.sms_code or snapshot.sms_text):
        # A code once delivered stays visible, whatever a later snapshot omits.
        values.pop("sms_code")
        values.pop("sms_text")
    if activation.price_cents is None:
        values["price_cents"] = snapshot.price
    changed = [name for name, value in values.items() if getattr(activation, name) != value]
    for name in changed:
        setattr(activation, name, values[name])
    return changed


def _settle(activation: Activation, *, actor: str) -> None:
    """Move the money the activation's current state calls for. Runs under the row lock."""
    billing = activation.billing_status
    status = Activation.BillingStatus
    if billing == status.HELD:
        if activation.sms_received and activation.order_status == Activation.OrderStatus.PLACED:
            _charge(activation, actor=actor)
        elif activation.order_status in {
            Activation.OrderStatus.FAILED,
            Activation.OrderStatus.LOST,
        } or activation.activation_status in {ActivationStatus.EXPIRED, ActivationStatus.CANCELED}:
            _release(activation, actor=actor)
    elif billing == status.BILLED:
        approved_report = _upstream_refunded(activation)
        user_cancel = activation.cancel_requested_at is not None and activation.tenant.refund_on_cancel_after_sms
        operator_refund = activation.refund_requested_at is not None
        if approved_report or user_cancel or operator_refund:
            _refund(activation, actor=actor, reverse_upstream_cost=approved_report)
    elif billing == status.REFUNDED and _upstream_refunded(activation):
        # The user was refunded on cancel before the upstream approved a report: the user is not refunded
        # again, but Platfone refunded the reseller, so the upstream cost is reversed (once, by key).
        _reverse_upstream_cost(activation, actor=actor)
    elif billing == status.RELEASED and activation.sms_received:
        # The SMS showed up after the hold was released (a local expiry, or a lost order found upstream): the
        # user is not charged, the reseller's upstream cost is booked, and operators are told.
        if activation.upstream_billing_status == BillingStatus.BILLED:
            _record_upstream_cost(activation, actor=actor)
        ReconciliationIssue.objects.get_or_create(
            tenant=activation.tenant,
            kind=ReconciliationIssue.Kind.LATE_SMS,
            upstream_id=activation.upstream_id or "",
            defaults={
                "activation": activation,
                "action": "left unbilled",
                "detail": {"price_cents": activation.price_cents},
            },
        )


def _upstream_refunded(activation: Activation) -> bool:
    return (
        activation.upstream_billing_status == BillingStatus.REFUNDED
        or activation.report_status == ReportStatus.APPROVED
    )


def _set_billing(activation: Activation, value: str, *, actor: str, kind: str) -> None:
    activation.billing_status = value
    activation.save(update_fields=["billing_status", "updated_at"])
    record_event(activation.pk, actor=actor, kind=kind)


def _charge(activation: Activation, *, actor: str) -> None:
    if activation.hold_id is None:  # a placed order always has its hold (ordering sets it before the call)
        raise RuntimeError(f"activation #{activation.pk} is placed without a hold")
    wallet.charge(
        hold_id=activation.hold_id,
        idempotency_key=settlement_key(activation.pk, "charge"),
        description=f"SMS {activation.service_id} {activation.country_id} #{activation.pk}",
        actor=actor,
        reference=ledger_reference(activation.pk),
    )
    _record_upstream_cost(activation, actor=actor)
    _set_billing(activation, Activation.BillingStatus.BILLED, actor=actor, kind="charged")


def _record_upstream_cost(activation: Activation, *, actor: str) -> None:
    """What the reseller owes the upstream for this activation; once, by key."""
    if activation.price_cents:
        wallet.record_upstream_cost(
            tenant=activation.tenant,
            amount_cents=activation.price_cents,
            idempotency_key=settlement_key(activation.pk, "upstream-cost"),
            reference=ledger_reference(activation.pk),
            actor=actor,
        )


def _release(activation: Activation, *, actor: str) -> None:
    if activation.hold_id is not None:
        wallet.release_hold(hold_id=activation.hold_id)
    _set_billing(activation, Activation.BillingStatus.RELEASED, actor=actor, kind="released")


def _refund(activation: Activation, *, actor: str, reverse_upstream_cost: bool) -> None:
    wallet.refund(
        charge_idempotency_key=settlement_key(activation.pk, "charge"),
        idempotency_key=settlement_key(activation.pk, "refund"),
        description=f"Refund #{activation.pk}",
        actor=actor,
    )
    if reverse_upstream_cost:
        _reverse_upstream_cost(activation, actor=actor)
    _set_billing(activation, Activation.BillingStatus.REFUNDED, actor=actor, kind="refunded")


def _reverse_upstream_cost(activation: Activation, *, actor: str) -> None:
    if activation.price_cents:
        wallet.reverse_upstream_cost(
            original_idempotency_key=settlement_key(activation.pk, "upstream-cost"),
            idempotency_key=settlement_key(activation.pk, "upstream-cost-reversal"),
            actor=actor,
        )
