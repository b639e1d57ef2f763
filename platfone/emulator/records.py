"""Mutable records behind the emulator's state; only `Emulator` touches them, under its lock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# The doc's report reasons; which ones are offered depends on whether an SMS arrived.
REPORT_REASONS: dict[int, tuple[str, bool]] = {
    1: ("SMS is not coming", True),
    2: ("Wrong SMS received", False),
    3: ("Service not accepting the number", True),
    4: ("Number has been used before", True),
    5: ("Blocked after activation", True),
    6: ("SMS received too late", False),
    7: ("Other reason", False),
}
REASONS_WITHOUT_SMS = (1, 7)
REASONS_WITH_SMS = (2, 3, 4, 5, 6, 7)


@dataclass
class ActivationRecord:
    activation_id: str
    api_key: str
    price: int
    phone: str
    country_id: str
    service_id: str
    created_at: int
    expire_at: int
    cancelable_after: int | None
    is_retriable: bool
    updated_at: int = 0
    sms_status: str = "smsRequested"
    activation_status: str = "active"
    billing_status: str = "reserved"
    report_status: str | None = None
    sms_code: str | None = None
    sms_text: str | None = None

    @property
    def received_sms(self) -> bool:
        return self.sms_status != "smsRequested"

    def to_json(self) -> dict[str, Any]:
        return {
            "activation_id": self.activation_id,
            "price": self.price,
            "phone": self.phone,
            "country_id": self.country_id,
            "service_id": self.service_id,
            "sms_status": self.sms_status,
            "activation_status": self.activation_status,
            "billing_status": self.billing_status,
            "report_status": self.report_status,
            "sms_code": self.sms_code,
            "sms_text": self.sms_text,
            "expire_at": self.expire_at,
            "updated_at": self.updated_at,
            "created_at": self.created_at,
            "is_retriable": self.is_retriable,
            "cancelable_after": self.cancelable_after,
        }

    def snapshot(self) -> str:
        """The doc's `activation_state_snapshot`: a JSON string of the state when the report was filed."""
        return json.dumps(
            {
                "activation_status": self.activation_status,
                "sms_status": self.sms_status,
                "billing_status": self.billing_status,
                "sms_code": self.sms_code,
                "sms_text": self.sms_text,
                "updated_at": self.updated_at,
            },
            separators=(",", ":"),
        )


@dataclass
class ReportRecord:
    activation_id: str
    reason_id: int
    message: str | None
    evidence_bytes: int
    snapshot: str
    created_at: int
    updated_at: int

    def to_json(self, activation: ActivationRecord) -> dict[str, Any]:
        return {
            "reason_id": self.reason_id,
            "reason_name": REPORT_REASONS[self.reason_id][0],
            "message": self.message,
            "activation_state_snapshot": self.snapshot,
            "updated_at": self.updated_at,
            "created_at": self.created_at,
            "activation": activation.to_json(),
        }


@dataclass
class Account:
    api_key: str
    initial_total: int
    total: int
    reserved: int = 0
    blocked_until: int | None = None
    low_balance_notified: bool = False
    # Orders before this moment no longer count towards the success rate (set by an unblock).
    success_window_start: int = 0
    # Activation ids in order of creation: history pages and the 24 h success-rate window read it.
    activation_ids: list[str] = field(default_factory=list)
    active_ids: set[str] = field(default_factory=set)
    report_ids: list[str] = field(default_factory=list)

    def balance_json(self) -> dict[str, int]:
        return {"total": self.total, "reserved": self.reserved}


@dataclass
class PendingOrder:
    """The continuation behind a 409 MaxPriceExceededException's `order_id`."""

    order_id: str
    api_key: str
    service_id: str
    country_id: str
    suggested_price: int
    created_at: int


@dataclass
class WebhookRecord:
    event_id: str
    type: str
    body: bytes
    activation_id: str | None
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    delivered: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "type": self.type,
            "activation_id": self.activation_id,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "delivered": self.delivered,
            "payload": json.loads(self.body),
        }
