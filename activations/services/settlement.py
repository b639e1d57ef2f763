"""The one place an activation's state changes and its money settles: ``apply_upstream_state``.

Every path (the create call, get, poll, cancel, webhooks, beat tasks, reconciliation) funnels a snapshot
of the upstream activation, or a local fact, through it. Settlement is idempotent by construction: every
wallet call carries a key unique per activation and kind (``activation:<id>:charge`` ...), so racing
callers charge the user exactly once and refund at most once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from activations.models import Activation, ActivationEvent, ReconciliationIssue
from activations.services import customer_events
from activations.services.snapshots import values_from_snapshot
from platfone.types import ENDED, ActivationStatus, BillingStatus, ReportStatus
from platfone.types import Activation as Snapshot
from wallet import selectors as wallet_selectors
from wallet import services as wallet

logger = logging.getLogger(__name__)

OrderStatus = Activation.OrderStatus
# Order statuses only move forward, along these arrows (the one table of them). A lost order (its answer never
# came) is closed as failed by reconciliation, or placed after all only with a fresh hold (``adopt_hold_id``).
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.ORDERING: frozenset({OrderStatus.PLACED, OrderStatus.FAILED, OrderStatus.LOST}),
    OrderStatus.LOST: frozenset({OrderStatus.FAILED, OrderStatus.PLACED}),
    OrderStatus.PLACED: frozenset(),
    OrderStatus.FAILED: frozenset(),
}


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
    """A local fact to apply together with (or instead of) an upstream snapshot.

    ``adopt_hold_id``: a lost order whose answer came late is placed after all, on this fresh hold.
    """

    order_status: str | None = None
    order_error: str = ""
    cancel_requested: bool = False
    closing_for_refund: bool = False  # a user's cancel after the SMS is closing the number for a refund
    local_expiry: bool = False
    adopt_hold_id: int | None = None
    refund_requested: bool = False  # an operator refunds a charged activation (the reseller bears the cost)
    synced_at: datetime | None = None  # the snapshot was just read from the upstream (``last_synced_at``)


def apply_upstream_state(
    activation: Activation | int,
    snapshot: Snapshot | None,
    *,
    actor: str,
    outcome: Outcome | None = None,
    row_locked: bool = False,
) -> Activation:
    """Record ``snapshot`` (and/or a local ``outcome``) on the activation, then settle its money.

    Locks the activation row (``select_for_update``) for the whole transaction. A snapshot whose
    ``updated_at`` is older than the one already recorded is ignored as stale (an equal one is applied
    again, harmlessly), and so is one that would bring an ended activation back to active. Order statuses only
    move along ``ORDER_TRANSITIONS``. Settlement after the update converges in this one call and is
    idempotent: charge once when an SMS has arrived, release the hold when the activation ended without one,
    refund once after an approved report or a cancel after the charge (booking the supplier's price as a
    refund loss when the supplier kept it). What changed is announced to the activation's owner
    (``customer_events``: code received, expired, canceled, refunded) in the same transaction, once per change.
    Returns the activation as stored after the change.

    ``row_locked=True``: ``activation`` is an instance the caller locked (``select_for_update``) and read in the
    transaction it is still in; it is used as is instead of being locked and read again.
    """
    activation_id = activation if isinstance(activation, int) else activation.pk
    outcome = outcome or Outcome()
    if row_locked and not (isinstance(activation, Activation) and transaction.get_connection().in_atomic_block):
        raise RuntimeError("row_locked needs the locked activation, inside the transaction that locked it")
    with transaction.atomic(savepoint=not row_locked):
        if row_locked:
            assert isinstance(activation, Activation)
            locked = activation
        else:
            # of=self: lock the activation only, not the joined tenant row (that serialized every settlement of
            # a tenant and deadlocked against orders, whose foreign-key checks need a share lock on the tenant).
            locked = Activation.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=activation_id)
        before = customer_events.observe(locked)
        changed = []
        if snapshot is not None and not _is_stale(locked, snapshot):
            changed += _record_snapshot(locked, snapshot)
        if outcome.order_status and locked.order_status != outcome.order_status:
            changed += _move_order(locked, outcome, actor=actor)
        if outcome.synced_at is not None:
            locked.last_synced_at = outcome.synced_at
            changed.append("last_synced_at")
        if outcome.cancel_requested and locked.cancel_requested_at is None:
            locked.cancel_requested_at = timezone.now()
            changed.append("cancel_requested_at")
        if outcome.closing_for_refund and locked.closing_for_refund_at is None:
            locked.closing_for_refund_at = timezone.now()
            changed.append("closing_for_refund_at")
        if outcome.refund_requested and locked.refund_requested_at is None:
            locked.refund_requested_at = timezone.now()
            changed.append("refund_requested_at")
        if locked.sms_received and locked.sms_received_at is None:
            locked.sms_received_at = timezone.now()
            changed.append("sms_received_at")
        if outcome.local_expiry and not locked.sms_received and locked.activation_status == ActivationStatus.ACTIVE:
            locked.activation_status = ActivationStatus.EXPIRED
            changed.append("activation_status")
        events: list[ActivationEvent] = []
        if changed:
            events.append(
                _event(
                    locked.pk,
                    actor=actor,
                    kind="state",
                    fields=sorted(set(changed)),
                    sms_status=locked.sms_status,
                    activation_status=locked.activation_status,
                )
            )
        billing_before = locked.billing_status
        # The wallet moves first (under its own locks); the row, already locked, is written once afterwards with
        # every change, and the events in one insert, in the order they happened.
        _settle(locked, actor=actor, events=events)
        if locked.billing_status != billing_before:
            changed.append("billing_status")
        if changed:
            locked.save(update_fields=[*set(changed), "updated_at"])
        ActivationEvent.objects.bulk_create(events)
        customer_events.announce(before, locked)
    return locked


def _event(activation_id: int, *, actor: str, kind: str, **detail) -> ActivationEvent:
    return ActivationEvent(activation_id=activation_id, actor=actor, kind=kind, detail=detail)


def _is_stale(activation: Activation, snapshot: Snapshot) -> bool:
    if activation.activation_status in ENDED and snapshot.activation_status == ActivationStatus.ACTIVE:
        return True  # ended is final upstream: an "active" snapshot is an old read, whatever its timestamp
    return activation.upstream_updated_at is not None and snapshot.updated_at < activation.upstream_updated_at


def _move_order(activation: Activation, outcome: Outcome, *, actor: str) -> list[str]:
    """Move the order status along ``ORDER_TRANSITIONS``; anything else is refused (logged, nothing changes)."""
    target = outcome.order_status or activation.order_status
    allowed = target in ORDER_TRANSITIONS[activation.order_status]
    if activation.order_status == OrderStatus.LOST and target == OrderStatus.PLACED:
        allowed = outcome.adopt_hold_id is not None  # placed after all only on a fresh hold
    if not allowed:
        logger.warning("activation %s: order %s -> %s refused", activation.pk, activation.order_status, target)
        record_event(
            activation.pk, actor=actor, kind="order_transition_refused", old=activation.order_status, new=target
        )
        return []
    changed = ["order_status", "order_error"]
    activation.order_status, activation.order_error = target, outcome.order_error[:200]
    if outcome.adopt_hold_id is not None:
        activation.hold_id, activation.billing_status = outcome.adopt_hold_id, Activation.BillingStatus.HELD
        changed += ["hold_id", "billing_status"]
    return changed


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


def _settle(activation: Activation, *, actor: str, events: list[ActivationEvent]) -> None:
    """Move the money the activation's current state calls for, until it needs nothing more: one call
    converges (a first snapshot showing the SMS and an approved report charges, then refunds). Each step
    moves ``billing_status`` forward, so this ends after a few passes. Runs under the row lock."""
    for _ in range(len(Activation.BillingStatus)):
        before = activation.billing_status
        _settle_step(activation, actor=actor, events=events)
        if activation.billing_status == before:
            return


def _settle_step(activation: Activation, *, actor: str, events: list[ActivationEvent]) -> None:
    billing = activation.billing_status
    status = Activation.BillingStatus
    if billing == status.HELD:
        if activation.sms_received and activation.order_status == OrderStatus.PLACED:
            _charge(activation, actor=actor, events=events)
        elif activation.order_status in {
            OrderStatus.FAILED,
            OrderStatus.LOST,
        } or activation.activation_status in {ActivationStatus.EXPIRED, ActivationStatus.CANCELED}:
            _release(activation, actor=actor, events=events)
    elif billing == status.BILLED:
        if _upstream_refunded(activation):
            _refund(activation, actor=actor, supplier_refunded=True, events=events)
        elif (
            activation.cancel_requested_at is not None and activation.tenant.refund_on_cancel_after_sms
        ) or activation.refund_requested_at is not None:  # a user's cancel after the SMS, or an operator's refund
            _refund(activation, actor=actor, supplier_refunded=False, events=events)
    elif billing == status.REFUNDED and _upstream_refunded(activation):
        # The user was refunded on cancel before the upstream approved a report: the user is not refunded
        # again, but Platfone refunded the reseller, so the cost (or its refund loss) is reversed, once by key.
        _reverse_upstream_cost(activation, actor=actor)
    elif billing == status.RELEASED and activation.sms_received:
        # The SMS showed up after the hold was released (a local expiry, or a lost order found upstream): the
        # user is not charged, the reseller's upstream cost is booked, and operators are told.
        if activation.upstream_billing_status == BillingStatus.BILLED:
            _record_upstream_cost(activation, actor=actor)
        elif _upstream_refunded(activation):
            _reverse_upstream_cost(activation, actor=actor)
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


def _set_billing(activation: Activation, value: str, *, actor: str, kind: str, events: list[ActivationEvent]) -> None:
    """Move ``billing_status`` (saved by ``apply_upstream_state`` with the rest of the row) and note the event."""
    activation.billing_status = value
    events.append(_event(activation.pk, actor=actor, kind=kind))


def _charge(activation: Activation, *, actor: str, events: list[ActivationEvent]) -> None:
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
    _set_billing(activation, Activation.BillingStatus.BILLED, actor=actor, kind="charged", events=events)


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


def _release(activation: Activation, *, actor: str, events: list[ActivationEvent]) -> None:
    if activation.hold_id is not None:
        wallet.release_hold(hold_id=activation.hold_id)
    _set_billing(activation, Activation.BillingStatus.RELEASED, actor=actor, kind="released", events=events)


def _refund(activation: Activation, *, actor: str, supplier_refunded: bool, events: list[ActivationEvent]) -> None:
    """Refund the user once. The supplier's price is reversed when the supplier refunded it (an approved
    report), or booked as a refund loss when it kept it (the user canceled after the SMS)."""
    wallet.refund(
        charge_idempotency_key=settlement_key(activation.pk, "charge"),
        idempotency_key=settlement_key(activation.pk, "refund"),
        description=f"Refund #{activation.pk}",
        actor=actor,
    )
    if supplier_refunded:
        _reverse_upstream_cost(activation, actor=actor)
    elif activation.price_cents:
        wallet.write_off_upstream_cost(
            original_idempotency_key=settlement_key(activation.pk, "upstream-cost"),
            idempotency_key=settlement_key(activation.pk, "refund-loss"),
            actor=actor,
        )
    _set_billing(activation, Activation.BillingStatus.REFUNDED, actor=actor, kind="refunded", events=events)


def _reverse_upstream_cost(activation: Activation, *, actor: str) -> None:
    cost_key = settlement_key(activation.pk, "upstream-cost")
    # A late SMS on a released hold books the cost only when the supplier billed it: nothing to reverse otherwise.
    if activation.price_cents and wallet_selectors.entry_posted(idempotency_key=cost_key):
        wallet.reverse_upstream_cost(
            original_idempotency_key=cost_key,
            idempotency_key=settlement_key(activation.pk, "upstream-cost-reversal"),
            actor=actor,
        )
