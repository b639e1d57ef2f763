"""What can be done to an activation after ordering it: cancel, retry, finalize, report."""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction
from django.utils import timezone

from activations import errors
from activations.models import Activation
from activations.services.settlement import Outcome, apply_upstream_state, record_event
from activations.services.snapshots import snapshot_from_activation
from catalog.upstream import client_for_tenant
from core.errors import UpstreamUnavailable
from platfone import errors as upstream
from platfone.types import ActivationStatus, BillingStatus, ReportReason, ReportResult, SmsStatus

# The Celery task (activations.tasks) that finalizes one activation upstream, queued by name: services are
# what tasks call, never the other way round.
FINALIZE_TASK = "activations.finalize"

logger = logging.getLogger(__name__)


def activation_cancel(*, activation: Activation, actor: str) -> Activation:
    """Cancel for the user. Before an SMS: cancel upstream and release the hold. After an SMS (charged),
    while the activation is still active: refund once when the tenant allows it, and finalize upstream to
    free the slot. Canceling again is harmless.
    Raises ``NotCancelable`` / ``NotCancelableYet`` / ``OrderInProgress`` / ``UpstreamUnavailable``.
    """
    if activation.order_status == Activation.OrderStatus.ORDERING:
        raise errors.OrderInProgress()
    if activation.order_status != Activation.OrderStatus.PLACED:
        return activation  # failed or lost orders never held money past their failure
    if activation.billing_status in {Activation.BillingStatus.RELEASED, Activation.BillingStatus.REFUNDED}:
        return activation
    if activation.activation_status == ActivationStatus.CANCELED:
        return activation

    client = client_for_tenant(activation.tenant)
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
            raise UpstreamUnavailable("Our number supplier did not confirm the cancel; try again shortly.") from exc
        activation = _sync_now(activation, client=client, actor=actor, canceled_upstream=canceled_upstream)
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
            # The document's refund on cancel is for a number the user abandons; once finalized or expired
            # the code has been used (or the window is over), so canceling is no longer a free refund.
            raise errors.NotCancelable("This activation is finished; it can no longer be canceled.")
        activation = apply_upstream_state(activation, None, actor=actor, outcome=Outcome(cancel_requested=True))
        if activation.activation_status == ActivationStatus.ACTIVE:
            # Free the upstream slot in the background: the user's refund does not wait for the upstream.
            finalize = current_app.tasks[FINALIZE_TASK]
            transaction.on_commit(lambda: finalize.delay(activation.pk), robust=True)
        return activation
    return activation


def activation_refund(*, activation: Activation, actor: str) -> Activation:
    """An operator's refund of a charged activation, through the settlement rules: the charge is refunded once
    (by its settlement key), the supplier's cost stays booked (the supplier did not refund it), and an
    activation still active upstream is finalized in the background to free its slot. Refunding a refunded
    activation is harmless. Raises ``NotRefundable`` for an activation that was never charged.
    """
    if activation.billing_status == Activation.BillingStatus.REFUNDED:
        return activation
    if activation.billing_status != Activation.BillingStatus.BILLED:
        raise errors.NotRefundable(
            f"Activation #{activation.pk} was not charged ({activation.get_billing_status_display().lower()}): "
            "there is nothing to refund."
        )
    activation = apply_upstream_state(activation, None, actor=actor, outcome=Outcome(refund_requested=True))
    if activation.activation_status == ActivationStatus.ACTIVE and activation.upstream_id:
        finalize = current_app.tasks[FINALIZE_TASK]
        transaction.on_commit(lambda: finalize.delay(activation.pk), robust=True)
    return activation


