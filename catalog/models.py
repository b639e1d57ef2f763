"""The catalog each tenant sells from (synced from its Platfone account) and its markup rules."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.categories import ServiceType, type_label
from catalog.markup import MarkupTerms, Rounding

# The public document: letters, digits, dashes and underscores, 1 to 30 characters.
SERVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,30}$"
# The upstream's country_id pattern ^[a-zA-Z0-9]+([-_]*[a-zA-Z0-9]+)*$, rewritten so that it cannot backtrack
# exponentially (each repetition must start with a separator; the language is the same), 2 to 9 characters.
COUNTRY_ID_PATTERN = r"^(?=.{2,9}$)[a-zA-Z0-9]+(?:[-_]+[a-zA-Z0-9]+)*$"


class Service(models.Model):
    """One upstream service as a tenant's upstream account lists it. Never deleted: a service that
    disappears upstream is marked unavailable (activations and rules may still name it)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="catalog_services")
    service_id = models.CharField(max_length=30)
    name = models.CharField(max_length=200)
    alt_name = models.TextField(blank=True)
    has_description = models.BooleanField(default=False)
    has_warning = models.BooleanField(default=False)
    is_popular = models.BooleanField(default=False)
    is_available = models.BooleanField(default=True, help_text="Unset when the service disappears upstream.")
    auto_type = models.CharField(
        max_length=20,
        choices=ServiceType.choices,
        default=ServiceType.OTHER,
        help_text="The category our rules give it; recomputed at every catalog sync.",
    )
    type_override = models.CharField(
        max_length=20,
        choices=ServiceType.choices,
        blank=True,
        help_text="Set to force a category; leave empty to use the automatic one.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "service_id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "service_id"], name="catalog_service_unique")]
        indexes = [models.Index(fields=["tenant", "is_available"], name="catalog_service_available")]

    def __str__(self) -> str:
        return f"{self.name} ({self.service_id})"

    @property
    def type(self) -> str:
        return self.type_override or self.auto_type

    @property
    def type_label(self) -> str:
        return type_label(self.type)

    @staticmethod
    def q_of_type(service_type: str) -> Q:
        """Services whose effective type (override, else automatic) is ``service_type``."""
        return Q(type_override=service_type) | Q(type_override="", auto_type=service_type)


class Country(models.Model):
    """One upstream country (ids ending in ``_v`` hold virtual numbers only)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="catalog_countries")
    country_id = models.CharField(max_length=9)
    name = models.CharField(max_length=200)
    alt_name = models.TextField(blank=True)
    codes = models.JSONField(default=list, blank=True)
    is_available = models.BooleanField(default=True, help_text="Unset when the country disappears upstream.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "country_id"]
        verbose_name_plural = "countries"
        constraints = [models.UniqueConstraint(fields=["tenant", "country_id"], name="catalog_country_unique")]
        indexes = [models.Index(fields=["tenant", "is_available"], name="catalog_country_available")]

    def __str__(self) -> str:
        return f"{self.name} ({self.country_id})"


class CatalogSync(models.Model):
    """Where a tenant's copy of one upstream list stands: its ETag (sent as If-None-Match) and when it was
    last checked and last changed."""

    class Kind(models.TextChoices):
        SERVICES = "services", "Services"
        POPULAR_SERVICES = "popular_services", "Popular services"
        COUNTRIES = "countries", "Countries"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="catalog_syncs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    etag = models.CharField(max_length=200, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["tenant_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind"], name="catalog_sync_unique")]

    def __str__(self) -> str:
        return f"{self.tenant.slug}: {self.kind}"


class MarkupRule(models.Model):
    """How much a tenant adds to the backend cost. The most specific rule wins:
    service + country, then service, then country, then the tenant default (both empty)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="markup_rules")
    service_id = models.CharField(
        max_length=30,
        blank=True,
        validators=[RegexValidator(SERVICE_ID_PATTERN)],
        help_text="Empty: any service.",
    )
    country_id = models.CharField(
        max_length=9,
        blank=True,
        validators=[RegexValidator(COUNTRY_ID_PATTERN)],
        help_text="Empty: any country.",
    )
    percent_bp = models.PositiveIntegerField(
        "percent (basis points)",
        default=1000,
        validators=[MaxValueValidator(100_000)],
        help_text="1000 = 10 %. Rounded up to the cent.",
    )
    fixed_cents = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(10_000)])
    min_margin_cents = models.PositiveIntegerField(
        default=1,
        validators=[MaxValueValidator(10_000)],
        help_text="The sell price is never below backend cost + this.",
    )
    rounding = models.CharField(max_length=20, choices=Rounding.choices, default=Rounding.NONE)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "service_id", "country_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "service_id", "country_id"], name="markup_rule_unique_scope"),
            models.CheckConstraint(condition=Q(percent_bp__lte=100_000), name="markup_rule_percent_range"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug}: {self.scope}"

    @property
    def scope(self) -> str:
        if self.service_id and self.country_id:
            return f"{self.service_id} in {self.country_id}"
        if self.service_id:
            return f"{self.service_id}, any country"
        if self.country_id:
            return f"any service in {self.country_id}"
        return "tenant default"

    @property
    def specificity(self) -> int:
        """3 for service + country, 2 for service, 1 for country, 0 for the tenant default."""
        return 2 * bool(self.service_id) + bool(self.country_id)

    def terms(self) -> MarkupTerms:
        return MarkupTerms(
            percent_bp=self.percent_bp,
            fixed_cents=self.fixed_cents,
            min_margin_cents=self.min_margin_cents,
            rounding=self.rounding,
            source=f"rule #{self.pk}: {self.scope}",
        )
