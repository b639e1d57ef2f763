"""Every write of top-ups: starting a checkout, a manual transfer and its review, and what a verified provider
notification does. Money moves only through ``wallet.services``:

- a paid payment is credited by ``deposit`` under the key ``topup:<provider>:<provider transaction id>``
  (``Payment.deposit_key``): whatever path or race delivers "paid" twice, the ledger posts it once;
- a refund or a dispute is taken back by ``deposit_reverse``, which never takes a wallet below its holds or
  zero: what the user already spent is recorded as the payment's ``exposure_cents``, for the operator to see.

The redirect back from a provider credits nothing: only a verified notification (or an operator's approval)
does. A notification is recorded once per (provider, event id): a replay changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Tenant, User
from core.audit import audit_record
from payments import selectors
from payments.errors import (
    PaymentError,
    PaymentNotReviewable,
    TopupAmountOutOfRange,
    TopupDailyCap,
    TopupUnavailable,
)
from payments.models import Payment, PaymentEvent, PaymentReversal, PaymentSettings, Provider
from payments.providers import Incoming, Notification, provider_for
from payments.providers.demo import DemoProvider
from wallet import services as wallet

logger = logging.getLogger("payments")

OPEN = (Payment.Status.CREATED, Payment.Status.PENDING)
UNMATCHED = "unmatched"
PROVIDER_NAMES: dict[str, str] = {
    Provider.DEMO: "Demo checkout",
    Provider.STRIPE: "card (Stripe)",
    Provider.CRYPTOMUS: "crypto (Cryptomus)",
    Provider.MANUAL: "manual transfer",
}


class PaymentNotReady(PaymentError):
    """A refund or dispute for a payment we have not seen paid yet (out of order): refused so the provider
    retries it later, when the payment is credited."""

    code = "payment_not_ready"
    default_message = "The payment this notification refers to is not paid yet; retry later."


# --- settings ------------------------------------------------------------------------------------------------


@transaction.atomic
def payment_settings_get_or_create(*, tenant: Tenant) -> PaymentSettings:
    config, _ = PaymentSettings.objects.get_or_create(tenant=tenant)
    return config


@transaction.atomic
def payment_settings_seed(*, tenant: Tenant, provider: str, manual_enabled: bool) -> PaymentSettings:
    """The tenant's settings, created with this provider if it has none yet (an existing row is left alone)."""
    config, _ = PaymentSettings.objects.get_or_create(
        tenant=tenant, defaults={"provider": provider, "manual_enabled": manual_enabled}
    )
    return config


def payment_secrets_reencrypt() -> int:
    """Re-encrypt every tenant's payment credentials under the newest ``FIELD_ENCRYPTION_KEYS`` key (the last step
    of a key rotation). Returns how many settings rows were rewritten."""
    count = 0
    for pk in PaymentSettings.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            config = PaymentSettings.objects.select_for_update().get(pk=pk)
            config.save(
                update_fields=["stripe_secret_key", "stripe_webhook_secret", "cryptomus_api_key", "demo_secret"]
            )
            count += 1
    return count


# --- starting a top-up ---------------------------------------------------------------------------------------


def _checked_limits(*, user: User, config: PaymentSettings, amount_cents: int) -> None:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TopupAmountOutOfRange(min_cents=config.min_amount_cents, max_cents=config.max_amount_cents)
    if not config.min_amount_cents <= amount_cents <= config.max_amount_cents:
        raise TopupAmountOutOfRange(min_cents=config.min_amount_cents, max_cents=config.max_amount_cents)
    used = selectors.topup_total_last_24h(user=user)
    if used + amount_cents > config.daily_cap_cents:
        raise TopupDailyCap(cap_cents=config.daily_cap_cents, remaining_cents=max(config.daily_cap_cents - used, 0))


@transaction.atomic
def _payment_create(
    *, user: User, config: PaymentSettings, provider: str, amount_cents: int, reference: str = ""
) -> Payment:
    # The user's row serializes their concurrent top-ups, so two at once cannot both slip under the daily cap.
    accounts_services.user_row_lock(user_id=user.pk)
    _checked_limits(user=user, config=config, amount_cents=amount_cents)
    status = Payment.Status.PENDING if provider == Provider.MANUAL else Payment.Status.CREATED
    return Payment.objects.create(
        tenant=config.tenant,
        user=user,
        provider=provider,
        amount_cents=amount_cents,
        status=status,
        reference=reference,
    )


