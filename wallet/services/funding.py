"""Money into and out of a user's wallet from outside the sales flow: deposits and operator adjustments."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from wallet.errors import InsufficientFunds, WalletError
from wallet.models import Account, JournalEntry
from wallet.services.accounts import system_account_of, user_wallet_get_or_create
from wallet.services.protocol import (
    check_actor,
    check_key,
    checked_amount,
    insert_once,
    post_once,
    same_leg_or_conflict,
    write_postings,
)


@transaction.atomic
def deposit(
    *,
    user: User,
    amount_cents: int,
    idempotency_key: str,
    description: str = "Deposit",
    actor: str,
) -> JournalEntry:
    """Credit ``amount_cents`` (> 0) to the user's wallet from the tenant's funding account.

    Idempotent: the same key returns the entry already posted (nothing is posted again); the same key with
    another user or amount raises ``IdempotencyConflict``. Locks the funding account and the wallet.
    """
    amount = checked_amount(amount_cents)
    check_key(idempotency_key)
    check_actor(actor)
    wallet = user_wallet_get_or_create(user=user)
    funding = system_account_of(tenant_id=wallet.tenant_id, type=Account.Type.FUNDING)

    def replay(entry: JournalEntry) -> JournalEntry:
        return same_leg_or_conflict(entry, kind=JournalEntry.Kind.DEPOSIT, account_id=wallet.pk, amount_cents=amount)

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        entry = insert_once(
            JournalEntry,
            tenant_id=wallet.tenant_id,
            kind=JournalEntry.Kind.DEPOSIT,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
        )
        if entry is not None:
            write_postings(entry, [(locked[funding.pk], -amount), (locked[wallet.pk], amount)])
        return entry

    return post_once(JournalEntry, idempotency_key=idempotency_key, lock=[wallet, funding], replay=replay, post=post)


@transaction.atomic
def adjust(
    *,
    user: User,
    amount_cents: int,
    reason: str,
    idempotency_key: str,
    actor: str,
) -> JournalEntry:
    """Correct the user's wallet by ``amount_cents`` (signed, != 0) against the tenant's adjustments account.

    A debit may not take the balance below the wallet's held funds (nor below zero): ``InsufficientFunds``.
    ``reason`` is required and becomes the entry's description. Idempotent by key like ``deposit``.
    Locks the adjustments account and the wallet.
    """
    amount = checked_amount(amount_cents, signed=True)
    check_key(idempotency_key)
    check_actor(actor)
    if not isinstance(reason, str) or not reason.strip():
        raise WalletError("An adjustment needs a reason.")
    wallet = user_wallet_get_or_create(user=user)
    adjustments = system_account_of(tenant_id=wallet.tenant_id, type=Account.Type.ADJUSTMENTS)

    def replay(entry: JournalEntry) -> JournalEntry:
        return same_leg_or_conflict(entry, kind=JournalEntry.Kind.ADJUSTMENT, account_id=wallet.pk, amount_cents=amount)

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        locked_wallet = locked[wallet.pk]
        if amount < 0 and locked_wallet.available_cents + amount < 0:
            raise InsufficientFunds(
                balance_cents=locked_wallet.balance_cents,
                required_cents=-amount,
                available_cents=locked_wallet.available_cents,
            )
        entry = insert_once(
            JournalEntry,
            tenant_id=wallet.tenant_id,
            kind=JournalEntry.Kind.ADJUSTMENT,
            idempotency_key=idempotency_key,
            description=reason.strip(),
            actor=actor,
        )
        if entry is not None:
            write_postings(entry, [(locked[adjustments.pk], -amount), (locked_wallet, amount)])
        return entry

    return post_once(
        JournalEntry, idempotency_key=idempotency_key, lock=[wallet, adjustments], replay=replay, post=post
    )
