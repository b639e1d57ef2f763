"""Random sequences of wallet operations keep every ledger invariant (hypothesis, rule-based state machine).

The machine keeps a plain-Python model of what each operation should do: a new key posts; the same key for the
same request replays (nothing posted); the same key for another request raises IdempotencyConflict; too little
money raises InsufficientBalance / InsufficientFunds; and so on. After every step the database must agree with
the model and every invariant must hold.

To make the interesting cases frequent: keys come from small pools (one per kind, plus one key every kind
shares), amounts come from a few round values (so a repeated key often repeats its amount too) or sit exactly
at a boundary of the model's state (what is available or refundable, one cent more or less), and charges and
refunds draw the holds and charges that exist (bundles).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from tests.factories import TenantFactory, UserFactory
from tests.wallet.checks import assert_ledger_is_consistent
from wallet import services
from wallet.models import Account, Hold, JournalEntry
from wallet.services import (
    HoldNotActive,
    IdempotencyConflict,
    InsufficientBalance,
    InsufficientFunds,
    RefundExceedsCharge,
    WalletError,
)

USERS = 2
USER = st.integers(0, USERS - 1)


def keys(prefix: str, count: int = 3) -> st.SearchStrategy[str]:
    """A small pool of keys for one kind of request, plus a key every kind shares (to provoke conflicts)."""
    return st.sampled_from([f"{prefix}{n}" for n in range(count)] + ["shared"])


DEPOSIT_KEYS, ADJUSTMENT_KEYS, CHARGE_KEYS, REFUND_KEYS, HOLD_KEYS = (keys(p) for p in ("d", "a", "c", "r", "h"))
AMOUNTS = st.sampled_from([50, 100, 250]) | st.integers(min_value=1, max_value=600)
EDGES = st.sampled_from(["exact", "one-more", "one-less"])


class RolledBack(Exception):
    """Ends one example: its database changes are rolled back."""


@dataclass
class ModelHold:
    user: int
    amount: int
    status: str = "active"


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    charges = Bundle("charges")

    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint of the test's transaction, rolled back in teardown() (at the end).
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.tenant = TenantFactory()
        self.users = [UserFactory(tenant=self.tenant) for _ in range(USERS)]
        # the model
        self.balance = [0] * USERS
        self.held = [0] * USERS
        self.hold_state: dict[str, ModelHold] = {}
        self.hold_ids: dict[str, int] = {}
        # key -> (kind, owner, amount); owner is a user index (deposit, adjustment), a hold key (charge)
        # or a charge key (refund)
        self.entries: dict[str, tuple[str, int | str, int]] = {}
        self.refunded: dict[str, int] = {}  # charge key -> refunded so far

    # --- helpers ------------------------------------------------------------------------------------------

    def available(self, user: int) -> int:
        return self.balance[user] - self.held[user]

    @staticmethod
    def at_edge(amount: int | str, exact: int) -> int:
        if isinstance(amount, int):
            return amount
        return {"exact": exact, "one-more": exact + 1, "one-less": exact - 1}[amount]

    @staticmethod
    def expect(error: type[WalletError] | None, call):
        """Run ``call``; it must raise exactly ``error`` (or nothing when None)."""
        try:
            result = call()
        except WalletError as exc:
            assert error is not None and type(exc) is error, f"unexpected {exc!r}, expected {error}"
            return None
        assert error is None, f"expected {error.__name__}, got {result!r}"
        return result

    # --- rules --------------------------------------------------------------------------------------------

    @initialize(amounts=st.lists(st.integers(0, 2000), min_size=USERS, max_size=USERS))
    def fund_the_users(self, amounts):
        for user, amount in enumerate(amounts):
            if amount:
                services.deposit(user=self.users[user], amount_cents=amount, idempotency_key=f"init{user}", actor="t")
                self.entries[f"init{user}"] = ("deposit", user, amount)
                self.balance[user] += amount

    @rule(user=USER, amount=AMOUNTS, key=DEPOSIT_KEYS)
    def deposit(self, user, amount, key):
        known = self.entries.get(key)
        error = None if known in (None, ("deposit", user, amount)) else IdempotencyConflict
        self.expect(
            error,
            lambda: services.deposit(user=self.users[user], amount_cents=amount, idempotency_key=key, actor="t"),
        )
        if known is None:
            self.entries[key] = ("deposit", user, amount)
            self.balance[user] += amount

    @rule(user=USER, amount=st.integers(-600, 600).filter(bool) | EDGES, key=ADJUSTMENT_KEYS)
    def adjust(self, user, amount, key):
        if isinstance(amount, str):  # a debit at the edge of the available funds
            amount = -self.at_edge(amount, self.available(user))
        if amount == 0:
            return
        known = self.entries.get(key)
        if known is not None:
            error = None if known == ("adjustment", user, amount) else IdempotencyConflict
        else:
            error = InsufficientFunds if self.available(user) + amount < 0 else None
        self.expect(
            error,
            lambda: services.adjust(
                user=self.users[user], amount_cents=amount, reason="test", idempotency_key=key, actor="t"
            ),
        )
        if known is None and error is None:
            self.entries[key] = ("adjustment", user, amount)
            self.balance[user] += amount

    @rule(target=holds, user=USER, amount=AMOUNTS | EDGES, key=HOLD_KEYS)
    def place_hold(self, user, amount, key):
        amount = self.at_edge(amount, self.available(user))
        if amount <= 0:
            return multiple()
        known = self.hold_state.get(key)
        if known is not None:
            error = None if (known.user, known.amount) == (user, amount) else IdempotencyConflict
        else:
            error = InsufficientBalance if self.available(user) < amount else None
        hold = self.expect(
            error, lambda: services.place_hold(user=self.users[user], amount_cents=amount, idempotency_key=key)
        )
        if hold is None:
            return multiple()
        if known is None:
            self.hold_state[key] = ModelHold(user=user, amount=amount)
            self.hold_ids[key] = hold.pk
            self.held[user] += amount
        assert hold.pk == self.hold_ids[key]
        return key

    @rule(hold_key=holds)
    def release(self, hold_key):
        hold = self.hold_state[hold_key]
        released = services.release_hold(hold_id=self.hold_ids[hold_key])
        if hold.status == "active":
            hold.status = "released"
            self.held[hold.user] -= hold.amount
        assert released.status == hold.status

    @rule(target=charges, hold_key=holds, key=CHARGE_KEYS)
    def charge(self, hold_key, key):
        hold = self.hold_state[hold_key]
        known = self.entries.get(key)
        if known is not None:
            error = None if known[:2] == ("charge", hold_key) else IdempotencyConflict
        else:
            error = None if hold.status == "active" else HoldNotActive
        entry = self.expect(
            error,
            lambda: services.charge(hold_id=self.hold_ids[hold_key], idempotency_key=key, description="SMS", actor="t"),
        )
        if entry is None:
            return multiple()
        if known is None:
            self.entries[key] = ("charge", hold_key, hold.amount)
            hold.status = "captured"
            self.held[hold.user] -= hold.amount
            self.balance[hold.user] -= hold.amount
        return key

    @rule(charge_key=charges, key=REFUND_KEYS, amount=st.none() | AMOUNTS | EDGES)
    def refund(self, charge_key, key, amount):
        charged = self.entries[charge_key]
        left = charged[2] - self.refunded.get(charge_key, 0)
        if isinstance(amount, str):
            amount = max(1, self.at_edge(amount, left))
        known = self.entries.get(key)
        if known is not None:
            error = None if known[:2] == ("refund", charge_key) and amount in (None, known[2]) else IdempotencyConflict
        else:
            amount_now = left if amount is None else amount
            error = RefundExceedsCharge if amount_now <= 0 or amount_now > left else None
        self.expect(
            error,
            lambda: services.refund(
                charge_idempotency_key=charge_key,
                idempotency_key=key,
                description="refund",
                actor="t",
                amount_cents=amount,
            ),
        )
        if known is None and error is None:
            refunded = left if amount is None else amount
            self.entries[key] = ("refund", charge_key, refunded)
            self.refunded[charge_key] = self.refunded.get(charge_key, 0) + refunded
            self.balance[self.hold_state[charged[1]].user] += refunded

    # --- invariants ---------------------------------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self):
        for n, user in enumerate(self.users):
            wallet = Account.objects.filter(user=user).first()
            balance, held = (wallet.balance_cents, wallet.held_cents) if wallet else (0, 0)
            assert (balance, held) == (self.balance[n], self.held[n])
        # a key posts at most once: one entry per key the model saw posted, no more
        assert sorted(JournalEntry.objects.filter(tenant=self.tenant).values_list("idempotency_key", flat=True)) == (
            sorted(self.entries)
        )
        statuses = dict(Hold.objects.filter(account__tenant=self.tenant).values_list("idempotency_key", "status"))
        assert statuses == {key: hold.status for key, hold in self.hold_state.items()}

    def teardown(self) -> None:
        try:
            # The slower, exhaustive check, once per example (entries are immutable and every cache is checked
            # against the model after each step, so a fault shows up here too): every entry sums to zero,
            # caches equal their recomputation, no wallet below zero or below its holds, every
            # balance_after_cents is its account's running balance, and verify_ledger() is ok.
            assert_ledger_is_consistent()
        finally:
            self.atomic.__exit__(RolledBack, RolledBack(), None)


@pytest.mark.django_db
def test_random_operation_sequences_keep_every_ledger_invariant():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=75,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
