"""Ledger invariants the wallet tests assert after acting."""

from __future__ import annotations

from django.db.models import Sum

from wallet.models import Account, Hold, JournalEntry, Posting
from wallet.selectors import verify_ledger


def posted_balance(account: Account) -> int:
    return Posting.objects.filter(account=account).aggregate(total=Sum("amount_cents"))["total"] or 0


def active_holds(account: Account) -> int:
    return (
        Hold.objects.filter(account=account, status=Hold.Status.ACTIVE).aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )


def assert_ledger_is_consistent() -> None:
    """Every entry sums to zero with 2+ legs, caches equal recomputed values, no wallet below zero or its holds,
    every posting's ``balance_after_cents`` is its account's running balance."""
    for entry in JournalEntry.objects.prefetch_related("postings"):
        amounts = [posting.amount_cents for posting in entry.postings.all()]
        assert len(amounts) >= 2 and sum(amounts) == 0, (entry, amounts)
    for account in Account.objects.all():
        assert account.balance_cents == posted_balance(account), account
        assert account.held_cents == active_holds(account), account
        if account.type == Account.Type.USER_WALLET:
            assert 0 <= account.held_cents <= account.balance_cents, account
        running = 0
        for posting in Posting.objects.filter(account=account).order_by("id"):
            running += posting.amount_cents
            assert posting.balance_after_cents == running, (account, posting)
    assert verify_ledger().ok
