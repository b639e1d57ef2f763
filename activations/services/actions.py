"""What can be done to an activation after ordering it: cancel, retry, finalize, report."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts import services as accounts_services
from activations import errors
from activations.models import Activation
from activations.services.settlement import Outcome, apply_upstream_state, record_event
from activations.services.snapshots import snapshot_from_activation
from catalog.upstream import client_for_tenant, fair_share_error, spender_of
from core.errors import DomainError, UpstreamUnavailable
from platfone import errors as upstream
from platfone.types import ActivationStatus, BillingStatus, ReportReason, ReportResult, SmsStatus

logger = logging.getLogger(__name__)

REFUND_LIMIT_WINDOW = timedelta(hours=24)


def activation_cancel(*, activation: Activation, actor: str) -> Activation:
    """Cancel for the user. Before an SMS: cancel upstream and release the hold. After an SMS (charged), while
    the activation is still active and the tenant allows it: finalize upstream FIRST (no further SMS can arrive
    on a number we refund), then refund once, booking the supplier's price as a refund loss; at most the
    tenant's ``max_refunds_after_sms_per_day`` such refunds per user per 24 h. A refunded activation is closed
    for good.

    The one rule for an activation that has ended (``_ended_cancel_answer``, the README's and the API schema's
    wording): a cancel that already happened answers the same again (safe to retry, changes nothing); any other
    end (finalized, expired, refunded by a report or an operator) is ``NotCancelable``, saying why.
    Raises ``NotCancelable`` / ``NotCancelableYet`` / ``RefundLimitReached`` / ``OrderInProgress`` /
    ``UpstreamUnavailable`` (nothing was refunded).
    """
    if activation.order_status == Activation.OrderStatus.ORDERING:
        raise errors.OrderInProgress()
    if activation.order_status != Activation.OrderStatus.PLACED:
        return activation  # failed or lost orders never held money past their failure (and are never shown)
    if activation.closing_for_refund_at is None and _ended_cancel_answer(activation) is not None:
        return activation

    client = client_for_tenant(activation.tenant, spender=spender_of(actor))
    upstream_id = _placed_upstream_id(activation)
    if not activation.sms_received and activation.activation_status == ActivationStatus.ACTIVE:
        now = timezone.now()
        if activation.cancelable_after is None:
            raise errors.NotCancelable("This number cannot be canceled; it is released when it expires.")
        if now < activation.cancelable_after:
            raise errors.NotCancelableYet(
                "This number cannot be canceled yet.", cancelable_at=int(activation.cancelable_after.timestamp())
            )
        try:
            client.cancel_activation(upstream_id)
            canceled_upstream = True
        except upstream.BadRequest:
            canceled_upstream = False  # refused: most likely the SMS just arrived; a fresh snapshot tells
        except upstream.PlatfoneError as exc:
            raise _supplier_failed(exc, "Our number supplier did not confirm the cancel; try again shortly.") from exc
        activation = _sync_now(
            activation, client=client, actor=actor, confirmed=ActivationStatus.CANCELED if canceled_upstream else None
        )
        if not activation.sms_received:
            if activation.activation_status == ActivationStatus.ACTIVE:
                raise errors.NotCancelable(
                    "The supplier refused to cancel this number; it is released when it expires."
                )
            return activation

    if activation.sms_received:
        if not activation.tenant.refund_on_cancel_after_sms:
            raise errors.NotCancelable("The SMS has already arrived; this activation can no longer be canceled.")
        if activation.activation_status != ActivationStatus.ACTIVE:
            if activation.closing_for_refund_at is not None:
                # A cancel closed this number for its refund: another cancel at the same moment, or a retry of
                # one cut short between the supplier's close and the refund. Finish that refund (once, by key).
                return _refund_after_sms(activation, actor=actor)
            # The document's refund on cancel is for a number the user abandons; once finalized or expired
            # the code has been used (or the window is over), so canceling is no longer a free refund.
            raise errors.NotCancelable("This activation is finished; it can no longer be canceled.")
        _check_refund_limit(activation)
        activation = apply_upstream_state(activation, None, actor=actor, outcome=Outcome(closing_for_refund=True))
        activation = _close_upstream(activation, client=client, upstream_id=upstream_id, actor=actor)
        return _refund_after_sms(activation, actor=actor)
    return activation


def _ended_cancel_answer(activation: Activation) -> Activation | None:
    """What a cancel of an activation that can no longer change answers: the activation itself when a cancel
    already did its work (canceled before the SMS, or refunded by a cancel after it: a retried cancel succeeds
    again and changes nothing); ``NotCancelable`` for any other end; None while the activation is open (the
    cancel rules apply). A cancel cut short between the supplier's close and the refund is open: the next cancel
    finishes it (``closing_for_refund_at``)."""
    if activation.activation_status == ActivationStatus.CANCELED:
        return activation
    if activation.billing_status == Activation.BillingStatus.REFUNDED:
        if activation.cancel_requested_at is not None:
            return activation
        raise errors.NotCancelable("This activation was already refunded; it can no longer be canceled.")
    if activation.billing_status == Activation.BillingStatus.RELEASED:
        raise errors.NotCancelable(
            "This activation ended without an SMS and nothing was charged; there is nothing to cancel."
        )
    if activation.activation_status in {ActivationStatus.FINALIZED, ActivationStatus.EXPIRED}:
        if activation.sms_received and activation.tenant.refund_on_cancel_after_sms:
            # The document's refund on cancel is for a number the user abandons; once finalized or expired
            # the code has been used (or the window is over), so canceling is no longer a free refund.
            raise errors.NotCancelable("This activation is finished; it can no longer be canceled.")
        if activation.sms_received:
            raise errors.NotCancelable("The SMS has already arrived; this activation can no longer be canceled.")
        raise errors.NotCancelable("This activation has ended; it can no longer be canceled.")
    return None


def activation_refund(*, activation: Activation, actor: str) -> Activation:
    """An operator's (goodwill) refund of a charged activation, through the settlement rules: like a user's
    cancel after the SMS, the number is closed at the supplier first (no further SMS on a refunded number),
    then the charge is refunded once (by its settlement key) and the supplier's price booked as a refund loss
    unless the supplier refunds it later. Refunding a refunded activation is harmless. Raises ``NotRefundable``
    for an activation that was never charged, ``UpstreamUnavailable`` (nothing refunded) when the supplier
    cannot confirm the close.
    """
    if activation.billing_status == Activation.BillingStatus.REFUNDED:
        return activation
    if activation.billing_status != Activation.BillingStatus.BILLED:
        raise errors.NotRefundable(
            f"Activation #{activation.pk} was not charged ({activation.get_billing_status_display().lower()}): "
            "there is nothing to refund."
        )
    if activation.activation_status == ActivationStatus.ACTIVE:
        client = client_for_tenant(activation.tenant, spender=spender_of(actor))
        activation = _close_upstream(
            activation, client=client, upstream_id=_placed_upstream_id(activation), actor=actor
        )
    return apply_upstream_state(activation, None, actor=actor, outcome=Outcome(refund_requested=True))


def _close_upstream(activation: Activation, *, client, upstream_id: str, actor: str) -> Activation:
    """Finalize the activation at the supplier and record it: before any refund, so no further SMS can reach a
    number whose money went back. Raises ``UpstreamUnavailable`` (the supplier did not confirm; nothing
    refunded) or ``NotCancelable`` (it refused and the number is still active)."""
    try:
        client.finalize_activation(upstream_id)
        finalized = True
    except upstream.BadRequest:
        finalized = False  # refused: it may have ended meanwhile; the fresh snapshot tells
    except upstream.PlatfoneError as exc:
        raise _supplier_failed(
            exc, "Our number supplier did not confirm closing this number; nothing was refunded. Try again shortly."
        ) from exc
    activation = _sync_now(
        activation, client=client, actor=actor, confirmed=ActivationStatus.FINALIZED if finalized else None
    )
    if activation.activation_status == ActivationStatus.ACTIVE:
        raise errors.NotCancelable("The supplier refused to close this number; it can no longer be refunded.")
    return activation


def _refunds_after_sms_today(user_id: int) -> int:
    since = timezone.now() - REFUND_LIMIT_WINDOW
    return Activation.objects.filter(user_id=user_id, cancel_requested_at__gte=since).count()


def _check_refund_limit(activation: Activation) -> None:
    limit = activation.tenant.max_refunds_after_sms_per_day
    if _refunds_after_sms_today(activation.user_id) >= limit:
        raise errors.RefundLimitReached(
            f"You have canceled {limit} numbers for a refund after their SMS arrived in the last 24 hours, "
            "the most this storefront allows; this one can no longer be refunded.",
            limit=limit,
        )


@transaction.atomic
def _refund_after_sms(activation: Activation, *, actor: str) -> Activation:
    # The user's row serializes this user's refund decisions: two cancels at once cannot both pass the limit.
    accounts_services.user_row_lock(user_id=activation.user_id)
    activation.refresh_from_db()
    if activation.cancel_requested_at is not None:
        return activation  # another cancel refunded it meanwhile
    _check_refund_limit(activation)
    return apply_upstream_state(activation, None, actor=actor, outcome=Outcome(cancel_requested=True))


def _sync_now(activation: Activation, *, client, actor: str, confirmed: str | None) -> Activation:
    """Read the activation back after a cancel or finalize and apply it. When the upstream ``confirmed`` the
    action but cannot be read back, what we know happened is recorded."""
    try:
        snapshot = client.get_activation(_placed_upstream_id(activation))
    except upstream.PlatfoneError as exc:
        if confirmed is None:
            raise UpstreamUnavailable("Our number supplier did not confirm the change; try again shortly.") from exc
        billing = (
            BillingStatus.RELEASED if confirmed == ActivationStatus.CANCELED else activation.upstream_billing_status
        )
        snapshot = snapshot_from_activation(
            activation,
            activation_status=confirmed,
            billing_status=billing,
            updated_at=max(activation.upstream_updated_at or 0, int(timezone.now().timestamp())),
        )
    return apply_upstream_state(activation, snapshot, actor=actor)


def _supplier_failed(exc: upstream.PlatfoneError, message: str) -> DomainError:
    """What the user is told when a supplier call failed: their own fair share is spent, or the supplier is down
    (``message``)."""
    if isinstance(exc, upstream.FairShareExceeded):
        return fair_share_error(exc)
    return UpstreamUnavailable(message)


def _placed_upstream_id(activation: Activation) -> str:
    """The supplier's id of a placed activation; ``OrderInProgress`` while the order is still being placed."""
    if activation.order_status != Activation.OrderStatus.PLACED or not activation.upstream_id:
        raise errors.OrderInProgress()
    return activation.upstream_id


