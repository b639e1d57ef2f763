"""Refunds: a charge (or part of it) goes back from the tenant's revenue to the user's wallet."""

from __future__ import annotations

from django.db import transaction
from django.db.models import BigIntegerField, Sum, Value
from django.db.models.functions import Coalesce

from wallet.errors import IdempotencyConflict, RefundExceedsCharge, WalletError
from wallet.models import Account, JournalEntry, Posting
from wallet.services.protocol import (
    check_actor,
    check_key,
    checked_amount,
    insert_reversal,
    post_once,
    same_leg_or_conflict,
    write_postings,
)


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
    amount); the same key for another charge or amount raises ``IdempotencyConflict``. The refund carries the
    charge's reference. Locks the wallet and the revenue account, which serializes the refunds of one charge.
    """
    requested = None if amount_cents is None else checked_amount(amount_cents)
    check_key(idempotency_key)
    check_actor(actor)
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
        return same_leg_or_conflict(entry, kind=JournalEntry.Kind.REFUND, account_id=wallet.pk, amount_cents=requested)

    def post(locked: dict[int, Account]) -> JournalEntry | None:
        refunded = Posting.objects.filter(
            entry__reverses=original, entry__kind=JournalEntry.Kind.REFUND, account_id=wallet.pk
        ).aggregate(total=Coalesce(Sum("amount_cents"), Value(0, output_field=BigIntegerField())))["total"]
        refundable = charged - refunded
        amount = refundable if requested is None else requested
        if amount <= 0 or amount > refundable:
            raise RefundExceedsCharge(refundable_cents=refundable, requested_cents=amount)
        entry = insert_reversal(
            original,
            kind=JournalEntry.Kind.REFUND,
            idempotency_key=idempotency_key,
            description=description,
            actor=actor,
        )
        if entry is not None:
            write_postings(entry, [(locked[revenue.pk], -amount), (locked[wallet.pk], amount)])
        return entry

    return post_once(JournalEntry, idempotency_key=idempotency_key, lock=[wallet, revenue], replay=replay, post=post)
