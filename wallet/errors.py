"""What ``wallet.services`` raises. Every error is a ``WalletError``; a raised error has changed nothing.

``InsufficientBalance`` is the one a user can cause (an order the wallet cannot cover); its code and details
are the public API's. The others mean a caller asked for something impossible (a bug or an operator's typo):
interfaces show them as server errors, operator screens show their message.
"""

from __future__ import annotations

from core.errors import DomainError


class WalletError(DomainError):
    """A money request that cannot be carried out (bad amount, unknown hold or charge, ...); the message says why."""

    code = "wallet_error"


class InsufficientBalance(WalletError):
    """A hold needs more than the wallet has available (balance minus active holds).

    ``details`` are what a client acts on: ``balance_cents`` is what the order can use (money held for pending
    orders excluded), so ``required_cents - balance_cents`` is what the user has to add; ``held_cents`` is the
    held part of the balance.
    """

    code = "insufficient_balance"

    def __init__(self, *, balance_cents: int, required_cents: int, available_cents: int) -> None:
        self.balance_cents = balance_cents
        self.required_cents = required_cents
        self.available_cents = available_cents
        super().__init__(
            f"Your available balance is {available_cents} cents; this order needs {required_cents}.",
            balance_cents=available_cents,
            required_cents=required_cents,
            held_cents=balance_cents - available_cents,
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
