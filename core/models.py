"""Tables of the base layer: the operator audit log and the event outbox.

The base layer stores plain tenant and user ids (it imports no app). Every app's admin writes audit entries;
the apps above write outbox rows through ``core.events.emit`` and the webhooks app reads and delivers them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AuditEntry(models.Model):
    """One operator write: who did what to which object, when, why, and the values before and after.

    Written by the operator screens of every app, in the transaction of the change it records (so a rolled-back
    change leaves no entry). It lives in the base layer because every app's admin writes it and none of them
    may import another's; the tenant is kept as a plain id for the same reason. Append-only: no screen
    changes or deletes an entry.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, help_text="Who, as they were named when they acted.")
    tenant_id = models.BigIntegerField(null=True, blank=True, db_index=True, help_text="Empty: platform-wide.")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    reason = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    # Set by idempotent operations (a wallet adjustment submitted twice): the second submission adds no entry.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["target_type", "target_id"], name="core_audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label}: {self.action} {self.target_label}"


class OutboxEvent(models.Model):
    """One event for one user, recorded exactly once per change (``key`` is unique)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # What the event is about, unique per change ("activation:42:sms_received"): emitting it again is a no-op.
    key = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=60)
    tenant_id = models.BigIntegerField()
    user_id = models.BigIntegerField(null=True, blank=True)
    # Events with the same ordering key ("activation:42") are delivered in the order they were written.
    ordering_key = models.CharField(max_length=100, blank=True, default="")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    # Set once a consumer has taken the event over (the webhooks app created its deliveries).
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The sweep of events whose after-commit hand-over was lost.
            models.Index(fields=["id"], condition=Q(dispatched_at__isnull=True), name="outbox_undispatched"),
            # "Is an earlier event of this activation still waiting?" (per-activation ordering).
            models.Index(
                fields=["ordering_key", "id"],
                condition=Q(dispatched_at__isnull=True),
                name="outbox_undispatched_by_order",
            ),
            models.Index(fields=["created_at"], name="outbox_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.key}"

    @property
    def event_id(self) -> str:
        """The id customers see (stable across retries): ``evt_<32 hex digits>``."""
        return f"evt_{self.public_id.hex}"
