"""The one posting protocol every money movement goes through (journal entries and holds alike).

1. Validate the arguments; resolve (get or create) the accounts involved.
2. If a row (entry or hold) with the idempotency key exists, return it when it is the same request, or raise
   ``IdempotencyConflict`` (fast path, no lock).
3. ``SELECT ... FOR UPDATE`` every account the row changes, in primary-key order, so two transactions
   that touch overlapping accounts queue in the same order and cannot deadlock.
4. Look the key up again: a concurrent request with the same key that committed while we waited for the
   locks is visible now (READ COMMITTED) and is returned instead of posting again.
5. Check the business rule against the locked rows (balance, hold status, refundable amount).
6. Insert the row in a savepoint. Should a concurrent insert of the same key still win (a caller's wider
   transaction, a key reused across accounts), the unique index raises, the savepoint is rolled back, and the
   winner's row is returned: a key posts exactly once.
7. Write the postings with ``balance_after_cents`` and the cached balances from the locked rows.

Callers run inside ``transaction.atomic``: any error leaves nothing posted. On PostgreSQL a deferred
constraint trigger also refuses to commit an entry whose postings do not sum to zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db import IntegrityError, transaction

from wallet.errors import IdempotencyConflict, WalletError
from wallet.models import Account, Hold, JournalEntry, Posting
from wallet.services.events import announce_postings

# $10 billion: far above any real amount, far below where sums of BigIntegerField could overflow.
MAX_AMOUNT_CENTS = 10**12
MAX_KEY_LENGTH = 200
MAX_ACTOR_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 255
MAX_REFERENCE_LENGTH = 100

Keyed = TypeVar("Keyed", JournalEntry, Hold)


def post_once(
    model: type[Keyed],
    *,
    idempotency_key: str,
    lock: Iterable[Account],
    replay: Callable[[Keyed], Keyed],
    post: Callable[[dict[int, Account]], Keyed | None],
    new_key: bool = False,
) -> Keyed:
    """Create the ``model`` row of ``idempotency_key`` exactly once; see the module docstring.

    ``replay`` validates a row already there under the key (returns it or raises ``IdempotencyConflict``);
    ``post`` checks the rule on the locked accounts and writes, returning None when ``insert_once`` lost the
    key to a concurrent insert.

    ``new_key``: the caller guarantees that no row can hold the key yet (it names a row the caller's own open
    transaction has just inserted, so no other transaction can know it): steps 2 and 4 are skipped. Should the
    guarantee ever be broken, the unique index still refuses the second row, and the caller's whole transaction
    fails: never a second posting.
    """
    if not new_key:
        existing = find_by_key(model, idempotency_key)
        if existing is not None:
            return replay(existing)
    locked = lock_accounts(*(account.pk for account in lock))
    if not new_key:
        existing = find_by_key(model, idempotency_key)
        if existing is not None:
            return replay(existing)
    created = post(locked)
    if created is None:
        winner = find_by_key(model, idempotency_key)
        if winner is None:  # cannot happen: insert_once returns None only when the key exists
            raise WalletError(f"{model.__name__} {idempotency_key!r} vanished after a conflicting insert.")
        return replay(winner)
    return created


def find_by_key(model: type[Keyed], idempotency_key: str) -> Keyed | None:
    return model.objects.filter(idempotency_key=idempotency_key).first()


def insert_new(model: type[Keyed], **fields: object) -> Keyed:
    """Insert a row whose key cannot exist yet (``post_once``'s ``new_key``): no savepoint. A duplicate key raises
    ``IntegrityError``, which aborts the caller's transaction."""
    fields["description"] = str(fields.get("description") or "")[:MAX_DESCRIPTION_LENGTH]
    return model.objects.create(**fields)


def insert_once(model: type[Keyed], **fields: object) -> Keyed | None:
    """Insert a row in a savepoint; None if a concurrent transaction committed the same key first."""
    try:
        with transaction.atomic():
            return insert_new(model, **fields)
    except IntegrityError:
        if find_by_key(model, str(fields["idempotency_key"])) is None:
            raise  # another constraint failed, not the key's
        return None


def insert_reversal(
    original: JournalEntry, *, kind: str, idempotency_key: str, description: str, actor: str
) -> JournalEntry | None:
    """``insert_once`` of an entry that reverses ``original`` (a refund, an upstream cost reversal): same tenant,
    same reference, pointing at it."""
    return insert_once(
        JournalEntry,
        tenant_id=original.tenant_id,
        kind=kind,
        idempotency_key=idempotency_key,
        description=description,
        actor=actor,
        reference=original.reference,
        reverses=original,
    )


def lock_accounts(*account_ids: int) -> dict[int, Account]:
    """``SELECT ... FOR UPDATE`` the accounts in primary-key order (saleor's lock_objects) and return them fresh.

    PostgreSQL locks the rows in the ORDER BY order, so every transaction acquires its locks in one global order
    and no two can wait on each other. (SQLite has no row locks; its writers are serialized by
    ``BEGIN IMMEDIATE``, see the settings.)
    """
    ids = sorted(set(account_ids))
    locked = {account.pk: account for account in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(locked) != len(ids):
        raise WalletError(f"Account(s) {sorted(set(ids) - set(locked))} do not exist.")
    return locked


def write_postings(entry: JournalEntry, legs: list[tuple[Account, int]]) -> None:
    """Write the entry's postings and the new cached balances of their (locked) accounts.

    ``legs`` must hold locked, fresh accounts; any change to ``held_cents`` made on them before is saved too.
    """
    if sum(amount for _, amount in legs) != 0 or len(legs) < 2:
        raise WalletError(f"Entry {entry.idempotency_key!r} would not balance: {legs!r}.")  # a bug, never user input
    postings = []
    for account, amount in legs:
        account.balance_cents += amount
        postings.append(
            Posting(entry=entry, account=account, amount_cents=amount, balance_after_cents=account.balance_cents)
        )
    Posting.objects.bulk_create(postings)
    for account in {account.pk: account for account, _ in legs}.values():
        # A user wallet below zero or below its holds fails the table's CHECK constraint here, rolling back.
        account.save(update_fields=["balance_cents", "held_cents"])
    announce_postings(entry, legs)


def same_leg_or_conflict(entry: JournalEntry, *, kind: str, account_id: int, amount_cents: int | None) -> JournalEntry:
    """``entry`` if it is of ``kind`` and moved ``amount_cents`` (any amount if None) into ``account_id``."""
    legs = [posting.amount_cents for posting in entry.postings.all() if posting.account_id == account_id]
    if entry.kind != kind or len(legs) != 1 or (amount_cents is not None and legs[0] != amount_cents):
        raise IdempotencyConflict(
            f"Key {entry.idempotency_key!r} was already used for another request ({entry.kind} #{entry.pk})."
        )
    return entry


def checked_amount(amount_cents: object, *, signed: bool = False) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise WalletError(f"Amounts are whole cents (an int), not {amount_cents!r}.")
    if signed and amount_cents == 0:
        raise WalletError("The amount must not be zero.")
    if not signed and amount_cents <= 0:
        raise WalletError(f"The amount must be positive, not {amount_cents}.")
    if abs(amount_cents) > MAX_AMOUNT_CENTS:
        raise WalletError(f"The amount {amount_cents} is out of range (at most {MAX_AMOUNT_CENTS} cents).")
    return amount_cents


def check_key(idempotency_key: object) -> None:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise WalletError("An idempotency key is required.")
    if len(idempotency_key) > MAX_KEY_LENGTH:
        raise WalletError(f"Idempotency keys are at most {MAX_KEY_LENGTH} characters.")


def check_actor(actor: object) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise WalletError('An actor is required ("user:12", "operator:3", "webhook", "task:...", "cli").')
    if len(actor) > MAX_ACTOR_LENGTH:
        raise WalletError(f"Actors are at most {MAX_ACTOR_LENGTH} characters.")


def checked_reference(reference: object) -> str:
    """An opaque reference to what the money is for (``"activation:42"``); the ledger never interprets it."""
    if not isinstance(reference, str) or len(reference) > MAX_REFERENCE_LENGTH:
        raise WalletError(f"A reference is a string of at most {MAX_REFERENCE_LENGTH} characters, not {reference!r}.")
    return reference
