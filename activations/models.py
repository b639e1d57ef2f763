"""Activations: a number ordered from Platfone for one user, its upstream state and our settlement state."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from platfone.types import SMS_ARRIVED, ActivationStatus

# An activation is open (holds one of the user's and the upstream account's active slots) while its order is
# being placed or placed, and the upstream has not ended it ("" = not heard from the upstream yet).
OPEN_ORDER_STATUSES = ("ordering", "placed")
OPEN_ACTIVATION_STATUSES = ("", ActivationStatus.ACTIVE)


class Activation(models.Model):
    class OrderStatus(models.TextChoices):
        ORDERING = "ordering", "Ordering"  # hold placed, upstream call in flight
        PLACED = "placed", "Placed"  # the upstream has it
        FAILED = "failed", "Failed"  # the upstream refused: it never existed there
        LOST = "lost", "Outcome unknown"  # the call timed out after it may have reached the upstream

    class BillingStatus(models.TextChoices):
        """The user's side of the money (the upstream's own billing_status is kept beside it)."""

        HELD = "held", "Held"
        BILLED = "billed", "Billed"
        RELEASED = "released", "Released"
        REFUNDED = "refunded", "Refunded"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="activations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activations")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)

    service_id = models.CharField(max_length=30)
    country_id = models.CharField(max_length=9)
    sell_price_cents = models.BigIntegerField(help_text="What the user pays when the SMS arrives.")
    price_cents = models.BigIntegerField(null=True, blank=True, help_text="The upstream (Platfone) cost.")
    max_price_cents = models.BigIntegerField(help_text="The user's max_price (sell cents).")

    order_status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.ORDERING)
    order_error = models.CharField(max_length=200, blank=True)
    upstream_id = models.CharField(max_length=64, null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)

    sms_status = models.CharField(max_length=20, blank=True)
    activation_status = models.CharField(max_length=20, blank=True)
    upstream_billing_status = models.CharField(max_length=20, blank=True)
    report_status = models.CharField(max_length=20, null=True, blank=True)
    sms_code = models.CharField(max_length=64, null=True, blank=True)
    sms_text = models.TextField(null=True, blank=True)
    is_retriable = models.BooleanField(default=False)
    expire_at = models.DateTimeField(null=True, blank=True)
    cancelable_after = models.DateTimeField(null=True, blank=True)
    upstream_updated_at = models.BigIntegerField(null=True, blank=True, help_text="Upstream updated_at, Unix seconds.")

    sms_received_at = models.DateTimeField(null=True, blank=True)

    billing_status = models.CharField(max_length=16, choices=BillingStatus.choices, default=BillingStatus.HELD)
    hold_id = models.BigIntegerField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # A user's cancel after the SMS started closing the number at the supplier, for the refund that follows; a
    # second cancel (at the same time, or after the first was cut short) finishes that refund instead of refusing.
    closing_for_refund_at = models.DateTimeField(null=True, blank=True)
    # An operator's goodwill refund (console): settled like the other refunds, by apply_upstream_state.
    refund_requested_at = models.DateTimeField(null=True, blank=True)

    last_synced_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="activation_idempotency_key_per_user",
            ),
            models.UniqueConstraint(
                fields=["tenant", "upstream_id"],
                condition=Q(upstream_id__isnull=False),
                name="activation_upstream_id_per_tenant",
            ),
            models.CheckConstraint(condition=Q(sell_price_cents__gt=0), name="activation_sell_price_positive"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="activation_user_recent"),
            # tenant_success_rate_low(): the storefront's orders of the last 24 h.
            models.Index(fields=["tenant", "created_at"], name="activation_tenant_recent"),
            models.Index(fields=["tenant", "activation_status", "order_status"], name="activation_tenant_state"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.service_id}/{self.country_id} {self.phone or self.order_status}"

    @property
    def sms_received(self) -> bool:
        return bool(self.sms_code or self.sms_text) or self.sms_status in SMS_ARRIVED

    @property
    def retriable(self) -> bool:
        """Another SMS can be asked for: the supplier says the number takes several, and this activation is
        still active and not refunded (a refunded activation is closed for good)."""
        return (
            self.is_retriable
            and self.activation_status == ActivationStatus.ACTIVE
            and self.billing_status != self.BillingStatus.REFUNDED
        )

    @property
    def is_open(self) -> bool:
        """Still occupying one of the user's (and the upstream account's) active slots."""
        return self.order_status in OPEN_ORDER_STATUSES and self.activation_status in OPEN_ACTIVATION_STATUSES

    def is_past_expiry(self, now=None) -> bool:
        return self.expire_at is not None and (now or timezone.now()) >= self.expire_at

    @property
    def expired(self) -> bool:
        """Expired, as the poll answers it: the upstream said so, or ``expire_at`` has passed (the upstream
        document asks clients to treat it as expired even before its status changes)."""
        return self.activation_status == ActivationStatus.EXPIRED or self.is_past_expiry()


class ActivationEvent(models.Model):
    """Audit trail: who changed an activation or moved its money, and how."""

    activation = models.ForeignKey(Activation, on_delete=models.CASCADE, related_name="events")
    actor = models.CharField(max_length=60)
    kind = models.CharField(max_length=40)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"


class UpstreamAccountStatus(models.Model):
    """What we know of a tenant's upstream account beyond single activations: webhook health, balance alerts."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="upstream_status")
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    low_balance_cents = models.BigIntegerField(null=True, blank=True)
    low_balance_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "upstream account statuses"

    def __str__(self) -> str:
        return f"upstream of {self.tenant_id}"


class WebhookEvent(models.Model):
    """A webhook event we accepted; the unique id per tenant makes a replay harmless. The request stores it and
    answers; a worker applies it (``applied_at``), and the beat's sweep applies any the queue lost."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=60)
    upstream_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="webhook_event_unique_per_tenant")]
        indexes = [
            models.Index(fields=["received_at"], condition=Q(applied_at__isnull=True), name="webhook_event_unapplied")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class ReconciliationIssue(models.Model):
    """Something reconciliation found that an operator should know about (and what it did about it)."""

    class Kind(models.TextChoices):
        UNKNOWN_UPSTREAM = "unknown_upstream", "Upstream activation we did not know"
        LOST_ORDER_RESOLVED = "lost_order_resolved", "Lost order resolved"
        BILLING_MISMATCH = "billing_mismatch", "Billing mismatch"
        LATE_SMS = "late_sms", "SMS after the hold was released"
        INVALID_UPSTREAM_DATA = "invalid_upstream_data", "Invalid value from the supplier"
        LATE_ORDER_ANSWER = "late_order_answer", "Supplier answered after the order was closed"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="reconciliation_issues")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    upstream_id = models.CharField(max_length=64, blank=True)
    activation = models.ForeignKey(Activation, null=True, blank=True, on_delete=models.SET_NULL)
    detail = models.JSONField(default=dict, blank=True)
    action = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "upstream_id"],
                condition=~Q(upstream_id=""),
                name="reconciliation_issue_once_per_upstream_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.upstream_id}"