def _sync_now(activation: Activation, *, client, actor: str, canceled_upstream: bool) -> Activation:
    try:
        snapshot = client.get_activation(_placed_upstream_id(activation))
    except upstream.PlatfoneError as exc:
        if not canceled_upstream:
            raise UpstreamUnavailable("Our number supplier did not confirm the cancel; try again shortly.") from exc
        # The upstream accepted the cancel but we could not read it back: record what we know happened.
        synthetic = snapshot_from_activation(
            activation,
            activation_status=ActivationStatus.CANCELED,
            billing_status=BillingStatus.RELEASED,
            updated_at=max(activation.upstream_updated_at or 0, int(timezone.now().timestamp())),
        )
        return apply_upstream_state(activation, synthetic, actor=actor)
    return apply_upstream_state(activation, snapshot, actor=actor)


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
    if not (
        activation.is_retriable
        and activation.activation_status == ActivationStatus.ACTIVE
        and activation.sms_status in {SmsStatus.RECEIVED, SmsStatus.RETRY_RECEIVED}
    ):
        raise errors.NotRetriable(
            "Another SMS can be requested only for an active, retriable activation after its SMS arrived."
        )
    client = client_for_tenant(activation.tenant)
    try:
        client.retry_activation(upstream_id)
    except upstream.BadRequest as exc:
        raise errors.NotRetriable("The supplier refused another SMS for this number.") from exc
    except upstream.PlatfoneError as exc:
        raise UpstreamUnavailable("Our number supplier did not answer; try again shortly.") from exc
    return _after_action(activation, client=client, actor=actor)


def activation_finalize(*, activation: Activation, actor: str) -> Activation:
    """Close the activation upstream (no more SMS), freeing one of the account's 20 active slots.

    Allowed once the SMS arrived (and so was charged). Finalizing a finalized activation is harmless.
    Raises ``NotFinalizable`` / ``UpstreamUnavailable``.
    """
    upstream_id = _placed_upstream_id(activation)
    if activation.activation_status == ActivationStatus.FINALIZED:
        return activation
    if activation.activation_status != ActivationStatus.ACTIVE or not activation.sms_received:
        raise errors.NotFinalizable("Only an active activation whose SMS arrived can be finalized.")
    client = client_for_tenant(activation.tenant)
    try:
        client.finalize_activation(upstream_id)
    except upstream.BadRequest as exc:
        refreshed = _after_action(activation, client=client, actor=actor)
        if refreshed.activation_status == ActivationStatus.FINALIZED:
            return refreshed
        raise errors.NotFinalizable("The supplier refused to finalize this activation.") from exc
    except upstream.PlatfoneError as exc:
        raise UpstreamUnavailable("Our number supplier did not answer; try again shortly.") from exc
    return _after_action(activation, client=client, actor=actor)


def activation_report_reasons(*, activation: Activation) -> list[ReportReason]:
    """The reasons a report can be filed for now (they depend on the activation's state upstream)."""
    upstream_id = _placed_upstream_id(activation)
    try:
        return client_for_tenant(activation.tenant).report_reasons(upstream_id)
    except upstream.NotFound as exc:
        raise errors.NotReportable("This activation cannot be reported.") from exc
    except upstream.PlatfoneError as exc:
        raise UpstreamUnavailable("Our number supplier did not answer; try again shortly.") from exc


def activation_report(
    *, activation: Activation, reason_id: int, message: str | None, evidence: bytes | None, actor: str
) -> ReportResult:
    """File the activation's one report with the upstream. An approved report refunds the user once,
    when it is seen (webhook, poll or the background sync) — through ``apply_upstream_state``."""
    upstream_id = _placed_upstream_id(activation)
    client = client_for_tenant(activation.tenant)
    try:
        result = client.create_report(upstream_id, reason_id=reason_id, message=message, evidence=evidence)
    except (upstream.BadRequest, upstream.NotFound) as exc:
        raise errors.NotReportable(
            f"The supplier refused the report: {exc.error_message or 'invalid reason or report already filed'}."
        ) from exc
    except upstream.PlatfoneError as exc:
        raise UpstreamUnavailable("Our number supplier did not answer; try again shortly.") from exc
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
