"""What the ledger tells customers: money credited to their wallet, and their balance falling below the alert
level they set.

Announced through the base layer's outbox (``core.events.emit``) by ``protocol.write_postings``, the one place
balances change, inside the posting's transaction: a rolled-back posting announces nothing, and the keys
(one per entry and wallet) make a replayed posting announce nothing twice. The ledger knows nothing of webhooks.
"""

from __future__ import annotations

from core import events
from wallet.models import Account, JournalEntry

# Entries that put new money into a wallet (a refund is announced as activation.refunded by its activation).
CREDIT_KINDS = frozenset({JournalEntry.Kind.DEPOSIT, JournalEntry.Kind.ADJUSTMENT})


def announce_postings(entry: JournalEntry, legs: list[tuple[Account, int]]) -> None:
    """Emit ``wallet.credited`` for a deposit or positive adjustment, and ``wallet.low_balance`` when the entry
    takes a user wallet's balance from at or above its threshold to below it. ``legs`` hold the locked
    accounts with their new balances."""
    moved: dict[int, int] = {}
    wallets: dict[int, Account] = {}
    for account, amount in legs:
        if account.type == Account.Type.USER_WALLET:
            moved[account.pk] = moved.get(account.pk, 0) + amount
            wallets[account.pk] = account
    for account_id, amount in moved.items():
        wallet = wallets[account_id]
        balance_after = wallet.balance_cents
        balance_before = balance_after - amount
        if amount > 0 and entry.kind in CREDIT_KINDS:
            _emit(
                wallet,
                key=f"wallet:{account_id}:credited:{entry.pk}",
                type=events.WALLET_CREDITED,
                payload={
                    "amount_cents": amount,
                    "kind": entry.kind,
                    "description": entry.description,
                    "wallet": _wallet_figures(wallet),
                },
            )
        threshold = wallet.low_balance_threshold_cents
        if threshold is not None and balance_before >= threshold > balance_after:
            _emit(
                wallet,
                key=f"wallet:{account_id}:low_balance:{entry.pk}",
                type=events.WALLET_LOW_BALANCE,
                payload={"threshold_cents": threshold, "wallet": _wallet_figures(wallet)},
            )


def _emit(wallet: Account, *, key: str, type: str, payload: dict[str, object]) -> None:
    events.emit(
        key=key,
        type=type,
        tenant_id=wallet.tenant_id,
        user_id=wallet.user_id,
        payload=payload,
        ordering_key=f"wallet:{wallet.user_id}",
    )


def _wallet_figures(wallet: Account) -> dict[str, int]:
    return {
        "balance_cents": wallet.balance_cents,
        "held_cents": wallet.held_cents,
        "available_cents": wallet.available_cents,
    }
