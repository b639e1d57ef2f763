"""Money into and out of a user's wallet from outside the sales flow: deposits and operator adjustments."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import BigIntegerField, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from wallet.errors import IdempotencyConflict, InsufficientFunds, WalletError
from wallet.models import Account, JournalEntry, Posting
from wallet.services.accounts import system_account_of, user_wallet_get_or_create
from wallet.services.protocol import (
    check_actor,
    check_key,
    checked_amount,
    insert_once,
    insert_reversal,
    lock_accounts,
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


@dataclass(frozen=True)
class DepositReversal:
    """What ``deposit_reverse`` did: ``recovered_cents`` came back out of the wallet (``entry`` posted it; None
    when nothing could be taken), ``shortfall_cents`` could not be taken because the user had spent or held it."""

    entry: JournalEntry | None
    requested_cents: int
    recovered_cents: int
    shortfall_cents: int


@transaction.atomic
def deposit_reverse(
    *,
    deposit_idempotency_key: str,
    amount_cents: int,
    idempotency_key: str,
    description: str,
    actor: str,
) -> DepositReversal:
    """Take back up to ``amount_cents`` of a deposit (a payment refunded or disputed at the provider), wallet → funding.

    Never takes the wallet below its held funds or below zero: what the user already spent (or has held for an
    order) is the ``shortfall_cents``, reported to the caller (which records it as the tenant's exposure), never a
    negative wallet. The reversals of one deposit never exceed it in total. Idempotent by key: the same key returns
    the reversal already posted (its shortfall is then the caller's record, not recomputed). Locks the wallet and
    the funding account, which serializes the reversals of one deposit.
    """
    requested = checked_amount(amount_cents)
    check_key(idempotency_key)
    check_actor(actor)
    original = JournalEntry.objects.filter(
        idempotency_key=deposit_idempotency_key, kind=JournalEntry.Kind.DEPOSIT
    ).first()
    if original is None:
        raise WalletError(f"There is no deposit {deposit_idempotency_key!r} to reverse.")
    legs = {posting.account.type: posting for posting in original.postings.select_related("account")}
    wallet, funding = legs[Account.Type.USER_WALLET].account, legs[Account.Type.FUNDING].account
    deposited = legs[Account.Type.USER_WALLET].amount_cents

    existing = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.kind != JournalEntry.Kind.DEPOSIT_REVERSAL or existing.reverses_id != original.pk:
            raise IdempotencyConflict(f"Key {idempotency_key!r} was already used for another request.")
        taken = -sum(p.amount_cents for p in existing.postings.all() if p.account_id == wallet.pk)
        return DepositReversal(existing, requested, taken, requested - taken)

    locked = lock_accounts(wallet.pk, funding.pk)
    existing = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:  # a concurrent call with the same key committed while we waited for the locks
        taken = -sum(p.amount_cents for p in existing.postings.all() if p.account_id == wallet.pk)
        return DepositReversal(existing, requested, taken, requested - taken)
    reversed_before = -Posting.objects.filter(
        entry__reverses=original, entry__kind=JournalEntry.Kind.DEPOSIT_REVERSAL, account_id=wallet.pk
    ).aggregate(total=Coalesce(Sum("amount_cents"), Value(0, output_field=BigIntegerField())))["total"]
    reversible = max(deposited - reversed_before, 0)
    recovered = min(requested, reversible, max(locked[wallet.pk].available_cents, 0))
    if recovered <= 0:
        return DepositReversal(None, requested, 0, requested)
    entry = insert_reversal(
        original,
        kind=JournalEntry.Kind.DEPOSIT_REVERSAL,
        idempotency_key=idempotency_key,
        description=description,
        actor=actor,
    )
    if entry is None:
        raise IdempotencyConflict(f"Key {idempotency_key!r} was posted concurrently by another request.")
    write_postings(entry, [(locked[wallet.pk], -recovered), (locked[funding.pk], recovered)])
    return DepositReversal(entry, requested, recovered, requested - recovered)
