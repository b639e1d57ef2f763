"""Customer webhook endpoints, the deliveries of outbox events to them, and every attempt (the delivery log)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.fields import EncryptedTextField

ALL_EVENTS = "*"


class Endpoint(models.Model):
    """A URL of one user's that receives the events it subscribes to, signed with its secret."""

    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        DISABLED = "disabled", "Disabled"

    class DisabledReason(models.TextChoices):
        USER = "user", "Disabled by its owner"
        FAILING = "failing", "Disabled after failing for 24 hours"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="webhook_endpoints")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # Event types (core.events.EVENT_TYPES) or ["*"] for all, including types added later.
    events = models.JSONField(default=list)
    # The signing secrets are needed in clear to sign, so they are encrypted at rest (FIELD_ENCRYPTION_KEYS), not
    # hashed; they are shown to the owner once (creation, rotation) and never again by any interface.
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED)
    disabled_reason = models.CharField(max_length=16, choices=DisabledReason.choices, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of failed attempts (None after a success): 24 h of it disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["user", "status"], name="webhook_endpoint_user_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="enabled", disabled_reason="", disabled_at__isnull=True)
                | (Q(status="disabled") & ~Q(disabled_reason="") & Q(disabled_at__isnull=False)),
                name="webhook_endpoint_disabled_iff_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"webhook #{self.pk} {self.url}"

    @property
    def is_enabled(self) -> bool:
        return self.status == self.Status.ENABLED

    def subscribes_to(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets a delivery is signed with: the current one, and the previous one during its 24 h."""
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            secrets.append(self.previous_secret)
        return secrets


class Delivery(models.Model):
    """One outbox event on its way to one endpoint: attempted until it succeeds or its 24 h are over."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("core.OutboxEvent", on_delete=models.CASCADE, related_name="webhook_deliveries")
    # Copied from the event: deliveries of one endpoint with the same key go out in event order.
    ordering_key = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker that claimed the delivery holds it until then (a crashed worker's claim expires).
    locked_until = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    # The owner asked for the next attempt (redeliver): it is marked manual in the log.
    redeliver_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(
                condition=Q(status="pending", next_attempt_at__isnull=False) | ~Q(status="pending"),
                name="webhook_delivery_pending_has_next_attempt",
            ),
        ]
        indexes = [
            # The sweep of due deliveries.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due"),
            # "Is an earlier delivery of this activation to this endpoint still pending?"
            models.Index(
                fields=["endpoint", "ordering_key", "event"],
                condition=Q(status="pending"),
                name="webhook_delivery_chain",
            ),
            # The endpoint's delivery log, newest first.
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk} of event #{self.event_id} to endpoint #{self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP attempt of a delivery: what the endpoint answered, how fast, or why it could not be reached."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    manual = models.BooleanField(default=False, help_text="Asked for by the owner (redeliver).")
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=200, blank=True)
    response_snippet = models.TextField(blank=True, help_text="The first 1 KB of the response body.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery #{self.delivery_id}: {self.status_code or self.error}"
