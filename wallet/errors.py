"""What ``wallet.services`` raises. Every error is a ``WalletError``; a raised error has changed nothing."""

from __future__ import annotations


class WalletError(Exception):
    """A money request that cannot be carried out (bad amount, unknown hold or charge, ...); the message says why."""


class InsufficientBalance(WalletError):
    """A hold needs more than the wallet has available (balance minus active holds).

    The API answers ``402 insufficient_balance`` with ``balance_cents`` and ``required_cents``.
    """

    def __init__(self, *, balance_cents: int, required_cents: int, available_cents: int) -> None:
        self.balance_cents = balance_cents
        self.required_cents = required_cents
        self.available_cents = available_cents
        super().__init__(
            f"Insufficient balance: {required_cents} cents required, {available_cents} cents available "
            f"(balance {balance_cents} cents)."
        )


class InsufficientFunds(WalletError):
    """A debit (an adjustment) would take the wallet below its held funds or below zero."""

    def __init__(self, *, balance_cents: int, required_cents: int, available_cents: int) -> None:
        self.balance_cents = balance_cents
        self.required_cents = required_cents
        self.available_cents = available_cents
        super().__init__(
            f"Insufficient funds: a debit of {required_cents} cents exceeds the {available_cents} cents available "
            f"(balance {balance_cents} cents)."
        )


class IdempotencyConflict(WalletError):
    """An idempotency key was reused for a different request (another amount, user, hold or kind)."""


class HoldNotActive(WalletError):
    """The hold was released, or captured by another charge: it cannot be charged."""


class RefundExceedsCharge(WalletError):
    """A refund would return more than what is left of its charge (refunds of one charge are capped in total)."""

    def __init__(self, *, refundable_cents: int, requested_cents: int) -> None:
        self.refundable_cents = refundable_cents
        self.requested_cents = requested_cents
        super().__init__(
            f"Cannot refund {requested_cents} cents: {refundable_cents} cents of this charge are left to refund."
        )
