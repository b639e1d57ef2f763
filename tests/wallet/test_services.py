"""wallet.services: every money movement, its guarantees and its failure modes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from tests.factories import OperatorFactory
from tests.wallet.checks import assert_ledger_is_consistent
from wallet import services
from wallet.models import Account, Hold, JournalEntry, Posting
from wallet.selectors import reference_money
from wallet.services import (
    HoldNotActive,
    IdempotencyConflict,
    InsufficientBalance,
    InsufficientFunds,
    RefundExceedsCharge,
    WalletError,
    protocol,
)

pytestmark = pytest.mark.django_db


def wallet_of(user) -> Account:
    return Account.objects.get(user=user, type=Account.Type.USER_WALLET)


def system(tenant, type) -> Account:
    return Account.objects.get(tenant=tenant, type=type, user=None)


def fund(user, cents: int, key: str = "") -> JournalEntry:
    return services.deposit(
        user=user, amount_cents=cents, idempotency_key=key or f"test:fund:{user.pk}:{cents}", actor="test"
    )


def hold(user, cents: int, key: str, reference: str = "") -> Hold:
    return services.place_hold(user=user, amount_cents=cents, idempotency_key=key, reference=reference)


def charge(hold_: Hold, key: str = "") -> JournalEntry:
    return services.charge(
        hold_id=hold_.pk, idempotency_key=key or f"charge:hold:{hold_.pk}", description="SMS received", actor="webhook"
    )


def legs(entry: JournalEntry) -> dict[int, tuple[int, int]]:
    return {p.account_id: (p.amount_cents, p.balance_after_cents) for p in entry.postings.all()}


# --- accounts ---------------------------------------------------------------------------------------------


def test_it_creates_one_wallet_per_user_and_returns_it_again(alice, bob):
    first = services.user_wallet_get_or_create(user=alice)
    again = services.user_wallet_get_or_create(user=alice)
    bobs = services.user_wallet_get_or_create(user=bob)

    assert first.pk == again.pk != bobs.pk
    assert (first.type, first.tenant_id, first.user_id, first.balance_cents, first.held_cents) == (
        Account.Type.USER_WALLET,
        alice.tenant_id,
        alice.pk,
        0,
        0,
    )


def test_operators_have_no_wallet():
    operator = OperatorFactory()

    with pytest.raises(WalletError, match="operator"):
        services.user_wallet_get_or_create(user=operator)
    assert not Account.objects.exists()


def test_it_creates_one_system_account_per_tenant_and_type(tenant, other_tenant):
    revenue = services.system_account(tenant=tenant, type=Account.Type.TENANT_REVENUE)

    assert services.system_account(tenant=tenant, type=Account.Type.TENANT_REVENUE).pk == revenue.pk
    assert services.system_account(tenant=other_tenant, type=Account.Type.TENANT_REVENUE).pk != revenue.pk
    assert services.system_account(tenant=tenant, type=Account.Type.FUNDING).pk != revenue.pk
    assert revenue.user_id is None


def test_a_user_wallet_is_not_a_system_account(tenant):
    with pytest.raises(WalletError):
        services.system_account(tenant=tenant, type=Account.Type.USER_WALLET)


# --- deposits ---------------------------------------------------------------------------------------------


def test_it_deposits_from_the_tenants_funding_account(alice):
    # when
    entry = services.deposit(user=alice, amount_cents=1500, idempotency_key="dep:1", actor="cli")
    second = services.deposit(
        user=alice, amount_cents=250, idempotency_key="dep:2", description="Top-up", actor="user:1"
    )

    # then
    wallet, funding = wallet_of(alice), system(alice.tenant, Account.Type.FUNDING)
    assert (wallet.balance_cents, funding.balance_cents) == (1750, -1750)
    assert (entry.kind, entry.tenant_id, entry.actor, entry.description) == (
        "deposit",
        alice.tenant_id,
        "cli",
        "Deposit",
    )
    assert legs(entry) == {wallet.pk: (1500, 1500), funding.pk: (-1500, -1500)}
    assert legs(second) == {wallet.pk: (250, 1750), funding.pk: (-250, -1750)}
    assert second.description == "Top-up"
    assert_ledger_is_consistent()


def test_a_repeated_deposit_key_posts_once(alice):
    first = services.deposit(user=alice, amount_cents=500, idempotency_key="dep:same", actor="cli")

    again = services.deposit(user=alice, amount_cents=500, idempotency_key="dep:same", actor="cli")

    assert again.pk == first.pk
    assert wallet_of(alice).balance_cents == 500
    assert JournalEntry.objects.count() == 1 and Posting.objects.count() == 2


@pytest.mark.parametrize("amount", [499, 501])
def test_a_deposit_key_reused_for_another_amount_conflicts(alice, amount):
    services.deposit(user=alice, amount_cents=500, idempotency_key="dep:same", actor="cli")

    with pytest.raises(IdempotencyConflict):
        services.deposit(user=alice, amount_cents=amount, idempotency_key="dep:same", actor="cli")
    assert wallet_of(alice).balance_cents == 500


def test_a_deposit_key_reused_for_another_user_conflicts(alice, bob, charlie):
    services.deposit(user=alice, amount_cents=500, idempotency_key="dep:same", actor="cli")

    for other in (bob, charlie):
        with pytest.raises(IdempotencyConflict):
            services.deposit(user=other, amount_cents=500, idempotency_key="dep:same", actor="cli")

    assert services.user_wallet_get_or_create(user=bob).balance_cents == 0
    assert services.user_wallet_get_or_create(user=charlie).balance_cents == 0


@pytest.mark.parametrize("amount", [0, -1, 1.5, "5", True, None, 10**12 + 1])
def test_it_refuses_a_deposit_that_is_not_a_positive_whole_number_of_cents(alice, amount):
    with pytest.raises(WalletError):
        services.deposit(user=alice, amount_cents=amount, idempotency_key="dep:bad", actor="cli")
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize(
    ("key", "actor"), [("", "cli"), ("   ", "cli"), ("k" * 201, "cli"), ("dep:1", ""), ("dep:1", "a" * 101)]
)
def test_it_refuses_a_missing_or_oversized_key_or_actor(alice, key, actor):
    with pytest.raises(WalletError):
        services.deposit(user=alice, amount_cents=100, idempotency_key=key, actor=actor)
    assert not JournalEntry.objects.exists()


# --- holds ------------------------------------------------------------------------------------------------


def test_a_hold_reduces_available_but_not_the_balance(alice):
    fund(alice, 1000)

    placed = hold(alice, 300, "hold:1", reference="activation:77")

    wallet = wallet_of(alice)
    assert (wallet.balance_cents, wallet.held_cents, wallet.available_cents) == (1000, 300, 700)
    assert (placed.status, placed.amount_cents, placed.reference, placed.closed_at) == (
        "active",
        300,
        "activation:77",
        None,
    )
    assert Posting.objects.filter(account=wallet).count() == 1  # a hold posts nothing


def test_a_hold_beyond_the_available_funds_raises_insufficient_balance_with_the_numbers(alice):
    # given 500 cents, 300 of them held
    fund(alice, 500)
    hold(alice, 300, "hold:1")

    # when
    with pytest.raises(InsufficientBalance) as raised:
        hold(alice, 250, "hold:2")

    # then
    assert (raised.value.balance_cents, raised.value.required_cents, raised.value.available_cents) == (500, 250, 200)
    assert isinstance(raised.value, WalletError)
    assert wallet_of(alice).held_cents == 300
    assert not Hold.objects.filter(idempotency_key="hold:2").exists()


def test_a_hold_may_take_exactly_the_available_funds(alice):
    fund(alice, 500)

    hold(alice, 500, "hold:all")

    assert wallet_of(alice).available_cents == 0


def test_a_hold_on_a_user_without_a_wallet_yet_raises_insufficient_balance(alice):
    with pytest.raises(InsufficientBalance) as raised:
        hold(alice, 100, "hold:1")

    assert (raised.value.balance_cents, raised.value.required_cents) == (0, 100)


def test_a_repeated_hold_key_returns_the_same_hold_even_when_funds_ran_out(alice):
    fund(alice, 300)
    first = hold(alice, 300, "hold:same")

    again = hold(alice, 300, "hold:same")

    assert again.pk == first.pk
    assert wallet_of(alice).held_cents == 300


def test_a_hold_key_reused_for_another_amount_or_user_conflicts(alice, bob):
    fund(alice, 1000)
    fund(bob, 1000)
    hold(alice, 300, "hold:same")

    with pytest.raises(IdempotencyConflict):
        hold(alice, 301, "hold:same")
    with pytest.raises(IdempotencyConflict):
        hold(bob, 300, "hold:same")
    assert (wallet_of(alice).held_cents, wallet_of(bob).held_cents) == (300, 0)


def test_it_releases_a_hold_and_a_second_release_is_a_no_op(alice):
    fund(alice, 1000)
    placed = hold(alice, 400, "hold:1")

    released = services.release_hold(hold_id=placed.pk)
    closed_at = released.closed_at
    again = services.release_hold(hold_id=placed.pk)

    assert released.status == again.status == Hold.Status.RELEASED
    assert closed_at is not None and again.closed_at == closed_at
    wallet = wallet_of(alice)
    assert (wallet.balance_cents, wallet.held_cents) == (1000, 0)
    assert_ledger_is_consistent()


def test_releasing_a_captured_hold_changes_nothing(alice):
    fund(alice, 1000)
    placed = hold(alice, 400, "hold:1")
    charge(placed)

    released = services.release_hold(hold_id=placed.pk)

    assert released.status == Hold.Status.CAPTURED
    wallet = wallet_of(alice)
    assert (wallet.balance_cents, wallet.held_cents) == (600, 0)


def test_releasing_an_unknown_hold_fails():
    with pytest.raises(WalletError):
        services.release_hold(hold_id=123456)


# --- charges ----------------------------------------------------------------------------------------------


def test_it_charges_a_hold_exactly_once(alice):
    # given
    fund(alice, 1000)
    placed = hold(alice, 350, "hold:1", reference="activation:42")

    # when
    entry = services.charge(
        hold_id=placed.pk, idempotency_key="charge:activation:42", description="SMS", actor="webhook"
    )
    again = services.charge(
        hold_id=placed.pk, idempotency_key="charge:activation:42", description="SMS", actor="task:sync"
    )

    # then
    wallet, revenue = wallet_of(alice), system(alice.tenant, Account.Type.TENANT_REVENUE)
    assert again.pk == entry.pk
    assert JournalEntry.objects.filter(kind="charge").count() == 1
    assert (wallet.balance_cents, wallet.held_cents, revenue.balance_cents) == (650, 0, 350)
    assert legs(entry) == {wallet.pk: (-350, 650), revenue.pk: (350, 350)}
    assert (entry.kind, entry.reference, entry.actor) == ("charge", "activation:42", "webhook")
    placed.refresh_from_db()
    assert (placed.status, placed.charge_entry_id) == (Hold.Status.CAPTURED, entry.pk)
    assert placed.closed_at is not None
    assert_ledger_is_consistent()


def test_a_charge_may_name_its_activation(alice):
    fund(alice, 1000)
    placed = hold(alice, 100, "hold:1")

    entry = services.charge(
        hold_id=placed.pk, idempotency_key="c:1", description="SMS", actor="webhook", reference="activation:9"
    )

    assert entry.reference == "activation:9"


def test_charging_a_released_hold_fails_and_posts_nothing(alice):
    fund(alice, 1000)
    placed = hold(alice, 100, "hold:1")
    services.release_hold(hold_id=placed.pk)

    with pytest.raises(HoldNotActive):
        charge(placed)

    assert not JournalEntry.objects.filter(kind="charge").exists()
    assert wallet_of(alice).balance_cents == 1000


def test_charging_a_captured_hold_under_another_key_fails(alice):
    fund(alice, 1000)
    placed = hold(alice, 100, "hold:1")
    charge(placed, "charge:1")

    with pytest.raises(HoldNotActive, match="charge:1"):
        charge(placed, "charge:2")

    assert wallet_of(alice).balance_cents == 900


def test_a_charge_key_reused_for_another_hold_conflicts(alice):
    fund(alice, 1000)
    first, second = hold(alice, 100, "hold:1"), hold(alice, 200, "hold:2")
    charge(first, "charge:same")

    with pytest.raises(IdempotencyConflict):
        charge(second, "charge:same")

    second.refresh_from_db()
    assert second.status == Hold.Status.ACTIVE
    assert wallet_of(alice).balance_cents == 900


def test_a_key_used_by_a_deposit_cannot_be_reused_by_a_charge(alice):
    fund(alice, 1000, key="shared-key")
    placed = hold(alice, 100, "hold:1")

    with pytest.raises(IdempotencyConflict):
        charge(placed, "shared-key")


def test_charging_an_unknown_hold_fails():
    with pytest.raises(WalletError):
        services.charge(hold_id=987654, idempotency_key="c:1", description="SMS", actor="webhook")


# --- refunds ----------------------------------------------------------------------------------------------


def test_it_refunds_a_charge_in_full_once(alice):
    # given
    fund(alice, 1000)
    charged = charge(hold(alice, 400, "hold:1", reference="activation:5"), "charge:activation:5")

    # when
    entry = services.refund(
        charge_idempotency_key="charge:activation:5",
        idempotency_key="refund:activation:5",
        description="Cancelled",
        actor="user:1",
    )
    again = services.refund(
        charge_idempotency_key="charge:activation:5",
        idempotency_key="refund:activation:5",
        description="Cancelled",
        actor="task:sync",
    )

    # then
    wallet, revenue = wallet_of(alice), system(alice.tenant, Account.Type.TENANT_REVENUE)
    assert again.pk == entry.pk
    assert (wallet.balance_cents, revenue.balance_cents) == (1000, 0)
    assert legs(entry) == {wallet.pk: (400, 1000), revenue.pk: (-400, 0)}
    assert (entry.kind, entry.reverses_id, entry.reference) == ("refund", charged.pk, "activation:5")
    assert_ledger_is_consistent()


def test_partial_refunds_are_capped_at_the_charged_amount(alice):
    # given a 400 cent charge
    fund(alice, 1000)
    charge(hold(alice, 400, "hold:1"), "charge:1")

    # when
    services.refund(
        charge_idempotency_key="charge:1", idempotency_key="r:1", description="part", actor="t", amount_cents=150
    )
    with pytest.raises(RefundExceedsCharge) as raised:
        services.refund(
            charge_idempotency_key="charge:1",
            idempotency_key="r:2",
            description="too much",
            actor="t",
            amount_cents=251,
        )
    rest = services.refund(charge_idempotency_key="charge:1", idempotency_key="r:3", description="rest", actor="t")

    # then
    assert (raised.value.refundable_cents, raised.value.requested_cents) == (250, 251)
    assert legs(rest)[wallet_of(alice).pk] == (250, 1000)
    assert wallet_of(alice).balance_cents == 1000
    with pytest.raises(RefundExceedsCharge):
        services.refund(charge_idempotency_key="charge:1", idempotency_key="r:4", description="again", actor="t")
    assert JournalEntry.objects.filter(kind="refund").count() == 2
    assert_ledger_is_consistent()


def test_a_repeated_refund_key_with_another_amount_conflicts(alice):
    fund(alice, 1000)
    charge(hold(alice, 400, "hold:1"), "charge:1")
    services.refund(
        charge_idempotency_key="charge:1", idempotency_key="r:1", description="x", actor="t", amount_cents=100
    )

    with pytest.raises(IdempotencyConflict):
        services.refund(
            charge_idempotency_key="charge:1", idempotency_key="r:1", description="x", actor="t", amount_cents=99
        )
    same = services.refund(charge_idempotency_key="charge:1", idempotency_key="r:1", description="x", actor="t")

    assert legs(same)[wallet_of(alice).pk] == (100, 700)
    assert wallet_of(alice).balance_cents == 700


def test_a_refund_key_reused_for_another_charge_conflicts(alice):
    fund(alice, 1000)
    charge(hold(alice, 100, "hold:1"), "charge:1")
    charge(hold(alice, 200, "hold:2"), "charge:2")
    services.refund(charge_idempotency_key="charge:1", idempotency_key="r:same", description="x", actor="t")

    with pytest.raises(IdempotencyConflict):
        services.refund(charge_idempotency_key="charge:2", idempotency_key="r:same", description="x", actor="t")

    assert wallet_of(alice).balance_cents == 800


@pytest.mark.parametrize("charge_key", ["no-such-charge", "dep:1"])
def test_refunding_something_that_is_not_a_charge_fails(alice, charge_key):
    fund(alice, 1000, key="dep:1")

    with pytest.raises(WalletError):
        services.refund(charge_idempotency_key=charge_key, idempotency_key="r:1", description="x", actor="t")

    assert wallet_of(alice).balance_cents == 1000


@pytest.mark.parametrize("amount", [0, -5])
def test_a_refund_amount_must_be_positive(alice, amount):
    fund(alice, 1000)
    charge(hold(alice, 100, "hold:1"), "charge:1")

    with pytest.raises(WalletError):
        services.refund(
            charge_idempotency_key="charge:1", idempotency_key="r:1", description="x", actor="t", amount_cents=amount
        )


# --- adjustments ------------------------------------------------------------------------------------------


def test_it_credits_and_debits_by_adjustment_with_the_reason_as_description(alice):
    fund(alice, 1000)

    credit = services.adjust(
        user=alice, amount_cents=250, reason=" Goodwill ", idempotency_key="adj:1", actor="operator:3"
    )
    debit = services.adjust(
        user=alice, amount_cents=-1250, reason="Chargeback", idempotency_key="adj:2", actor="operator:3"
    )

    wallet, adjustments = wallet_of(alice), system(alice.tenant, Account.Type.ADJUSTMENTS)
    assert (wallet.balance_cents, adjustments.balance_cents) == (0, 1000)
    assert (credit.kind, credit.description, credit.actor) == ("adjustment", "Goodwill", "operator:3")
    assert legs(debit) == {wallet.pk: (-1250, 0), adjustments.pk: (1250, 1000)}
    assert_ledger_is_consistent()


def test_a_debit_adjustment_cannot_take_held_funds(alice):
    # given 1000 cents, 600 of them held
    fund(alice, 1000)
    hold(alice, 600, "hold:1")

    # when
    with pytest.raises(InsufficientFunds) as raised:
        services.adjust(user=alice, amount_cents=-401, reason="x", idempotency_key="adj:1", actor="operator:3")
    services.adjust(user=alice, amount_cents=-400, reason="x", idempotency_key="adj:2", actor="operator:3")

    # then
    assert (raised.value.balance_cents, raised.value.available_cents, raised.value.required_cents) == (1000, 400, 401)
    wallet = wallet_of(alice)
    assert (wallet.balance_cents, wallet.held_cents) == (600, 600)


def test_a_debit_adjustment_cannot_take_a_wallet_below_zero(alice):
    with pytest.raises(InsufficientFunds):
        services.adjust(user=alice, amount_cents=-1, reason="x", idempotency_key="adj:1", actor="operator:3")
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize(("amount", "reason"), [(0, "x"), (100, ""), (100, "   ")])
def test_an_adjustment_needs_a_non_zero_amount_and_a_reason(alice, amount, reason):
    with pytest.raises(WalletError):
        services.adjust(user=alice, amount_cents=amount, reason=reason, idempotency_key="adj:1", actor="operator:3")
    assert not JournalEntry.objects.exists()


def test_a_repeated_adjustment_key_posts_once(alice):
    first = services.adjust(user=alice, amount_cents=100, reason="a", idempotency_key="adj:1", actor="operator:3")
    again = services.adjust(user=alice, amount_cents=100, reason="a", idempotency_key="adj:1", actor="operator:3")

    assert again.pk == first.pk
    assert wallet_of(alice).balance_cents == 100
    with pytest.raises(IdempotencyConflict):
        services.adjust(user=alice, amount_cents=-100, reason="a", idempotency_key="adj:1", actor="operator:3")


# --- upstream cost ----------------------------------------------------------------------------------------


def test_it_records_upstream_cost_so_the_margin_of_an_activation_is_known(alice, tenant):
    # given a 400 cent sale whose number cost 250 cents upstream
    fund(alice, 1000)
    charge(hold(alice, 400, "hold:1", reference="activation:7"), "charge:activation:7")

    # when
    cost = services.record_upstream_cost(
        tenant=tenant, amount_cents=250, idempotency_key="cost:activation:7", reference="activation:7", actor="webhook"
    )
    again = services.record_upstream_cost(
        tenant=tenant,
        amount_cents=250,
        idempotency_key="cost:activation:7",
        reference="activation:7",
        actor="task:sync",
    )

    # then
    upstream = system(tenant, Account.Type.TENANT_UPSTREAM_COST)
    payable = system(tenant, Account.Type.TENANT_UPSTREAM_PAYABLE)
    assert again.pk == cost.pk
    assert legs(cost) == {upstream.pk: (250, 250), payable.pk: (-250, -250)}
    money = reference_money(tenant=tenant, reference="activation:7")
    assert (money.charged_cents, money.refunded_cents, money.upstream_cost_cents, money.margin_cents) == (
        400,
        0,
        250,
        150,
    )
    assert_ledger_is_consistent()


def test_an_upstream_cost_key_reused_for_another_activation_or_amount_conflicts(tenant):
    services.record_upstream_cost(
        tenant=tenant, amount_cents=250, idempotency_key="cost:1", reference="activation:7", actor="t"
    )

    with pytest.raises(IdempotencyConflict):
        services.record_upstream_cost(
            tenant=tenant, amount_cents=250, idempotency_key="cost:1", reference="activation:8", actor="t"
        )
    with pytest.raises(IdempotencyConflict):
        services.record_upstream_cost(
            tenant=tenant, amount_cents=251, idempotency_key="cost:1", reference="activation:7", actor="t"
        )


def test_it_reverses_an_upstream_cost_once(tenant):
    original = services.record_upstream_cost(
        tenant=tenant, amount_cents=250, idempotency_key="cost:1", reference="activation:7", actor="t"
    )

    reversal = services.reverse_upstream_cost(
        original_idempotency_key="cost:1", idempotency_key="cost:1:rev", actor="t"
    )
    again = services.reverse_upstream_cost(original_idempotency_key="cost:1", idempotency_key="cost:1:rev", actor="t")

    assert again.pk == reversal.pk
    assert (reversal.kind, reversal.reverses_id, reversal.reference) == (
        "upstream_cost_reversal",
        original.pk,
        "activation:7",
    )
    assert system(tenant, Account.Type.TENANT_UPSTREAM_COST).balance_cents == 0
    assert system(tenant, Account.Type.TENANT_UPSTREAM_PAYABLE).balance_cents == 0
    assert reference_money(tenant=tenant, reference="activation:7").upstream_cost_cents == 0
    with pytest.raises(WalletError, match="already reversed"):
        services.reverse_upstream_cost(original_idempotency_key="cost:1", idempotency_key="cost:1:rev2", actor="t")
    with pytest.raises(WalletError):
        services.reverse_upstream_cost(original_idempotency_key="no-such-cost", idempotency_key="x", actor="t")
    assert_ledger_is_consistent()


# --- atomicity and races ----------------------------------------------------------------------------------


def test_a_failure_while_posting_a_charge_leaves_nothing_half_done(alice, monkeypatch):
    # given
    fund(alice, 1000)
    placed = hold(alice, 400, "hold:1")

    def broken_bulk_create(*args, **kwargs):
        raise IntegrityError("disk on fire")

    monkeypatch.setattr(Posting.objects, "bulk_create", broken_bulk_create)

    # when
    with pytest.raises(IntegrityError):
        charge(placed, "charge:1")

    # then the entry, the hold's capture and the balances are all rolled back
    assert not JournalEntry.objects.filter(idempotency_key="charge:1").exists()
    placed.refresh_from_db()
    assert (placed.status, placed.charge_entry_id, placed.closed_at) == (Hold.Status.ACTIVE, None, None)
    wallet = wallet_of(alice)
    assert (wallet.balance_cents, wallet.held_cents) == (1000, 400)
    monkeypatch.undo()
    assert charge(placed, "charge:1").kind == "charge"  # and the same key can be posted once the fault is gone
    assert_ledger_is_consistent()


def test_a_failure_after_the_postings_rolls_back_the_entry_and_the_postings(alice, monkeypatch):
    fund(alice, 1000)
    original_save = Account.save

    def failing_save(self, *args, **kwargs):
        if self.type == Account.Type.ADJUSTMENTS:
            raise RuntimeError("crash between the two balance updates")
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Account, "save", failing_save)

    with pytest.raises(RuntimeError):
        services.adjust(user=alice, amount_cents=-300, reason="x", idempotency_key="adj:1", actor="operator:3")

    assert not JournalEntry.objects.filter(idempotency_key="adj:1").exists()
    assert not Posting.objects.filter(entry__idempotency_key="adj:1").exists()
    assert wallet_of(alice).balance_cents == 1000


def test_a_concurrent_insert_of_the_same_key_returns_the_winners_entry(alice, monkeypatch):
    """The competing request commits the key between our look-up under lock and our insert (the unique index
    catches it): the loser gets the winner's entry and posts nothing."""
    # given
    real_lookup = protocol.find_by_key
    lookups = []

    def lookup_with_a_competitor(model, key):
        lookups.append(key)
        if len(lookups) == 2:  # the look-up under lock: the competitor posts right now
            services.deposit(user=alice, amount_cents=500, idempotency_key=key, actor="competitor")
            return None
        return real_lookup(model, key)

    monkeypatch.setattr(protocol, "find_by_key", lookup_with_a_competitor)

    # when
    entry = services.deposit(user=alice, amount_cents=500, idempotency_key="dep:race", actor="cli")

    # then
    assert entry.actor == "competitor"
    assert JournalEntry.objects.filter(idempotency_key="dep:race").count() == 1
    assert wallet_of(alice).balance_cents == 500
    assert_ledger_is_consistent()