def payment_start(
    *, user: User, amount_cents: int, return_url: Callable[[Payment], str], notify_url: Callable[[str], str]
) -> Payment:
    """Start a checkout of ``amount_cents`` with the tenant's provider; the caller sends the user to
    ``payment.checkout_url``. Checks the tenant's limits (minimum, maximum, the user's daily cap).

    The payment row is committed before the provider is asked (so a notification can always find it); if the
    provider cannot be reached the payment is marked failed and ``PaymentProviderUnavailable`` raised. Nothing is
    credited here, ever.
    """
    if user.tenant is None:
        raise TopupUnavailable()
    config = payment_settings_get_or_create(tenant=user.tenant)
    if not config.provider:
        raise TopupUnavailable()
    provider = provider_for(config, config.provider)
    payment = _payment_create(user=user, config=config, provider=config.provider, amount_cents=amount_cents)
    try:
        checkout = provider.create_checkout(
            payment=payment, return_url=return_url(payment), notify_url=notify_url(payment.provider)
        )
    except PaymentError:
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(
            status=Payment.Status.FAILED, failure_reason="The provider could not be reached.", updated_at=timezone.now()
        )
        raise
    Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(
        status=Payment.Status.PENDING,
        provider_txn_id=checkout.provider_txn_id,
        checkout_url=checkout.redirect_url,
        updated_at=timezone.now(),
    )
    payment.refresh_from_db()
    return payment


def manual_topup_submit(*, user: User, amount_cents: int, reference: str) -> Payment:
    """Report a bank or crypto transfer: a pending manual top-up an operator approves or rejects. Same limits as a
    checkout. Credits nothing."""
    if user.tenant is None:
        raise TopupUnavailable()
    config = payment_settings_get_or_create(tenant=user.tenant)
    if not config.manual_enabled:
        raise TopupUnavailable()
    reference = (reference or "").strip()
    if not reference or len(reference) > 200:
        raise PaymentError("Give the transfer's reference (at most 200 characters) so we can find it.")
    return _payment_create(
        user=user, config=config, provider=Provider.MANUAL, amount_cents=amount_cents, reference=reference
    )


# --- crediting and failing -----------------------------------------------------------------------------------


def _credit(payment: Payment, *, amount_cents: int, actor: str, charge_id: str = "") -> str:
    """Credit a locked payment once; the ledger key makes a second credit impossible even past this check."""
    if payment.status == Payment.Status.PAID:
        return "already paid: nothing changed"
    if amount_cents <= 0:
        return "paid with no amount: nothing credited"
    label = PROVIDER_NAMES.get(payment.provider, payment.provider)
    wallet.deposit(
        user=payment.user,
        amount_cents=amount_cents,
        idempotency_key=payment.deposit_key,
        description=f"Top-up by {label}",
        actor=actor,
    )
    now = timezone.now()
    payment.status, payment.credited_cents, payment.paid_at, payment.updated_at = (
        Payment.Status.PAID,
        amount_cents,
        now,
        now,
    )
    if charge_id:
        payment.provider_charge_id = charge_id
    payment.save(update_fields=["status", "credited_cents", "paid_at", "updated_at", "provider_charge_id"])
    return f"credited {amount_cents} cents"


def _close(payment: Payment, *, status: str, reason: str = "") -> str:
    if not payment.is_open:
        return f"{status} after {payment.status}: nothing changed"
    payment.status, payment.failure_reason, payment.updated_at = status, reason[:255], timezone.now()
    payment.save(update_fields=["status", "failure_reason", "updated_at"])
    return status


# --- provider notifications ----------------------------------------------------------------------------------


def notification_receive(*, tenant: Tenant, provider_name: str, incoming: Incoming) -> str:
    """Verify a provider's notification and apply it once. Returns what it did (for the event log and tests).

    ``InvalidNotification`` (forged, tampered, stale) and ``TopupUnavailable`` (no such provider here) change
    nothing. A verified event is recorded under (provider, event id) in the transaction that applies it: a
    replay, or a concurrent duplicate (it waits on the unique index, then fails it), finds it and changes nothing.
    """
    config = selectors.payment_settings_for(tenant=tenant)
    if config is None or provider_name == Provider.MANUAL:
        raise TopupUnavailable()
    note = provider_for(config, provider_name).verify_notification(incoming)
    if note is None:
        return "ignored: not an event we act on"
    return _apply(tenant=tenant, provider=provider_name, note=note)


