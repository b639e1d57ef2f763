"""``deposit_reverse``: a deposit taken back (a provider refund or dispute) never takes a wallet below its holds or
zero; the part already spent is reported as a shortfall; the reversals of one deposit never exceed it."""

from __future__ import annotations

import pytest

from tests.wallet.checks import assert_ledger_is_consistent
from wallet import services
from wallet.models import Account, JournalEntry
from wallet.services import IdempotencyConflict, WalletError

pytestmark = pytest.mark.django_db


def wallet_of(user) -> Account:
    return Account.objects.get(user=user, type=Account.Type.USER_WALLET)


def test_it_takes_back_the_deposit_into_funding(alice):
    deposit = services.deposit(user=alice, amount_cents=2000, idempotency_key="topup:x:1", actor="t")
    result = services.deposit_reverse(
        deposit_idempotency_key="topup:x:1", amount_cents=2000, idempotency_key="rev:1", description="refund", actor="t"
    )
    assert (result.recovered_cents, result.shortfall_cents) == (2000, 0)
    assert result.entry is not None and result.entry.reverses == deposit and result.entry.kind == "deposit_reversal"
    assert wallet_of(alice).balance_cents == 0
    assert_ledger_is_consistent()


def test_what_was_spent_or_held_is_a_shortfall_never_a_negative_wallet(alice):
    services.deposit(user=alice, amount_cents=2000, idempotency_key="topup:x:1", actor="t")
    services.place_hold(user=alice, amount_cents=600, idempotency_key="hold:1")
    result = services.deposit_reverse(
        deposit_idempotency_key="topup:x:1",
        amount_cents=2000,
        idempotency_key="rev:1",
        description="dispute",
        actor="t",
    )
    assert (result.recovered_cents, result.shortfall_cents) == (1400, 600)
    account = wallet_of(alice)
    assert account.balance_cents == 600 and account.held_cents == 600
    # nothing left to take: no entry at all
    nothing = services.deposit_reverse(
        deposit_idempotency_key="topup:x:1", amount_cents=100, idempotency_key="rev:2", description="again", actor="t"
    )
    assert nothing.entry is None and nothing.shortfall_cents == 100
    assert_ledger_is_consistent()


def test_the_reversals_of_one_deposit_never_exceed_it(alice):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="topup:x:1", actor="t")
    services.deposit(user=alice, amount_cents=5000, idempotency_key="other", actor="t")
    services.deposit_reverse(
        deposit_idempotency_key="topup:x:1", amount_cents=800, idempotency_key="rev:1", description="r", actor="t"
    )
    second = services.deposit_reverse(
        deposit_idempotency_key="topup:x:1", amount_cents=800, idempotency_key="rev:2", description="r", actor="t"
    )
    assert (second.recovered_cents, second.shortfall_cents) == (200, 600)
    assert wallet_of(alice).balance_cents == 5000


def test_it_is_idempotent_by_key(alice):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="topup:x:1", actor="t")
    first = services.deposit_reverse(
        deposit_idempotency_key="topup:x:1", amount_cents=400, idempotency_key="rev:1", description="r", actor="t"
    )
    again = services.deposit_reverse(
        deposit_idempotency_key="topup:x:1", amount_cents=400, idempotency_key="rev:1", description="r", actor="t"
    )
    assert again.entry == first.entry and wallet_of(alice).balance_cents == 600
    assert JournalEntry.objects.filter(kind="deposit_reversal").count() == 1
    with pytest.raises(IdempotencyConflict):
        services.deposit_reverse(
            deposit_idempotency_key="topup:x:1",
            amount_cents=400,
            idempotency_key="topup:x:1",
            description="r",
            actor="t",
        )


def test_only_a_deposit_can_be_reversed(alice):
    with pytest.raises(WalletError):
        services.deposit_reverse(
            deposit_idempotency_key="nope", amount_cents=1, idempotency_key="rev:1", description="r", actor="t"
        )