def _after_action(activation: Activation, *, client, actor: str) -> Activation:
    """Read the activation back after an action the upstream accepted, and apply it."""
    try:
        snapshot = client.get_activation(_placed_upstream_id(activation))
    except upstream.PlatfoneError:
        Activation.objects.filter(pk=activation.pk).update(last_synced_at=None)  # the next read syncs
        return Activation.objects.get(pk=activation.pk)
    return apply_upstream_state(activation, snapshot, actor=actor)


def activation_retry(*, activation: Activation, actor: str) -> Activation:
    """Ask for another SMS on the same number (free: the first SMS was the billed one).

    Allowed when the upstream allows it: ``is_retriable``, an SMS received, and the activation active.
    Raises ``NotRetriable`` / ``UpstreamUnavailable``.
    """
    upstream_id = _placed_upstream_id(activation)
    if activation.billing_status == Activation.BillingStatus.REFUNDED:
        raise errors.NotRetriable("This activation was refunded; it is closed for good.")
    if not (activation.retriable and activation.sms_status in {SmsStatus.RECEIVED, SmsStatus.RETRY_RECEIVED}):
        raise errors.NotRetriable(
            "Another SMS can be requested only for an active, retriable activation after its SMS arrived."
        )
    client = client_for_tenant(activation.tenant, spender=spender_of(actor))
    try:
        client.retry_activation(upstream_id)
    except upstream.BadRequest as exc:
        raise errors.NotRetriable("The supplier refused another SMS for this number.") from exc
    except upstream.PlatfoneError as exc:
        raise _supplier_failed(exc, "Our number supplier did not answer; try again shortly.") from exc
    return _after_action(activation, client=client, actor=actor)


