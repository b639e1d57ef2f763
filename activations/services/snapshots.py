"""The one mapping between an upstream activation snapshot and our ``Activation`` row, both ways.

``values_from_snapshot`` is what ``apply_upstream_state`` records; ``snapshot_from_activation`` rebuilds the
snapshot we last recorded (to apply a fact the upstream confirmed but we could not read back).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from activations.models import Activation
from platfone.types import Activation as Snapshot


def _datetime(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def _timestamp(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


# model field -> snapshot attribute, for the fields copied as they are.
SAME_VALUE_FIELDS = {
    "upstream_id": "activation_id",
    "sms_status": "sms_status",
    "activation_status": "activation_status",
    "upstream_billing_status": "billing_status",
    "report_status": "report_status",
    "sms_code": "sms_code",
    "sms_text": "sms_text",
    "is_retriable": "is_retriable",
    "upstream_updated_at": "updated_at",
}
# model field -> snapshot attribute, for Unix seconds stored as datetimes.
TIMESTAMP_FIELDS = {"expire_at": "expire_at", "cancelable_after": "cancelable_after"}


def values_from_snapshot(snapshot: Snapshot) -> dict[str, Any]:
    """The model field values a snapshot says (phone with a leading +, timestamps as aware datetimes)."""
    values: dict[str, Any] = {field: getattr(snapshot, attr) for field, attr in SAME_VALUE_FIELDS.items()}
    values.update({field: _datetime(getattr(snapshot, attr)) for field, attr in TIMESTAMP_FIELDS.items()})
    values["phone"] = snapshot.phone if snapshot.phone.startswith("+") else f"+{snapshot.phone}"
    return values


def snapshot_from_activation(activation: Activation, **changes: Any) -> Snapshot:
    """The snapshot our row records, with ``changes`` (snapshot attribute names) applied."""
    fields: dict[str, Any] = {attr: getattr(activation, field) for field, attr in SAME_VALUE_FIELDS.items()}
    fields.update({attr: _timestamp(getattr(activation, field)) for field, attr in TIMESTAMP_FIELDS.items()})
    fields.update(
        price=activation.price_cents or 0,
        phone=activation.phone.lstrip("+"),
        country_id=activation.country_id,
        service_id=activation.service_id,
        created_at=_timestamp(activation.created_at) or 0,
    )
    fields["expire_at"] = fields["expire_at"] or 0
    fields["updated_at"] = fields["updated_at"] or 0
    fields.update(changes)
    return Snapshot(**fields)
