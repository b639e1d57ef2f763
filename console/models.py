"""The console's own table: the alerts it raised, one open row per tenant and condition."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Alert(models.Model):
    """A condition an operator must know about, from the first check that saw it until one that no longer
    does. Its operators are e-mailed once when it opens (``notified_at``), not at every check; a condition
    that clears and comes back opens a new alert (and a new e-mail)."""

    class Kind(models.TextChoices):
        LOW_SUPPLIER_BALANCE = "low_supplier_balance", "Low supplier balance"
        SUCCESS_RATE_NEAR_BLOCK = "success_rate_near_block", "Success rate near the 7 % block"
        LEDGER_DRIFT = "ledger_drift", "Ledger drift"
        WEBHOOK_SILENCE = "webhook_silence", "No webhook while activations are open"
        RECONCILIATION_ISSUES = "reconciliation_issues", "Open reconciliation issues"
        SUPPLIER_RATE_LIMITED = "supplier_rate_limited", "Supplier answered 429 (rate limit)"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="console_alerts")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    message = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_to = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One open alert per tenant and condition: the de-duplication of checks and e-mails.
            models.UniqueConstraint(
                fields=["tenant", "kind"], condition=Q(resolved_at__isnull=True), name="console_alert_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({'open' if self.is_open else 'resolved'})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