@transaction.atomic
def _apply(*, tenant: Tenant, provider: str, note: Notification) -> str:
    try:
        with transaction.atomic():
            event = PaymentEvent.objects.create(
                tenant=tenant,
                provider=provider,
                event_id=note.event_id[:200],
                kind=f"{note.kind}:{note.status or ''}"[:32],
                outcome="received",
                payload=note.payload,
            )
    except IntegrityError:
        # A replay changes nothing, unless the first delivery matched no payment of ours: an event sent again
        # later (the provider's retry, an operator's "resend") is applied if its payment is known by then.
        earlier = (
            PaymentEvent.objects.select_for_update()
            .filter(provider=provider, event_id=note.event_id[:200], tenant=tenant, payment__isnull=True)
            .first()
        )
        if earlier is None or not earlier.outcome.startswith(UNMATCHED):
            return "duplicate: already received"
        event = earlier
    payment = _locate(tenant=tenant, provider=provider, note=note)
    if payment is None:
        outcome = f"{UNMATCHED}: no payment of ours"
    elif note.kind == "payment":
        outcome = _apply_status(payment, note=note, actor=f"payment:{provider}")
    elif note.kind == "dispute_won":
        outcome = _reinstate(payment, note=note, actor=f"payment:{provider}")
    else:
        outcome = _reverse(payment, note=note, actor=f"payment:{provider}")
    event.payment, event.outcome = payment, outcome
    event.save(update_fields=["payment", "outcome"])
    logger.info("payments: %s %s %s → %s", provider, note.kind, note.event_id, outcome)
    return outcome


def _locate(*, tenant: Tenant, provider: str, note: Notification) -> Payment | None:
    """The notification's payment, locked (its state and the ledger change in one serialized step)."""
    payments = (
        Payment.objects.select_for_update(of=("self",)).select_related("user").filter(tenant=tenant, provider=provider)
    )
    if note.kind == "payment" or not note.charge_id:
        return payments.filter(provider_txn_id=note.provider_txn_id).first() if note.provider_txn_id else None
    return payments.filter(Q(provider_charge_id=note.charge_id) | Q(provider_txn_id=note.charge_id)).first()


def _apply_status(payment: Payment, *, note: Notification, actor: str) -> str:
    if note.status == "paid":
        return _credit(payment, amount_cents=note.amount_cents, actor=actor, charge_id=note.charge_id)
    if note.status in ("failed", "expired"):
        return _close(payment, status=note.status, reason=f"reported {note.status} by the provider")
    if note.charge_id and not payment.provider_charge_id:
        payment.provider_charge_id = note.charge_id
        payment.save(update_fields=["provider_charge_id"])
    return "pending: nothing changed"


def _reverse(payment: Payment, *, note: Notification, actor: str) -> str:
    if payment.status != Payment.Status.PAID:
        raise PaymentNotReady()
    kind = PaymentReversal.Kind.REFUND if note.kind == "refund" else PaymentReversal.Kind.DISPUTE
    left = payment.credited_cents - payment.reversed_cents
    if kind == PaymentReversal.Kind.REFUND:
        # Refunds are reported as a running total: apply what is new, so stale or replayed totals change nothing.
        total = min(note.amount_cents or payment.credited_cents, payment.credited_cents)
        refunded = payment.reversals.filter(kind=kind).aggregate(total=Sum("amount_cents"))["total"] or 0
        amount = min(total - refunded, left)
        ref = note.reversal_ref or f"refunded-total:{total}"
    else:
        if payment.reversals.filter(kind=kind, provider_ref=note.reversal_ref).exists():
            return "dispute already recorded: nothing changed"
        amount, ref = min(note.amount_cents, left), note.reversal_ref
    if amount <= 0:
        return f"{kind}: nothing left to take back"
    result = wallet.deposit_reverse(
        deposit_idempotency_key=payment.deposit_key,
        amount_cents=amount,
        idempotency_key=f"topup-reversal:{payment.pk}:{kind}:{ref}"[:200],
        description=f"Top-up {'refunded' if kind == PaymentReversal.Kind.REFUND else 'disputed'} by the provider",
        actor=actor,
    )
    PaymentReversal.objects.create(
        payment=payment,
        tenant_id=payment.tenant_id,
        kind=kind,
        provider_ref=ref,
        amount_cents=amount,
        recovered_cents=result.recovered_cents,
        exposure_cents=result.shortfall_cents,
    )
    payment.reversed_cents += amount
    payment.exposure_cents += result.shortfall_cents
    payment.updated_at = timezone.now()
    payment.save(update_fields=["reversed_cents", "exposure_cents", "updated_at"])
    return f"{kind} of {amount} cents: {result.recovered_cents} taken back, {result.shortfall_cents} exposure"


def _reinstate(payment: Payment, *, note: Notification, actor: str) -> str:
    """A dispute decided for the merchant: give the user back what the dispute took from their wallet, and clear
    its exposure. Once per dispute (the reversal row is locked and marked)."""
    reversal = (
        PaymentReversal.objects.select_for_update()
        .filter(payment=payment, kind=PaymentReversal.Kind.DISPUTE, provider_ref=note.reversal_ref)
        .first()
    )
    if reversal is None:
        raise PaymentNotReady("The dispute this notification closes is not recorded yet; retry later.")
    if reversal.reinstated_at is not None:
        return "dispute already reinstated: nothing changed"
    if reversal.recovered_cents > 0:
        wallet.deposit(
            user=payment.user,
            amount_cents=reversal.recovered_cents,
            idempotency_key=f"topup-dispute-won:{payment.pk}:{reversal.provider_ref}"[:200],
            description="Top-up dispute won: amount restored",
            actor=actor,
        )
    now = timezone.now()
    reversal.reinstated_at = now
    reversal.save(update_fields=["reinstated_at"])
    payment.reversed_cents -= reversal.amount_cents
    payment.exposure_cents -= reversal.exposure_cents
    payment.updated_at = now
    payment.save(update_fields=["reversed_cents", "exposure_cents", "updated_at"])
    return f"dispute won: {reversal.recovered_cents} cents restored, {reversal.exposure_cents} exposure cleared"


