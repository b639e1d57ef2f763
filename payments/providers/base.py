"""The provider interface and what crosses it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Literal, Protocol

from payments.errors import InvalidNotification

NotificationKind = Literal["payment", "refund", "dispute", "dispute_won"]
PaymentStatus = Literal["pending", "paid", "failed", "expired"]


@dataclass(frozen=True)
class Checkout:
    redirect_url: str
    provider_txn_id: str


@dataclass(frozen=True)
class Incoming:
    """A notification as it arrived: the raw body (signatures cover the exact bytes) and the headers."""

    body: bytes
    headers: Mapping[str, str]

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


@dataclass(frozen=True)
class Notification:
    """A verified notification, in our words.

    - ``payment``: ``status`` of the checkout ``provider_txn_id``; for ``paid``, ``amount_cents`` is what the
      provider says was received (the wallet is credited that), ``charge_id`` the id later refunds and disputes
      name (Stripe's payment intent).
    - ``refund``: ``amount_cents`` is the total refunded so far on ``charge_id`` (or on ``provider_txn_id``);
      0 means "all of it".
    - ``dispute``: ``amount_cents`` disputed by ``reversal_ref`` on ``charge_id``.
    - ``dispute_won``: the dispute ``reversal_ref`` was decided for the merchant; the money came back.
    """

    event_id: str
    kind: NotificationKind
    provider_txn_id: str = ""
    status: PaymentStatus | None = None
    amount_cents: int = 0
    charge_id: str = ""
    reversal_ref: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    def create_checkout(self, *, payment: Any, return_url: str, notify_url: str) -> Checkout:
        """Ask the provider for a checkout of ``payment.amount_cents`` (USD); raises ``PaymentProviderUnavailable``."""
        ...

    def verify_notification(self, incoming: Incoming) -> Notification | None:
        """The verified notification (None: authentic, but nothing we act on); ``InvalidNotification`` otherwise."""
        ...


def dollars_to_cents(value: Any) -> int:
    """A provider's decimal amount ("12.50", 12.5) as whole cents, rounded down: never credit a fraction not paid."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidNotification(f"Not an amount: {value!r}.") from None
    if not amount.is_finite() or amount < 0 or amount > Decimal(10**8):
        raise InvalidNotification(f"Amount out of range: {value!r}.")
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_DOWN))


def cents_to_dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