def activation_finalize(*, activation: Activation, actor: str) -> Activation:
    """Close the activation upstream (no more SMS), freeing one of the account's 20 active slots.

    Allowed once the SMS arrived (and so was charged). Finalizing a finalized activation is harmless.
    Raises ``NotFinalizable`` / ``UpstreamUnavailable``.
    """
    upstream_id = _placed_upstream_id(activation)
    if activation.billing_status == Activation.BillingStatus.REFUNDED:
        raise errors.NotFinalizable("This activation was refunded; it is closed for good.")
    if activation.activation_status == ActivationStatus.FINALIZED:
        return activation
    if activation.activation_status != ActivationStatus.ACTIVE or not activation.sms_received:
        raise errors.NotFinalizable("Only an active activation whose SMS arrived can be finalized.")
    client = client_for_tenant(activation.tenant, spender=spender_of(actor))
    try:
        client.finalize_activation(upstream_id)
    except upstream.BadRequest as exc:
        refreshed = _after_action(activation, client=client, actor=actor)
        if refreshed.activation_status == ActivationStatus.FINALIZED:
            return refreshed
        raise errors.NotFinalizable("The supplier refused to finalize this activation.") from exc
    except upstream.PlatfoneError as exc:
        raise _supplier_failed(exc, "Our number supplier did not answer; try again shortly.") from exc
    return _after_action(activation, client=client, actor=actor)