def demo_pay(*, payment: Payment, succeed: bool = True) -> str:
    """The demo checkout's "Pay" (or "Cancel"): the demo provider signs a notification and it is received through
    the same entry point, and the same verification, as a real provider's HTTP call."""
    if payment.provider != Provider.DEMO or not payment.provider_txn_id:
        raise TopupUnavailable()
    config = payment_settings_get_or_create(tenant=payment.tenant)
    demo = DemoProvider(secret=config.demo_secret)
    incoming = demo.notification_for(
        provider_txn_id=payment.provider_txn_id,
        amount_cents=payment.amount_cents,
        event_type="payment.succeeded" if succeed else "payment.failed",
    )
    return notification_receive(tenant=payment.tenant, provider_name=Provider.DEMO, incoming=incoming)


# --- operators: manual top-ups -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    payment: Payment
    outcome: str


@transaction.atomic
def manual_topup_approve(
    *, payment: Payment, operator: User, amount_cents: int | None = None, note: str = ""
) -> Review:
    """Approve a pending manual top-up: credit ``amount_cents`` (default: what the user reported) through the
    ledger, with the operator as the entry's actor and in the audit log. Once: ``PaymentNotReviewable`` after."""
    locked = Payment.objects.select_for_update(of=("self",)).select_related("user").get(pk=payment.pk)
    if locked.provider != Provider.MANUAL or locked.status != Payment.Status.PENDING:
        raise PaymentNotReviewable()
    amount = locked.amount_cents if amount_cents is None else amount_cents
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise PaymentError("The amount to credit must be a positive number of cents.")
    outcome = _credit(locked, amount_cents=amount, actor=f"operator:{operator.pk}")
    locked.reviewed_by = operator
    locked.save(update_fields=["reviewed_by"])
    audit_record(
        actor=operator,
        action="payment.approve",
        target=locked,
        tenant_id=locked.tenant_id,
        reason=note,
        before={"status": Payment.Status.PENDING, "amount_cents": locked.amount_cents},
        after={"status": locked.status, "credited_cents": locked.credited_cents, "entry": locked.deposit_key},
        dedupe_key=f"payment-review:{locked.pk}",
    )
    return Review(locked, outcome)


@transaction.atomic
def manual_topup_reject(*, payment: Payment, operator: User, reason: str) -> Review:
    """Reject a pending manual top-up (nothing is credited); the reason is shown to the user and audited."""
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("Say why the top-up is rejected (the user sees it).")
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    if locked.provider != Provider.MANUAL or locked.status != Payment.Status.PENDING:
        raise PaymentNotReviewable()
    outcome = _close(locked, status=Payment.Status.FAILED, reason=reason)
    locked.reviewed_by = operator
    locked.save(update_fields=["reviewed_by"])
    audit_record(
        actor=operator,
        action="payment.reject",
        target=locked,
        tenant_id=locked.tenant_id,
        reason=reason,
        before={"status": Payment.Status.PENDING},
        after={"status": locked.status},
        dedupe_key=f"payment-review:{locked.pk}",
    )
    return Review(locked, outcome)


# --- housekeeping --------------------------------------------------------------------------------------------


def payments_expire_stale() -> int:
    """Expire checkouts left unpaid past their tenant's ``expire_after_minutes`` (manual top-ups wait for an
    operator). Compare-and-set: a payment paid meanwhile stays paid; a later verified "paid" still credits."""
    now = timezone.now()
    expired = 0
    candidates = (
        Payment.objects.filter(status__in=OPEN)
        .exclude(provider=Provider.MANUAL)
        .select_related("tenant__payment_settings")
        .only("pk", "created_at", "tenant__payment_settings__expire_after_minutes")
    )
    for payment in candidates.iterator():
        config = getattr(payment.tenant, "payment_settings", None)
        minutes = config.expire_after_minutes if config else 60
        if payment.created_at + timedelta(minutes=minutes) <= now:
            expired += Payment.objects.filter(pk=payment.pk, status__in=OPEN).update(
                status=Payment.Status.EXPIRED, failure_reason="Not paid in time.", updated_at=now
            )
    return expired
