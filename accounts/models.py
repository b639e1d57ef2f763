"""Tenants (resellers), their domains, their users and the users' API keys."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import crypto
from core.fields import EncryptedTextField

LOGO_MAX_BYTES = 256 * 1024


def validate_logo_size(upload) -> None:
    if upload and upload.size > LOGO_MAX_BYTES:
        raise ValidationError(f"The logo must be at most {LOGO_MAX_BYTES // 1024} KB.")


class Tenant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    support_email = models.EmailField(blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=180)
    max_active_activations_per_user = models.PositiveIntegerField(default=5)
    finalize_after_sms_seconds = models.PositiveIntegerField(
        default=600, help_text="Finalize an activation upstream this long after its SMS, to free an upstream slot."
    )
    min_user_success_rate_percent = models.PositiveSmallIntegerField(
        default=20,
        help_text="Users whose SMS success rate over 24 h (after 10 orders) falls below this are limited to one "
        "active activation, protecting the shared upstream account from its 7 % block.",
    )
    refund_on_cancel_after_sms = models.BooleanField(
        default=True,
        help_text="Refund a user who cancels an activation after its SMS arrived (the public API promises it).",
    )
    max_refunds_after_sms_per_day = models.PositiveSmallIntegerField(
        default=3,
        help_text="How many activations one user may cancel for a refund after their SMS arrived, per 24 h; "
        "beyond it such a cancel is refused (409 refund_limit). Each one costs the reseller the supplier's price.",
    )
    upstream_fair_share_percent = models.PositiveSmallIntegerField(
        default=25,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="The most of any supplier method's per-minute budget one user may spend; past it that user gets "
        "429 rate_limit until the next minute, and nobody else is affected.",
    )
    success_guard_percent = models.PositiveSmallIntegerField(
        default=12,
        validators=[MaxValueValidator(100)],
        help_text="When the storefront's own 24 h SMS success rate (orders still waiting counted as failures) "
        "falls below this, new orders from users without a good record are refused (429 success_rate_guard), "
        "keeping the supplier account away from its 7 % block. 0 turns the guard off.",
    )

    # Upstream Platfone account. The key and the webhook secret are write-only in every screen and encrypted
    # at rest (core.crypto, FIELD_ENCRYPTION_KEYS); code reads and writes them in plain text.
    platfone_base_url = models.URLField(max_length=300, blank=True)
    platfone_api_key = EncryptedTextField(blank=True)
    platfone_webhook_secret = EncryptedTextField(blank=True)
    # Keyed digest of (base URL, API key), set by accounts.services: encrypted keys cannot be compared, so
    # "one upstream account per tenant" is enforced on this column. Empty while no key is set.
    platfone_account_digest = models.CharField(max_length=64, blank=True, default="", editable=False)

    # Operator alerts (console.alerts): thresholds per tenant.
    alert_supplier_balance_below_cents = models.PositiveBigIntegerField(
        "alert below supplier balance (cents)",
        default=1000,
        help_text="Warn the tenant's operators when the supplier balance available falls below this.",
    )
    alert_webhook_silence_minutes = models.PositiveIntegerField(
        "alert after webhook silence (minutes)",
        default=30,
        help_text="Warn when no supplier webhook arrived for this long while activations are open.",
    )

    # Storefront branding (the portal's look on this tenant's hosts), edited by the operator in the admin.
    brand_logo = models.ImageField(
        upload_to="tenant-logos/",
        blank=True,
        validators=[validate_logo_size],
        help_text="PNG, JPEG, WebP or GIF, at most 256 KB; shown about 40 px high in the storefront's header.",
    )
    brand_color = models.CharField(
        max_length=7,
        blank=True,
        default="#2563eb",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #2563eb.")],
        help_text="Primary colour (#rrggbb; empty: the default blue). Text on it and a darker shade for links are "
        "chosen for contrast.",
    )
    topup_instructions = models.TextField(
        blank=True,
        help_text="How users add funds (bank transfer details, whom to contact...), shown on the wallet page.",
    )
    help_faq = models.TextField(
        blank=True,
        help_text="The storefront's FAQ: a question on a line of its own ending with '?', its answer in the lines "
        "below; a blank line between entries. Plain text.",
    )
    help_contact = models.TextField(
        blank=True,
        help_text="The storefront's contact page: how to reach support (hours, channels...). Plain text; the "
        "support e-mail is shown with it.",
    )

    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]
        constraints = [
            # One upstream account per tenant: reconciliation and webhooks treat every activation of the
            # account as the tenant's own, so a shared account would let one tenant cancel another's numbers.
            models.UniqueConstraint(
                fields=["platfone_account_digest"],
                condition=~Q(platfone_account_digest=""),
                name="tenant_upstream_account_unique",
                violation_error_message="Another tenant already uses this Platfone account.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @staticmethod
    def upstream_account_digest(base_url: str, api_key: str) -> str:
        """The value of ``platfone_account_digest`` for these credentials ("" without a key)."""
        return crypto.keyed_digest(base_url.rstrip("/"), api_key) if api_key else ""


class TenantDomain(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    host = models.CharField(max_length=253, unique=True, help_text="Host name without port, lower case.")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host

    def save(self, *args, **kwargs):
        self.host = self.host.strip().lower()
        super().save(*args, **kwargs)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # Natural keys are used by createsuperuser and the admin: they name operators, who have no tenant.
        return self.get(tenant__isnull=True, email__iexact=username)

    def _create(self, *, email: str, password: str | None, tenant: Tenant | None, **extra) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), tenant=tenant, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, *, tenant: Tenant | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email=email, password=password, tenant=tenant, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email=email, password=password, tenant=None, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A storefront user (belongs to one tenant) or a platform operator (no tenant, staff).

    The e-mail is unique per tenant only: the same address registers with two tenants as two users.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    email = models.EmailField(max_length=254)
    is_active = models.BooleanField(default=True, help_text="Unset to suspend the user: their keys stop working.")
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the user proved the address (the storefront asks before a first order)."
    )
    # The storefront's per-user preferences (portal part 2). The language is also the one of their e-mails.
    language = models.CharField(max_length=10, blank=True, default="", help_text="Empty: the browser's language.")
    theme = models.CharField(
        max_length=6,
        choices=[("", "Follow the system"), ("light", "Light"), ("dark", "Dark")],
        blank=True,
        default="",
    )
    notify_code_by_email = models.BooleanField(default=False, help_text="E-mail the user when a code arrives.")
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the user deleted their account (the ledger keeps its entries)."
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], name="user_email_unique_per_tenant"),
            models.UniqueConstraint(fields=["email"], condition=Q(tenant__isnull=True), name="operator_email_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.email} @ {self.tenant.slug}" if self.tenant else f"{self.email} (operator)"


class ApiKey(models.Model):
    """An API key. Only the public prefix and a SHA-256 hash of the whole key are stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