def activation_report_reasons(*, activation: Activation, actor: str) -> list[ReportReason]:
    """The reasons a report can be filed for now (they depend on the activation's state upstream)."""
    upstream_id = _placed_upstream_id(activation)
    try:
        return client_for_tenant(activation.tenant, spender=spender_of(actor)).report_reasons(upstream_id)
    except upstream.NotFound as exc:
        raise errors.NotReportable("This activation cannot be reported.") from exc
    except upstream.PlatfoneError as exc:
        raise _supplier_failed(exc, "Our number supplier did not answer; try again shortly.") from exc


def activation_report(
    *, activation: Activation, reason_id: int, message: str | None, evidence: bytes | None, actor: str
) -> ReportResult:
    """File the activation's one report with the upstream. An approved report refunds the user once,
    when it is seen (webhook, poll or the background sync) — through ``apply_upstream_state``."""
    upstream_id = _placed_upstream_id(activation)
    client = client_for_tenant(activation.tenant, spender=spender_of(actor))
    try:
        result = client.create_report(upstream_id, reason_id=reason_id, message=message, evidence=evidence)
    except (upstream.BadRequest, upstream.NotFound) as exc:
        raise errors.NotReportable(
            f"The supplier refused the report: {exc.error_message or 'invalid reason or report already filed'}."
        ) from exc
    except upstream.PlatfoneError as exc:
        raise _supplier_failed(exc, "Our number supplier did not answer; try again shortly.") from exc
    record_event(
        activation.pk,
        actor=actor,
        kind="reported",
        reason_id=reason_id,
        status=result.status,
        decline_id=result.decline_id,
    )
    _after_action(activation, client=client, actor=actor)
    return result
