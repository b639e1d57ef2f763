"""What the tenant owes its supplier: upstream costs, their reversal when the supplier refunds one, and their
write-off as a refund loss when the tenant refunded its user while the supplier kept the money."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Tenant
from wallet.errors import IdempotencyConflict, WalletError
from wallet.models import Account, JournalEntry
from wallet.services.accounts import system_account
from wallet.services.protocol import (
    check_actor,
    check_key,
    checked_amount,
    checked_reference,
    insert_once,
    insert_reversal,
    post_once,
    same_leg_or_conflict,
    write_postings,
)


@transaction.atomic
def record_upstream_cost(
    *,
    tenant: Tenant,
    amount_cents: int,
    idempotency_key: str,
    reference: str,
    actor: str,
    description: str = "Upstream cost",
) -> JournalEntry:
    """Record what Platfone billed the tenant (> 0): upstream cost up, upstream payable down by the amount.

    With the charges and refunds of the same ``reference`` it gives the margin of what was sold.
    Idempotent by key (the same key for another tenant, amount or reference: ``IdempotencyConflict``).
    Locks the tenant's upstream cost and payable accounts.
    """
    amount = checked_amount(amount_cents)
    check_key(idempotency_key)
    check_actor(actor)
    reference = checked_reference(reference)
    cost = system_account(tenant=tenant, type=Account.Type.TENANT_UPSTREAM_COST)
    payable = system_account(tenant=tenant, type=Account.Type.TENANT_UPSTREAM_PAYABLE)

    def replay(entry: JournalEntry) -> JournalEntry:
        if entry.reference != reference:
            raise IdempotencyConflict(f"Key {idempotency_key!r} was used for another reference.")
        return same_leg_or_conflict(
            entry, kind=JournalEntry.Kind.UPSTREAM_COST, account_id=cost.pk, amount_cents=amount
        )

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        entry = insert_once(
            JournalEntry,
            tenant_id=tenant.pk,
            kind=JournalEntry.Kind.UPSTREAM_COST,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
            reference=reference,
        )
        if entry is not None:
            write_postings(entry, [(locked[cost.pk], amount), (locked[payable.pk], -amount)])
        return entry

    return post_once(JournalEntry, idempotency_key=idempotency_key, lock=[cost, payable], replay=replay, post=post)


@transaction.atomic
def write_off_upstream_cost(
    *,
    original_idempotency_key: str,
    idempotency_key: str,
    actor: str,
    description: str = "Refund loss",
) -> JournalEntry:
    """Move an upstream cost in full to the tenant's refund losses: the sale was refunded to the user, the
    supplier kept its price. At most once per cost (``WalletError`` under another key; a unique index too).

    Idempotent by key. Locks the tenant's upstream cost and refund-loss accounts.
    """
    check_key(idempotency_key)
    check_actor(actor)
    original = _upstream_cost(original_idempotency_key)
    cost_leg = original.postings.select_related("account").get(account__type=Account.Type.TENANT_UPSTREAM_COST)
    loss = system_account(tenant=original.tenant, type=Account.Type.TENANT_REFUND_LOSS)

    def replay(entry: JournalEntry) -> JournalEntry:
        if entry.kind != JournalEntry.Kind.REFUND_LOSS or entry.reverses_id != original.pk:
            raise IdempotencyConflict(
                f"Key {idempotency_key!r} was used for another entry than a write-off of {original_idempotency_key!r}."
            )
        return entry

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        earlier = JournalEntry.objects.filter(reverses=original).first()  # reversed, or written off already
        if earlier is not None:
            raise WalletError(
                f"Upstream cost {original_idempotency_key!r} was already settled by {earlier.idempotency_key!r}."
            )
        entry = insert_reversal(
            original,
            kind=JournalEntry.Kind.REFUND_LOSS,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
        )
        if entry is not None:
            amount = cost_leg.amount_cents
            write_postings(entry, [(locked[cost_leg.account_id], -amount), (locked[loss.pk], amount)])
        return entry

    return post_once(
        JournalEntry, idempotency_key=idempotency_key, lock=[cost_leg.account, loss], replay=replay, post=post
    )


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

    A cost already written off as a refund loss is reversed out of the refund losses (the supplier refunded
    after all: there is no loss). Idempotent by key. Locks the accounts it changes.
    """
    check_key(idempotency_key)
    check_actor(actor)
    original = _upstream_cost(original_idempotency_key)
    original_postings = list(original.postings.select_related("account"))
    written_off = JournalEntry.objects.filter(reverses=original, kind=JournalEntry.Kind.REFUND_LOSS).first()
    if written_off is not None:
        # The cost now sits in the refund losses: take it back from there instead of from the cost account.
        loss_leg = written_off.postings.select_related("account").get(account__type=Account.Type.TENANT_REFUND_LOSS)
        original_postings = [
            loss_leg if posting.account.type == Account.Type.TENANT_UPSTREAM_COST else posting
            for posting in original_postings
        ]

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
        entry = insert_reversal(
            original,
            kind=JournalEntry.Kind.UPSTREAM_COST_REVERSAL,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
        )
        if entry is not None:
            write_postings(entry, [(locked[p.account_id], -p.amount_cents) for p in original_postings])
        return entry

    return post_once(
        JournalEntry,
        idempotency_key=idempotency_key,
        lock=[p.account for p in original_postings],
        replay=replay,
        post=post,
    )


def _upstream_cost(idempotency_key: str) -> JournalEntry:
    original = JournalEntry.objects.filter(
        idempotency_key=idempotency_key, kind=JournalEntry.Kind.UPSTREAM_COST
    ).first()
    if original is None:
        raise WalletError(f"There is no upstream cost {idempotency_key!r}.")
    return original
