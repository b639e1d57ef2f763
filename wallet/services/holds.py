"""Holds on a user's wallet for pending orders: placed, then released or captured by exactly one charge."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from wallet.errors import HoldNotActive, IdempotencyConflict, InsufficientBalance, WalletError
from wallet.models import Account, Hold, JournalEntry
from wallet.services.accounts import system_account_of, user_wallet_get_or_create
from wallet.services.protocol import (
    check_actor,
    check_key,
    checked_amount,
    checked_reference,
    insert_new,
    insert_once,
    lock_accounts,
    post_once,
    write_postings,
)


def place_hold(
    *,
    user: User,
    amount_cents: int,
    idempotency_key: str,
    reference: str = "",
    description: str = "",
    new_key: bool = False,
) -> Hold:
    """Set ``amount_cents`` (> 0) aside on the user's wallet for a pending order (``reference`` names it).

    Raises ``InsufficientBalance`` (with ``balance_cents``, ``required_cents``, ``available_cents``) when the
    available funds (balance minus active holds) are short. Idempotent: the same key returns the hold already
    placed, whatever its status now; the same key for another user or amount raises ``IdempotencyConflict``.
    Locks the wallet, so holds, charges and debits of one wallet never overdraw it together.

    ``new_key``: the key names a row inserted by the caller's own open transaction (an order placing its first
    hold), so no hold can have it yet: no look-ups and no savepoint around the insert (``post_once``), nor
    around the whole call: the caller's transaction is the unit, and any error (``InsufficientBalance``
    included) must abort it, which the order does.
    """
    with transaction.atomic(savepoint=not new_key):
        return _place_hold(
            user=user,
            amount_cents=amount_cents,
            idempotency_key=idempotency_key,
            reference=reference,
            description=description,
            new_key=new_key,
        )


def _place_hold(
    *, user: User, amount_cents: int, idempotency_key: str, reference: str, description: str, new_key: bool
) -> Hold:
    amount = checked_amount(amount_cents)
    check_key(idempotency_key)
    reference = checked_reference(reference)
    wallet = user_wallet_get_or_create(user=user)

    def replay(hold: Hold) -> Hold:
        if hold.account_id != wallet.pk or hold.amount_cents != amount:
            raise IdempotencyConflict(
                f"Hold key {idempotency_key!r} was used for another hold "
                f"({hold.amount_cents} cents on account #{hold.account_id})."
            )
        return hold

    def post(locked: dict[int, Account]) -> Hold | None:
        locked_wallet = locked[wallet.pk]
        if locked_wallet.available_cents < amount:
            raise InsufficientBalance(
                balance_cents=locked_wallet.balance_cents,
                required_cents=amount,
                available_cents=locked_wallet.available_cents,
            )
        fields = {
            "account": locked_wallet,
            "amount_cents": amount,
            "idempotency_key": idempotency_key,
            "reference": reference,
            "description": description,
        }
        hold = insert_new(Hold, **fields) if new_key else insert_once(Hold, **fields)
        if hold is not None:
            locked_wallet.held_cents += amount
            locked_wallet.save(update_fields=["held_cents"])
        return hold

    return post_once(Hold, idempotency_key=idempotency_key, lock=[wallet], replay=replay, post=post, new_key=new_key)


@transaction.atomic(savepoint=False)
def release_hold(*, hold_id: int) -> Hold:
    """Release an active hold: its funds become available again; nothing is posted.

    A hold already released or captured is returned unchanged (a no-op), so releasing twice is harmless.
    Locks the wallet; the status moves by compare-and-set. Inside a caller's transaction it takes no savepoint
    (settlement releases on every cancel and expiry): it has no business error to recover from, so any failure
    aborts the caller's whole transaction, and nothing is half-written.
    """
    hold = _hold_or_error(hold_id)
    if hold.status != Hold.Status.ACTIVE:
        return hold  # released and captured are final
    locked_wallet = lock_accounts(hold.account_id)[hold.account_id]
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
    reference: str | None = None,
) -> JournalEntry:
    """Capture an active hold: move its amount from the user's wallet to the tenant's revenue account.

    The hold becomes ``captured`` (pointing at this entry) in the same transaction, so a hold is charged at
    most once. Idempotent: the same key returns the entry already posted; the same key for another hold raises
    ``IdempotencyConflict``. A released hold, or one captured under another key, raises ``HoldNotActive``.
    ``reference`` defaults to the hold's. Locks the wallet and the revenue account.
    """
    check_key(idempotency_key)
    check_actor(actor)
    hold = _hold_or_error(hold_id)
    wallet = hold.account
    revenue = system_account_of(tenant_id=wallet.tenant_id, type=Account.Type.TENANT_REVENUE)
    entry_reference = checked_reference(hold.reference if reference is None else reference)

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
            charged_by = current.charge_entry.idempotency_key if current.charge_entry else "?"
            raise HoldNotActive(f"Hold #{hold_id} was already charged by {charged_by!r}.")
        entry = insert_once(
            JournalEntry,
            tenant_id=wallet.tenant_id,
            kind=JournalEntry.Kind.CHARGE,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
            reference=entry_reference,
        )
        if entry is None:
            return None
        if not Hold.objects.filter(pk=hold_id, status=Hold.Status.ACTIVE).update(
            status=Hold.Status.CAPTURED, closed_at=timezone.now(), charge_entry=entry
        ):
            raise HoldNotActive(f"Hold #{hold_id} was closed concurrently.")  # rolls the entry back too
        locked_wallet = locked[wallet.pk]
        locked_wallet.held_cents -= current.amount_cents
        write_postings(entry, [(locked_wallet, -current.amount_cents), (locked[revenue.pk], current.amount_cents)])
        return entry

    return post_once(JournalEntry, idempotency_key=idempotency_key, lock=[wallet, revenue], replay=replay, post=post)


def _hold_or_error(hold_id: int) -> Hold:
    hold = Hold.objects.select_related("account").filter(pk=hold_id).first()
    if hold is None:
        raise WalletError(f"Hold #{hold_id} does not exist.")
    return hold
