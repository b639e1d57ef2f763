"""Writing the operator audit log (``core.models.AuditEntry``)."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.db import IntegrityError, models, transaction

from core.models import AuditEntry

REDACTED = "(secret changed)"


def audit_value(value: Any) -> Any:
    """A JSON-safe rendering of a field value: model instances by pk and label, dates in ISO format."""
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": str(value)[:200]}
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [audit_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): audit_value(item) for key, item in value.items()}
    if isinstance(value, models.QuerySet):
        return [audit_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    tenant_id: int | None = None,
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> AuditEntry:
    """Record one operator write. Call it inside the transaction of the change it records.

    ``tenant_id`` defaults to the target's ``tenant_id`` (or the target's own id for a tenant). With a
    ``dedupe_key``, a second call with the same key returns the first entry and records nothing.
    """
    if tenant_id is None and target is not None:
        tenant_id = getattr(target, "tenant_id", None)
        if tenant_id is None and target._meta.label == "accounts.Tenant":
            tenant_id = target.pk
    if dedupe_key is not None:
        existing = AuditEntry.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    fields = {
        "actor": actor if getattr(actor, "pk", None) else None,
        "actor_label": str(actor)[:254],
        "tenant_id": tenant_id,
        "action": action[:64],
        "target_type": target._meta.label_lower if target is not None else "",
        "target_id": str(target.pk) if target is not None else "",
        "target_label": str(target)[:254] if target is not None else "",
        "reason": reason,
        "before": audit_value(before or {}),
        "after": audit_value(after or {}),
        "dedupe_key": dedupe_key,
    }
    try:
        with transaction.atomic():
            return AuditEntry.objects.create(**fields)
    except IntegrityError:
        if dedupe_key is None:
            raise
        return AuditEntry.objects.get(dedupe_key=dedupe_key)  # a concurrent identical submission won