def test_a_concurrent_insert_of_the_same_hold_key_returns_the_winners_hold(alice, monkeypatch):
    fund(alice, 1000)
    real_lookup = protocol.find_by_key
    lookups = []

    def lookup_with_a_competitor(model, key):
        lookups.append(key)
        if len(lookups) == 2:
            hold(alice, 300, key, reference="activation:1")
            return None
        return real_lookup(model, key)

    monkeypatch.setattr(protocol, "find_by_key", lookup_with_a_competitor)

    placed = hold(alice, 300, "hold:race")

    assert placed.reference == "activation:1"  # the competitor's
    assert Hold.objects.count() == 1
    assert wallet_of(alice).held_cents == 300


def test_cached_balances_equal_recomputed_ones_after_a_busy_day(alice, bob, charlie, tenant, other_tenant):
    # given a mix of everything on two tenants
    fund(alice, 5000)
    fund(bob, 700)
    fund(charlie, 1200)
    for n in range(5):
        placed = hold(alice, 100 + n, f"alice:hold:{n}", reference=f"activation:{n}")
        if n % 2:
            services.release_hold(hold_id=placed.pk)
        else:
            charge(placed, f"alice:charge:{n}")
    services.refund(
        charge_idempotency_key="alice:charge:2", idempotency_key="alice:refund:2", description="c", actor="t"
    )
    charge(hold(charlie, 1200, "charlie:hold"), "charlie:charge")
    services.adjust(user=bob, amount_cents=-700, reason="fraud", idempotency_key="bob:adj", actor="operator:1")
    services.record_upstream_cost(
        tenant=other_tenant, amount_cents=800, idempotency_key="c:1", reference="activation:1", actor="t"
    )

    # then
    assert (wallet_of(alice).balance_cents, wallet_of(bob).balance_cents, wallet_of(charlie).balance_cents) == (
        5000 - 100 - 104,
        0,
        0,
    )
    assert system(tenant, Account.Type.TENANT_REVENUE).balance_cents == 100 + 104
    assert system(other_tenant, Account.Type.TENANT_REVENUE).balance_cents == 1200
    assert_ledger_is_consistent()
