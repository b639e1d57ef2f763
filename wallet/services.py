"""The only code that moves money: deposits, holds, charges, refunds, adjustments and upstream costs.

How every posting service works (one protocol, in ``_post_once``):

1. Validate the arguments; resolve (get or create) the accounts involved.
2. If an entry with the idempotency key exists, return it when it is the same request, or raise
   ``IdempotencyConflict`` (fast path, no lock).
3. ``SELECT ... FOR UPDATE`` every account the entry changes, in primary-key order, so two transactions
   that touch overlapping accounts queue in the same order and cannot deadlock.
4. Look the key up again: a concurrent request with the same key that committed while we waited for the
   locks is visible now (READ COMMITTED) and is returned instead of posting again.
5. Check the business rule against the locked rows (balance, hold status, refundable amount).
6. Insert the entry in a savepoint. Should a concurrent insert of the same key still win (a caller's wider
   transaction, a key reused across accounts), the unique index raises, the savepoint is rolled back, and the
   winner's entry is returned: a key posts exactly once.
7. Insert the postings with ``balance_after_cents`` and update the cached balances from the locked rows.

Everything runs inside ``transaction.atomic``: any error leaves nothing posted. On PostgreSQL a deferred
constraint trigger also refuses to commit an entry whose postings do not sum to zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Tenant, User
from wallet.errors import (
    HoldNotActive,
    IdempotencyConflict,
    InsufficientBalance,
    InsufficientFunds,
    RefundExceedsCharge,
    WalletError,
)
from wallet.models import Account, Hold, JournalEntry, Posting

__all__ = [
    "MAX_AMOUNT_CENTS",
    "AccountDrift",
    "HoldNotActive",
    "IdempotencyConflict",
    "InsufficientBalance",
    "InsufficientFunds",
    "LedgerReport",
    "RefundExceedsCharge",
    "UnbalancedEntry",
    "WalletError",
    "adjust",
    "charge",
    "deposit",
    "place_hold",
    "record_upstream_cost",
    "refund",
    "release_hold",
    "reverse_upstream_cost",
    "system_account",
    "user_wallet_get_or_create",
    "verify_ledger",
]

# $10 billion: far above any real amount, far below where sums of BigIntegerField could overflow.
MAX_AMOUNT_CENTS = 10**12
MAX_KEY_LENGTH = 200
MAX_ACTOR_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 255

SYSTEM_ACCOUNT_TYPES = frozenset(Account.Type) - {Account.Type.USER_WALLET}


# --- accounts ---------------------------------------------------------------------------------


@transaction.atomic
def user_wallet_get_or_create(*, user: User) -> Account:
    """The user's wallet, created empty on first use. Race-safe: concurrent callers get the same row.

    Operators (users without a tenant) have no wallet: ``WalletError``.
    """
    if user.tenant_id is None:
        raise WalletError(f"User #{user.pk} is an operator (no tenant) and has no wallet.")
    # get_or_create inserts in a savepoint and, if a concurrent insert won the unique index, reads the winner.
    account, _ = Account.objects.get_or_create(
        user=user, type=Account.Type.USER_WALLET, defaults={"tenant_id": user.tenant_id}
    )
    return account


@transaction.atomic
def system_account(*, tenant: Tenant, type: str) -> Account:
    """The tenant's account of a system ``type`` (revenue, upstream cost/payable, funding, adjustments).

    Created on first use; race-safe like ``user_wallet_get_or_create``.
    """
    return _system_account(tenant_id=tenant.pk, type=type)


def _system_account(*, tenant_id: int, type: str) -> Account:
    if type not in SYSTEM_ACCOUNT_TYPES:
        raise WalletError(f"{type!r} is not a system account type.")
    account, _ = Account.objects.get_or_create(tenant_id=tenant_id, type=type, user=None)
    return account


# --- deposits and adjustments -----------------------------------------------------------------


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
    amount = _checked_amount(amount_cents)
    _check_key(idempotency_key)
    _check_actor(actor)
    wallet = user_wallet_get_or_create(user=user)
    funding = _system_account(tenant_id=wallet.tenant_id, type=Account.Type.FUNDING)

    def replay(entry: JournalEntry) -> JournalEntry:
        return _same_leg_or_conflict(entry, kind=JournalEntry.Kind.DEPOSIT, account_id=wallet.pk, amount_cents=amount)

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        entry = _insert_entry(
            tenant_id=wallet.tenant_id,
            kind=JournalEntry.Kind.DEPOSIT,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
        )
        if entry is not None:
            _write_postings(entry, [(locked[funding.pk], -amount), (locked[wallet.pk], amount)])
        return entry

    return _post_once(idempotency_key=idempotency_key, lock=[wallet, funding], replay=replay, post=post)


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
    amount = _checked_amount(amount_cents, signed=True)
    _check_key(idempotency_key)
    _check_actor(actor)
    if not isinstance(reason, str) or not reason.strip():
        raise WalletError("An adjustment needs a reason.")
    wallet = user_wallet_get_or_create(user=user)
    adjustments = _system_account(tenant_id=wallet.tenant_id, type=Account.Type.ADJUSTMENTS)

    def replay(entry: JournalEntry) -> JournalEntry:
        return _same_leg_or_conflict(
            entry, kind=JournalEntry.Kind.ADJUSTMENT, account_id=wallet.pk, amount_cents=amount
        )

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        locked_wallet = locked[wallet.pk]
        if amount < 0 and locked_wallet.available_cents + amount < 0:
            raise InsufficientFunds(
                balance_cents=locked_wallet.balance_cents,
                required_cents=-amount,
                available_cents=locked_wallet.available_cents,
            )
        entry = _insert_entry(
            tenant_id=wallet.tenant_id,
            kind=JournalEntry.Kind.ADJUSTMENT,
            idempotency_key=idempotency_key,
            description=reason.strip(),
            actor=actor,
        )
        if entry is not None:
            _write_postings(entry, [(locked[adjustments.pk], -amount), (locked_wallet, amount)])
        return entry

    return _post_once(idempotency_key=idempotency_key, lock=[wallet, adjustments], replay=replay, post=post)


# --- holds and charges --------------------------------------------------------------------------


@transaction.atomic
def place_hold(
    *,
    user: User,
    amount_cents: int,
    idempotency_key: str,
    activation_id: int | None = None,
    description: str = "",
) -> Hold:
    """Set ``amount_cents`` (> 0) aside on the user's wallet for a pending order.

    Raises ``InsufficientBalance`` (with ``balance_cents``, ``required_cents``, ``available_cents``) when the
    available funds (balance minus active holds) are short. Idempotent: the same key returns the hold already
    placed, whatever its status now; the same key for another user or amount raises ``IdempotencyConflict``.
    Locks the wallet, so holds, charges and debits of one wallet never overdraw it together.
    """
    amount = _checked_amount(amount_cents)
    _check_key(idempotency_key)
    wallet = user_wallet_get_or_create(user=user)

    def replay(hold: Hold) -> Hold:
        if hold.account_id != wallet.pk or hold.amount_cents != amount:
            raise IdempotencyConflict(
                f"Hold key {idempotency_key!r} was used for another hold "
                f"({hold.amount_cents} cents on account #{hold.account_id})."
            )
        return hold

    # The same protocol as _post_once, with holds instead of entries.
    existing = _hold_by_key(idempotency_key)
    if existing is not None:
        return replay(existing)
    locked_wallet = _lock_accounts(wallet.pk)[wallet.pk]
    existing = _hold_by_key(idempotency_key)
    if existing is not None:
        return replay(existing)
    if locked_wallet.available_cents < amount:
        raise InsufficientBalance(
            balance_cents=locked_wallet.balance_cents,
            required_cents=amount,
            available_cents=locked_wallet.available_cents,
        )
    try:
        with transaction.atomic():
            hold = Hold.objects.create(
                account=locked_wallet,
                amount_cents=amount,
                idempotency_key=idempotency_key,
                activation_id=activation_id,
                description=description[:MAX_DESCRIPTION_LENGTH],
            )
    except IntegrityError:
        winner = _hold_by_key(idempotency_key)
        if winner is None:
            raise  # another constraint failed, not the key's
        return replay(winner)
    locked_wallet.held_cents += amount
    locked_wallet.save(update_fields=["held_cents"])
    return hold


@transaction.atomic
def release_hold(*, hold_id: int) -> Hold:
    """Release an active hold: its funds become available again; nothing is posted.

    A hold already released or captured is returned unchanged (a no-op), so releasing twice is harmless.
    Locks the wallet; the status moves by compare-and-set.
    """
    hold = _hold_or_error(hold_id)
    if hold.status != Hold.Status.ACTIVE:
        return hold  # released and captured are final
    locked_wallet = _lock_accounts(hold.account_id)[hold.account_id]
    now = timezone.now()
    if not Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE).update(
        status=Hold.Status.RELEASED, closed_at=now
    ):
        hold.refresh_from_db()
        return hold  # closed by a concurrent release or charge while we waited for the lock
    locked_wallet.held_cents -= hold.amount_cents
    locked_wallet.save(update_fields=["held_cents"])
    hold.status, hold.closed_at = Hold.Status.RELEASED, now
    return hold


@transaction.atomic
def charge(
    *,
    hold_id: int,
    idempotency_key: str,
    description: str,
    actor: str,
    activation_id: int | None = None,
) -> JournalEntry:
    """Capture an active hold: move its amount from the user's wallet to the tenant's revenue account.

    The hold becomes ``captured`` (pointing at this entry) in the same transaction, so a hold is charged at
    most once. Idempotent: the same key returns the entry already posted; the same key for another hold raises
    ``IdempotencyConflict``. A released hold, or one captured under another key, raises ``HoldNotActive``.
    ``activation_id`` defaults to the hold's. Locks the wallet and the revenue account.
    """
    _check_key(idempotency_key)
    _check_actor(actor)
    hold = _hold_or_error(hold_id)
    wallet = hold.account
    revenue = _system_account(tenant_id=wallet.tenant_id, type=Account.Type.TENANT_REVENUE)

    def replay(entry: JournalEntry) -> JournalEntry:
        if entry.kind != JournalEntry.Kind.CHARGE or not Hold.objects.filter(pk=hold_id, charge_entry=entry).exists():
            raise IdempotencyConflict(
                f"Key {idempotency_key!r} was used for another entry than a charge of hold #{hold_id}."
            )
        return entry

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        current = Hold.objects.select_related("charge_entry").get(pk=hold_id)  # re-read under the wallet lock
        if current.status == Hold.Status.RELEASED:
            raise HoldNotActive(f"Hold #{hold_id} was released; it cannot be charged.")
        if current.status == Hold.Status.CAPTURED:
            raise HoldNotActive(f"Hold #{hold_id} was already charged by {current.charge_entry.idempotency_key!r}.")
        entry = _insert_entry(
            tenant_id=wallet.tenant_id,
            kind=JournalEntry.Kind.CHARGE,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
            activation_id=activation_id if activation_id is not None else current.activation_id,
        )
        if entry is None:
            return None
        if not Hold.objects.filter(pk=hold_id, status=Hold.Status.ACTIVE).update(
            status=Hold.Status.CAPTURED, closed_at=timezone.now(), charge_entry=entry
        ):
            raise HoldNotActive(f"Hold #{hold_id} was closed concurrently.")  # rolls the entry back too
        locked_wallet = locked[wallet.pk]
        locked_wallet.held_cents -= current.amount_cents
        _write_postings(entry, [(locked_wallet, -current.amount_cents), (locked[revenue.pk], current.amount_cents)])
        return entry

    return _post_once(idempotency_key=idempotency_key, lock=[wallet, revenue], replay=replay, post=post)


@transaction.atomic
def refund(
    *,
    charge_idempotency_key: str,
    idempotency_key: str,
    description: str,
    actor: str,
    amount_cents: int | None = None,
) -> JournalEntry:
    """Return a charge (or part of it, ``amount_cents``) from the tenant's revenue to the user's wallet.

    The refunds of one charge never exceed the charged amount in total: ``RefundExceedsCharge`` (also when
    nothing is left, e.g. a second full refund under another key). ``amount_cents=None`` refunds what is left.
    Idempotent by key: the same key returns the refund already posted (with ``amount_cents=None`` whatever its
    amount); the same key for another charge or amount raises ``IdempotencyConflict``.
    Locks the wallet and the revenue account, which serializes the refunds of one charge.
    """
    requested = None if amount_cents is None else _checked_amount(amount_cents)
    _check_key(idempotency_key)
    _check_actor(actor)
    original = JournalEntry.objects.filter(
        idempotency_key=charge_idempotency_key, kind=JournalEntry.Kind.CHARGE
    ).first()
    if original is None:
        raise WalletError(f"There is no charge {charge_idempotency_key!r} to refund.")
    legs = {posting.account.type: posting for posting in original.postings.select_related("account")}
    wallet_leg, revenue_leg = legs[Account.Type.USER_WALLET], legs[Account.Type.TENANT_REVENUE]
    wallet, revenue = wallet_leg.account, revenue_leg.account
    charged = -wallet_leg.amount_cents

    def replay(entry: JournalEntry) -> JournalEntry:
        if entry.kind != JournalEntry.Kind.REFUND or entry.reverses_id != original.pk:
            raise IdempotencyConflict(
                f"Key {idempotency_key!r} was used for another entry than a refund of {charge_idempotency_key!r}."
            )
        return _same_leg_or_conflict(entry, kind=JournalEntry.Kind.REFUND, account_id=wallet.pk, amount_cents=requested)

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        refunded = Posting.objects.filter(
            entry__reverses=original, entry__kind=JournalEntry.Kind.REFUND, account_id=wallet.pk
        ).aggregate(total=Coalesce(Sum("amount_cents"), Value(0, output_field=BigIntegerField())))["total"]
        refundable = charged - refunded
        amount = refundable if requested is None else requested
        if amount <= 0 or amount > refundable:
            raise RefundExceedsCharge(refundable_cents=refundable, requested_cents=amount)
        entry = _insert_entry(
            tenant_id=original.tenant_id,
            kind=JournalEntry.Kind.REFUND,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
            activation_id=original.activation_id,
            reverses=original,
        )
        if entry is not None:
            _write_postings(entry, [(locked[revenue.pk], -amount), (locked[wallet.pk], amount)])
        return entry

    return _post_once(idempotency_key=idempotency_key, lock=[wallet, revenue], replay=replay, post=post)


# --- upstream cost ------------------------------------------------------------------------------


@transaction.atomic
def record_upstream_cost(
    *,
    tenant: Tenant,
    amount_cents: int,
    idempotency_key: str,
    activation_id: int | None,
    actor: str,
    description: str = "Upstream cost",
) -> JournalEntry:
    """Record what Platfone billed the tenant (> 0): upstream cost up, upstream payable down by the amount.

    With the charges and refunds of the same ``activation_id`` it gives the margin per activation.
    Idempotent by key (the same key for another tenant, amount or activation: ``IdempotencyConflict``).
    Locks the tenant's upstream cost and payable accounts.
    """
    amount = _checked_amount(amount_cents)
    _check_key(idempotency_key)
    _check_actor(actor)
    cost = system_account(tenant=tenant, type=Account.Type.TENANT_UPSTREAM_COST)
    payable = system_account(tenant=tenant, type=Account.Type.TENANT_UPSTREAM_PAYABLE)

    def replay(entry: JournalEntry) -> JournalEntry:
        if entry.activation_id != activation_id:
            raise IdempotencyConflict(f"Key {idempotency_key!r} was used for another activation.")
        return _same_leg_or_conflict(
            entry, kind=JournalEntry.Kind.UPSTREAM_COST, account_id=cost.pk, amount_cents=amount
        )

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        entry = _insert_entry(
            tenant_id=tenant.pk,
            kind=JournalEntry.Kind.UPSTREAM_COST,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
            activation_id=activation_id,
        )
        if entry is not None:
            _write_postings(entry, [(locked[cost.pk], amount), (locked[payable.pk], -amount)])
        return entry

    return _post_once(idempotency_key=idempotency_key, lock=[cost, payable], replay=replay, post=post)


@transaction.atomic
def reverse_upstream_cost(
    *,
    original_idempotency_key: str,
    idempotency_key: str,
    actor: str,
    description: str = "Upstream cost reversed",
) -> JournalEntry:
    """Reverse an upstream cost in full (Platfone refunded it). An upstream cost is reversed at most once:
    a second reversal under another key raises ``WalletError`` (also enforced by a unique index).

    Idempotent by key. Locks the tenant's upstream cost and payable accounts.
    """
    _check_key(idempotency_key)
    _check_actor(actor)
    original = JournalEntry.objects.filter(
        idempotency_key=original_idempotency_key, kind=JournalEntry.Kind.UPSTREAM_COST
    ).first()
    if original is None:
        raise WalletError(f"There is no upstream cost {original_idempotency_key!r} to reverse.")
    original_postings = list(original.postings.select_related("account"))

    def replay(entry: JournalEntry) -> JournalEntry:
        if entry.kind != JournalEntry.Kind.UPSTREAM_COST_REVERSAL or entry.reverses_id != original.pk:
            raise IdempotencyConflict(
                f"Key {idempotency_key!r} was used for another entry than a reversal of {original_idempotency_key!r}."
            )
        return entry

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        earlier = JournalEntry.objects.filter(reverses=original, kind=JournalEntry.Kind.UPSTREAM_COST_REVERSAL).first()
        if earlier is not None:
            raise WalletError(
                f"Upstream cost {original_idempotency_key!r} was already reversed by {earlier.idempotency_key!r}."
            )
        entry = _insert_entry(
            tenant_id=original.tenant_id,
            kind=JournalEntry.Kind.UPSTREAM_COST_REVERSAL,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
            activation_id=original.activation_id,
            reverses=original,
        )
        if entry is not None:
            _write_postings(entry, [(locked[p.account_id], -p.amount_cents) for p in original_postings])
        return entry

    return _post_once(
        idempotency_key=idempotency_key, lock=[p.account for p in original_postings], replay=replay, post=post
    )


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountDrift:
    account_id: int
    tenant_id: int
    type: str
    user_id: int | None
    cached_balance_cents: int
    computed_balance_cents: int
    cached_held_cents: int
    computed_held_cents: int

    def __str__(self) -> str:
        owner = f"user #{self.user_id}" if self.user_id else f"tenant #{self.tenant_id}"
        return (
            f"account #{self.account_id} ({self.type}, {owner}): "
            f"balance cached {self.cached_balance_cents} vs postings {self.computed_balance_cents}, "
            f"held cached {self.cached_held_cents} vs active holds {self.computed_held_cents}"
        )


@dataclass(frozen=True)
class UnbalancedEntry:
    entry_id: int
    idempotency_key: str
    kind: str
    sum_cents: int
    posting_count: int

    def __str__(self) -> str:
        return (
            f"entry #{self.entry_id} {self.kind} {self.idempotency_key!r}: "
            f"{self.posting_count} postings summing to {self.sum_cents}"
        )


@dataclass(frozen=True)
class LedgerReport:
    accounts_checked: int
    entries_checked: int
    drifted_accounts: list[AccountDrift]
    unbalanced_entries: list[UnbalancedEntry]

    @property
    def ok(self) -> bool:
        return not self.drifted_accounts and not self.unbalanced_entries


def verify_ledger() -> LedgerReport:
    """Recompute every account's balance (from postings) and held funds (from active holds) and compare them
    with the cached values; find entries whose postings do not sum to zero or that have fewer than two.

    Reads only. Each check is one statement, so it sees one consistent snapshot even while money moves.
    """
    zero = Value(0, output_field=BigIntegerField())
    posted = (
        Posting.objects.filter(account=OuterRef("pk")).order_by().values("account").annotate(total=Sum("amount_cents"))
    )
    held = (
        Hold.objects.filter(account=OuterRef("pk"), status=Hold.Status.ACTIVE)
        .order_by()
        .values("account")
        .annotate(total=Sum("amount_cents"))
    )
    drifted = (
        Account.objects.annotate(
            computed_balance=Coalesce(Subquery(posted.values("total")), zero),
            computed_held=Coalesce(Subquery(held.values("total")), zero),
        )
        .exclude(balance_cents=F("computed_balance"), held_cents=F("computed_held"))
        .order_by("pk")
    )
    unbalanced = (
        JournalEntry.objects.annotate(total=Coalesce(Sum("postings__amount_cents"), zero), legs=Count("postings"))
        .filter(~Q(total=0) | Q(legs__lt=2))
        .order_by("pk")
    )
    return LedgerReport(
        accounts_checked=Account.objects.count(),
        entries_checked=JournalEntry.objects.count(),
        drifted_accounts=[
            AccountDrift(
                account_id=account.pk,
                tenant_id=account.tenant_id,
                type=account.type,
                user_id=account.user_id,
                cached_balance_cents=account.balance_cents,
                computed_balance_cents=account.computed_balance,
                cached_held_cents=account.held_cents,
                computed_held_cents=account.computed_held,
            )
            for account in drifted
        ],
        unbalanced_entries=[
            UnbalancedEntry(
                entry_id=entry.pk,
                idempotency_key=entry.idempotency_key,
                kind=entry.kind,
                sum_cents=entry.total,
                posting_count=entry.legs,
            )
            for entry in unbalanced
        ],
    )


# --- the posting protocol -----------------------------------------------------------------------


def _post_once(
    *,
    idempotency_key: str,
    lock: list[Account],
    replay: Callable[[JournalEntry], JournalEntry],
    post: Callable[[dict[int, Account]], JournalEntry | None],
) -> JournalEntry:
    """Post an entry exactly once per key; see the module docstring. Call inside ``transaction.atomic``.

    ``replay`` validates an entry already posted under the key (returns it or raises ``IdempotencyConflict``);
    ``post`` checks the rule on the locked accounts and posts, returning None when ``_insert_entry`` lost the
    key to a concurrent insert.
    """
    existing = _entry_by_key(idempotency_key)
    if existing is not None:
        return replay(existing)
    locked = _lock_accounts(*(account.pk for account in lock))
    existing = _entry_by_key(idempotency_key)
    if existing is not None:
        return replay(existing)
    entry = post(locked)
    if entry is None:
        winner = _entry_by_key(idempotency_key)
        if winner is None:  # cannot happen: _insert_entry returns None only when the key exists
            raise WalletError(f"Entry {idempotency_key!r} vanished after a conflicting insert.")
        return replay(winner)
    return entry


def _entry_by_key(idempotency_key: str) -> JournalEntry | None:
    return JournalEntry.objects.filter(idempotency_key=idempotency_key).first()


def _hold_by_key(idempotency_key: str) -> Hold | None:
    return Hold.objects.filter(idempotency_key=idempotency_key).first()


def _lock_accounts(*account_ids: int) -> dict[int, Account]:
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


def _insert_entry(**fields: object) -> JournalEntry | None:
    """Insert a journal entry in a savepoint; None if a concurrent transaction committed the same key first."""
    fields["description"] = str(fields.get("description") or "")[:MAX_DESCRIPTION_LENGTH]
    try:
        with transaction.atomic():
            return JournalEntry.objects.create(**fields)
    except IntegrityError:
        if _entry_by_key(str(fields["idempotency_key"])) is None:
            raise  # another constraint failed, not the key's
        return None


def _write_postings(entry: JournalEntry, legs: list[tuple[Account, int]]) -> None:
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


def _same_leg_or_conflict(entry: JournalEntry, *, kind: str, account_id: int, amount_cents: int | None) -> JournalEntry:
    """``entry`` if it is of ``kind`` and moved ``amount_cents`` (any amount if None) into ``account_id``."""
    legs = [posting.amount_cents for posting in entry.postings.all() if posting.account_id == account_id]
    if entry.kind != kind or len(legs) != 1 or (amount_cents is not None and legs[0] != amount_cents):
        raise IdempotencyConflict(
            f"Key {entry.idempotency_key!r} was already used for another request ({entry.kind} #{entry.pk})."
        )
    return entry


def _hold_or_error(hold_id: int) -> Hold:
    hold = Hold.objects.select_related("account").filter(pk=hold_id).first()
    if hold is None:
        raise WalletError(f"Hold #{hold_id} does not exist.")
    return hold


def _checked_amount(amount_cents: object, *, signed: bool = False) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise WalletError(f"Amounts are whole cents (an int), not {amount_cents!r}.")
    if signed and amount_cents == 0:
        raise WalletError("The amount must not be zero.")
    if not signed and amount_cents <= 0:
        raise WalletError(f"The amount must be positive, not {amount_cents}.")
    if abs(amount_cents) > MAX_AMOUNT_CENTS:
        raise WalletError(f"The amount {amount_cents} is out of range (at most {MAX_AMOUNT_CENTS} cents).")
    return amount_cents


def _check_key(idempotency_key: object) -> None:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise WalletError("An idempotency key is required.")
    if len(idempotency_key) > MAX_KEY_LENGTH:
        raise WalletError(f"Idempotency keys are at most {MAX_KEY_LENGTH} characters.")


def _check_actor(actor: object) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise WalletError('An actor is required ("user:12", "operator:3", "webhook", "task:...", "cli").')
    if len(actor) > MAX_ACTOR_LENGTH:
        raise WalletError(f"Actors are at most {MAX_ACTOR_LENGTH} characters.")
