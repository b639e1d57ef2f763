"""The double-entry ledger: accounts, journal entries and their postings, and holds on user wallets.

Sign convention: a posting's ``amount_cents`` is what its account gains. Positive credits the account (its
balance rises), negative debits it. An account's balance is the sum of its postings; the postings of one
entry sum to zero. So a user wallet's balance is what the user can spend, ``funding`` goes negative by
everything ever deposited, ``tenant_revenue`` is positive by what users were charged net of refunds, and
``tenant_upstream_cost`` is positive by what the tenant paid (owes) Platfone, with ``tenant_upstream_payable``
as its negative mirror. A supplier cost whose sale was refunded to the user (while the supplier kept the money)
is moved from ``tenant_upstream_cost`` to ``tenant_refund_loss``: what refunds cost, named.

Only ``wallet.services`` writes these tables. The ledger is append-only: entries and postings are never
changed or deleted (on PostgreSQL a trigger refuses it); mistakes are fixed with new, reversing entries.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Account(models.Model):
    class Type(models.TextChoices):
        USER_WALLET = "user_wallet", "User wallet"
        TENANT_REVENUE = "tenant_revenue", "Tenant revenue"
        TENANT_UPSTREAM_COST = "tenant_upstream_cost", "Tenant upstream cost"
        TENANT_UPSTREAM_PAYABLE = "tenant_upstream_payable", "Tenant upstream payable"
        # Supplier costs of sales the tenant refunded to its users (the supplier kept the money): a named loss.
        TENANT_REFUND_LOSS = "tenant_refund_loss", "Tenant refund losses"
        FUNDING = "funding", "Funding (deposits)"
        ADJUSTMENTS = "adjustments", "Adjustments"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="wallet_accounts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallet_accounts",
        help_text="Set for user wallets only.",
    )
    type = models.CharField(max_length=32, choices=Type.choices)
    # Caches, updated in the same transaction as the postings and holds they summarize.
    balance_cents = models.BigIntegerField(default=0, help_text="Sum of this account's postings.")
    held_cents = models.BigIntegerField(default=0, help_text="Sum of this account's active holds.")
    # The user's own alert level (user wallets only): a posting that takes the balance from at or above it to
    # below it announces wallet.low_balance. None: no alert.
    low_balance_threshold_cents = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        permissions = [("adjust_balance", "Can adjust a user wallet's balance")]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(type="user_wallet"), name="wallet_account_one_wallet_per_user"
            ),
            models.UniqueConstraint(
                fields=["tenant", "type"],
                condition=Q(user__isnull=True),
                name="wallet_account_one_system_account_per_tenant_type",
            ),
            models.CheckConstraint(
                condition=Q(type="user_wallet", user__isnull=False) | (~Q(type="user_wallet") & Q(user__isnull=True)),
                name="wallet_account_user_iff_user_wallet",
            ),
            models.CheckConstraint(
                condition=~Q(type="user_wallet")
                | Q(balance_cents__gte=0, held_cents__gte=0, held_cents__lte=F("balance_cents")),
                name="wallet_account_user_wallet_funds_cover_holds",
            ),
            models.CheckConstraint(
                condition=Q(type="user_wallet") | Q(held_cents=0), name="wallet_account_holds_only_on_user_wallets"
            ),
            models.CheckConstraint(
                condition=Q(low_balance_threshold_cents__isnull=True)
                | Q(type="user_wallet", low_balance_threshold_cents__gt=0),
                name="wallet_account_low_balance_threshold_on_user_wallets",
            ),
        ]

    def __str__(self) -> str:
        if self.type == self.Type.USER_WALLET:
            return f"wallet #{self.pk} of user #{self.user_id}"
        return f"{self.get_type_display()} #{self.pk} of tenant #{self.tenant_id}"

    @property
    def available_cents(self) -> int:
        return self.balance_cents - self.held_cents


class JournalEntry(models.Model):
    """One money movement: a set of postings that sum to zero, posted exactly once per idempotency key."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"
        UPSTREAM_COST = "upstream_cost", "Upstream cost"
        UPSTREAM_COST_REVERSAL = "upstream_cost_reversal", "Upstream cost reversal"
        REFUND_LOSS = "refund_loss", "Refund loss"
        # A deposit taken back (the payment provider refunded or lost a dispute over it): wallet → funding.
        DEPOSIT_REVERSAL = "deposit_reversal", "Deposit reversal"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="journal_entries")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    description = models.CharField(max_length=255, blank=True)
    # What the money is for, opaque to the ledger ("activation:42"): the apps above name their own things.
    reference = models.CharField(max_length=100, blank=True, default="")
    # A refund points at its charge, an upstream cost reversal at its upstream cost, a deposit reversal at its deposit.
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals", editable=False
    )
    actor = models.CharField(max_length=100, help_text='Who posted it: "user:12", "operator:3", "webhook", "cli"...')
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "journal entries"
        indexes = [
            # entries_for_reference(): the money history of one reference (an activation).
            models.Index(
                fields=["tenant", "reference"],
                condition=~Q(reference=""),
                name="wallet_entry_reference_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="wallet_entry_key_not_empty"),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True)
                | Q(kind__in=["refund", "upstream_cost_reversal", "refund_loss", "deposit_reversal"]),
                name="wallet_entry_only_reversals_reverse",
            ),
            # An upstream cost is reversed at most once (refunds may be partial, so several per charge).
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(kind="upstream_cost_reversal"),
                name="wallet_entry_upstream_cost_reversed_once",
            ),
            # An upstream cost is written off as a refund loss at most once.
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(kind="refund_loss"),
                name="wallet_entry_upstream_cost_written_off_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class Posting(models.Model):
    """One leg of an entry: ``amount_cents`` (signed) moves into ``account``."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    # Indexed by the (account, id) index below, which also serves "this account's postings, newest first".
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount_cents = models.BigIntegerField(help_text="Positive credits the account, negative debits it.")
    balance_after_cents = models.BigIntegerField(help_text="The account's balance right after this posting.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "id"], name="wallet_posting_account_id_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_cents=0), name="wallet_posting_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.amount_cents:+d} to account #{self.account_id}"


class Hold(models.Model):
    """Funds set aside on a user wallet for a pending order: released, or captured by exactly one charge."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RELEASED = "released", "Released"
        CAPTURED = "captured", "Captured"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    idempotency_key = models.CharField(max_length=200, unique=True)
    reference = models.CharField(max_length=100, blank=True, default="", db_index=True)
    description = models.CharField(max_length=255, blank=True)
    charge_entry = models.OneToOneField(
        JournalEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="captured_hold"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # verify_ledger() and the admin sum the active holds of an account.
            models.Index(fields=["account", "status"], name="wallet_hold_account_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="wallet_hold_amount_positive"),
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="wallet_hold_key_not_empty"),
            models.CheckConstraint(
                condition=Q(status="active", closed_at__isnull=True)
                | (~Q(status="active") & Q(closed_at__isnull=False)),
                name="wallet_hold_closed_iff_not_active",
            ),
            models.CheckConstraint(
                condition=Q(status="captured", charge_entry__isnull=False)
                | (~Q(status="captured") & Q(charge_entry__isnull=True)),
                name="wallet_hold_captured_iff_charged",
            ),
        ]

    def __str__(self) -> str:
        return f"hold #{self.pk} {self.amount_cents} cents ({self.status})"
