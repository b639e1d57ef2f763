"""How the storefront shows an activation: which of its views applies, what can be done, and a version that
changes whenever anything shown changes (the live page asks for a new fragment only then).

State values are the JSON API's documented ones (``sms_status``, ``activation_status``, ``billing_status``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from activations.models import Activation

WAITING, RECEIVED, RETRY, EXPIRED, CANCELED, REFUNDED, DONE = (
    "waiting",
    "received",
    "retry",
    "expired",
    "canceled",
    "refunded",
    "done",
)
LABELS = {
    WAITING: _("Waiting for the SMS"),
    RECEIVED: _("SMS received"),
    RETRY: _("Waiting for another SMS"),
    EXPIRED: _("Expired"),
    CANCELED: _("Canceled"),
    REFUNDED: _("Refunded"),
    DONE: _("Done"),
}
SMS_ARRIVED = ("smsReceived", "retryReceived")


@dataclass(frozen=True)
class ActivationView:
    activation: Activation
    state: str
    now: datetime
    refund_after_sms: bool  # the tenant's rule: a cancel after the SMS refunds it

    @property
    def label(self):
        return LABELS[self.state]

    @property
    def is_live(self) -> bool:
        """Still changing: the page keeps asking for news."""
        return self.state in (WAITING, RECEIVED, RETRY)

    @property
    def has_code(self) -> bool:
        return bool(self.activation.sms_code or self.activation.sms_text)

    @property
    def can_retry(self) -> bool:
        a = self.activation
        return self.state == RECEIVED and a.is_retriable

    @property
    def can_finalize(self) -> bool:
        return self.state in (RECEIVED, RETRY)

    @property
    def cancel_shown(self) -> bool:
        a = self.activation
        if self.state == WAITING:
            return a.cancelable_after is not None
        return self.state in (RECEIVED, RETRY) and self.refund_after_sms

    @property
    def cancel_wait_seconds(self) -> int:
        """Seconds until the supplier allows a cancel (0: now)."""
        after = self.activation.cancelable_after
        if self.state != WAITING or after is None:
            return 0
        return max(0, int((after - self.now).total_seconds()))

    @property
    def expire_seconds(self) -> int:
        expire_at = self.activation.expire_at
        return max(0, int((expire_at - self.now).total_seconds())) if expire_at else 0

    @property
    def version(self) -> str:
        a = self.activation
        shown = (
            a.sms_status,
            a.activation_status,
            a.billing_status,
            a.sms_code,
            a.sms_text,
            a.is_retriable,
            a.expire_at,
            a.cancelable_after,
            a.report_status,
            self.state,
        )
        return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]


def state_of(activation: Activation, now: datetime) -> str:
    a = activation
    if a.billing_status == "refunded":
        return REFUNDED
    status = a.activation_status
    if status == "canceled":
        return CANCELED
    if status == "finalized":
        return DONE
    if status == "expired" or (a.expire_at is not None and now >= a.expire_at):
        return DONE if a.billing_status == "billed" else EXPIRED
    if a.sms_status == "retryRequested":
        return RETRY
    if a.sms_status in SMS_ARRIVED or a.sms_code or a.sms_text:
        return RECEIVED
    return WAITING


def present(activation: Activation, *, tenant, now: datetime | None = None) -> ActivationView:
    now = now or timezone.now()
    return ActivationView(
        activation=activation,
        state=state_of(activation, now),
        now=now,
        refund_after_sms=tenant.refund_on_cancel_after_sms,
    )


def phone_parts(phone: str, codes: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """(country code, national number) of an E.164 number, using the country's calling codes; the whole
    number as national when no code matches."""
    digits = phone.lstrip("+")
    for code in sorted(codes or (), key=len, reverse=True):
        if code and digits.startswith(code):
            return code, digits[len(code) :]
    return "", digits
