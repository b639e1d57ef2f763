"""The only code that moves money: deposits, holds, charges, refunds, adjustments and upstream costs.

Split by subdomain (``funding``, ``holds``, ``refunds``, ``upstream``), every posting through the one
protocol in ``protocol``. The ledger knows an opaque ``reference`` ("activation:42") for what the money is
for, never our products. Reads, ``verify_ledger`` included, are in ``wallet.selectors``.
"""

from wallet.errors import (
    HoldNotActive,
    IdempotencyConflict,
    InsufficientBalance,
    InsufficientFunds,
    RefundExceedsCharge,
    WalletError,
)
from wallet.services.accounts import low_balance_threshold_set, system_account, user_wallet_get_or_create
from wallet.services.funding import DepositReversal, adjust, deposit, deposit_reverse
from wallet.services.holds import charge, place_hold, release_hold
from wallet.services.protocol import MAX_AMOUNT_CENTS
from wallet.services.refunds import refund
from wallet.services.upstream import record_upstream_cost, reverse_upstream_cost, write_off_upstream_cost

__all__ = [
    "MAX_AMOUNT_CENTS",
    "DepositReversal",
    "HoldNotActive",
    "IdempotencyConflict",
    "InsufficientBalance",
    "InsufficientFunds",
    "RefundExceedsCharge",
    "WalletError",
    "adjust",
    "charge",
    "deposit",
    "deposit_reverse",
    "low_balance_threshold_set",
    "place_hold",
    "record_upstream_cost",
    "refund",
    "release_hold",
    "reverse_upstream_cost",
    "system_account",
    "user_wallet_get_or_create",
    "write_off_upstream_cost",
]
