"""Top-ups: each tenant's payment settings, the payments users make, the provider notifications we received, and
the refunds and disputes the providers reported afterwards.

Money never moves here: a paid payment is credited by ``wallet.services.deposit`` (idempotent on the provider's
transaction id), a refund or dispute is taken back by ``wallet.services.deposit_reverse``. These tables record why.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.fields import EncryptedTextField

# $10,000: a sane upper bound for one top-up; each tenant sets its own range inside it.
TOPUP_CEILING_CENTS = 1_000_000


def new_demo_secret() -> str:
    return secrets.token_urlsafe(32)


class Provider(models.TextChoices):
    DEMO = "demo", "Demo (local checkout page, no real money)"
    STRIPE = "stripe", "Stripe Checkout (card)"
    CRYPTOMUS = "cryptomus", "Cryptomus (crypto)"
    MANUAL = "manual", "Manual transfer (approved by an operator)"


class PaymentSettings(models.Model):
    """One tenant's top-up settings: which checkout provider its users pay with, its credentials (write-only in
    every screen, encrypted at rest like the supplier's), whether manual transfers are offered, and the limits."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="payment_settings")
    provider = models.CharField(
        "checkout provider",
        max_length=16,
        choices=[c for c in Provider.choices if c[0] != Provider.MANUAL] + [("", "None (no card or crypto)")],
        blank=True,
        default="",
        help_text="Where the “Pay” button of the wallet page sends users.",
    )
    manual_enabled = models.BooleanField(
        "manual transfers",
        default=False,
        help_text="Let users report a bank or crypto transfer (amount + reference) for an operator to approve.",
    )
    min_amount_cents = models.PositiveIntegerField(
        "minimum top-up (cents)", default=500, validators=[MinValueValidator(1), MaxValueValidator(TOPUP_CEILING_CENTS)]
    )
    max_amount_cents = models.PositiveIntegerField(
        "maximum top-up (cents)",
        default=50_000,
        validators=[MinValueValidator(1), MaxValueValidator(TOPUP_CEILING_CENTS)],
    )
    daily_cap_cents = models.PositiveIntegerField(
        "daily cap per user (cents)",
        default=100_000,
        validators=[MinValueValidator(1)],
        help_text="The most one user may top up in 24 hours (paid and still pending top-ups count).",
    )
    expire_after_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(5)],
        help_text="A checkout not paid by then is expired and stops counting against the daily cap (a payment the "
        "provider confirms later is still credited).",
    )

    # Credentials: write-only in the console, encrypted at rest (core.crypto, FIELD_ENCRYPTION_KEYS).
    stripe_secret_key = EncryptedTextField(blank=True)
    stripe_webhook_secret = EncryptedTextField(blank=True)
    cryptomus_merchant_id = models.CharField(max_length=64, blank=True)
    cryptomus_api_key = EncryptedTextField(blank=True)
    demo_secret = EncryptedTextField(blank=True, default=new_demo_secret)

    class Meta:
        verbose_name = verbose_name_plural = "top-up settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount_cents__lte=models.F("max_amount_cents")),
                name="payments_settings_min_not_above_max",
                violation_error_message="The minimum top-up must not be above the maximum.",
            )
        ]

    def __str__(self) -> str:
        return f"top-up settings of tenant #{self.tenant_id}"


class Payment(models.Model):
    """One top-up. Its state only moves forward: created → pending → paid / failed / expired (compare-and-set in
    ``payments.services``); ``paid`` is final, and so are ``failed`` and ``expired`` except that a provider's
    later, verified "paid" still credits (the user's money arrived)."""

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="payments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED, db_index=True)
    amount_cents = models.BigIntegerField(help_text="What the user asked to add.")
    credited_cents = models.BigIntegerField(default=0, help_text="What the wallet was credited (the provider's word).")
    # The provider's id of the checkout (Stripe session, Cryptomus invoice uuid, demo id); manual: empty.
    provider_txn_id = models.CharField(max_length=200, null=True, blank=True)
    # A second id some providers report later events under (Stripe's payment intent, for refunds and disputes).
    provider_charge_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    checkout_url = models.URLField(max_length=1000, blank=True)
    # Manual transfers: what the user typed so the operator can find the transfer.
    reference = models.CharField(max_length=200, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Refunds and disputes: what the provider took back, and the part the wallet could not give back.
    reversed_cents = models.BigIntegerField(default=0)
    exposure_cents = models.BigIntegerField(
        default=0, help_text="Taken back by the provider but already spent by the user: the tenant's loss."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The daily cap and the wallet page: one user's recent payments.
            models.Index(fields=["user", "created_at"], name="payments_user_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_txn_id"],
                condition=Q(provider_txn_id__isnull=False),
                name="payments_one_payment_per_provider_txn",
            ),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payments_amount_positive"),
            models.CheckConstraint(
                condition=Q(credited_cents__gte=0, reversed_cents__gte=0, exposure_cents__gte=0),
                name="payments_figures_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(status="paid", paid_at__isnull=False) | (~Q(status="paid") & Q(credited_cents=0)),
                name="payments_credited_only_when_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"top-up #{self.pk} {self.provider} {self.amount_cents} cents ({self.status})"

    @property
    def deposit_key(self) -> str:
        """The ledger entry's idempotency key: one credit per provider transaction (manual: per payment)."""
        if self.provider == Provider.MANUAL:
            return f"topup:manual:{self.pk}"
        return f"topup:{self.provider}:{self.provider_txn_id}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.CREATED, self.Status.PENDING)


class PaymentEvent(models.Model):
    """One verified provider notification, recorded once per (provider, event id): a replay is recognized here and
    changes nothing. ``outcome`` says what it did (credited, ignored as stale, unmatched ...)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="payment_events")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=32)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    outcome = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="payments_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.event_id}"


class PaymentReversal(models.Model):
    """A refund or dispute the provider reported on a paid payment, and what it cost: ``recovered_cents`` came back
    out of the wallet, ``exposure_cents`` had been spent already (shown to the operator, never a negative wallet)."""

    class Kind(models.TextChoices):
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="reversals")
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="payment_reversals")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The provider's id of the refund or dispute (one row each; a replay finds it).
    provider_ref = models.CharField(max_length=200)
    amount_cents = models.BigIntegerField()
    recovered_cents = models.BigIntegerField(default=0)
    exposure_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # A dispute the tenant won: the provider gave the money back, so did we (the wallet is credited again).
    reinstated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind", "provider_ref"], name="payments_reversal_once"),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payments_reversal_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of top-up #{self.payment_id}: {self.amount_cents} cents"
