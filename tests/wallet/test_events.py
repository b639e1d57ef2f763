"""What the ledger announces to customers (through the core outbox): credits, and the balance falling below
the user's own alert level — once per posting, never for a rolled-back one."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.models import OutboxEvent
from wallet import selectors, services
from wallet.errors import WalletError

pytestmark = pytest.mark.django_db


def deposit(user, cents, key):
    return services.deposit(user=user, amount_cents=cents, idempotency_key=key, actor="test")


def spend(user, cents, key):
    """A hold and its charge: how an SMS takes money from the wallet."""
    hold = services.place_hold(user=user, amount_cents=cents, idempotency_key=f"{key}:hold")
    return services.charge(hold_id=hold.pk, idempotency_key=f"{key}:charge", description="SMS", actor="test")


def events_of(user, type=None):
    rows = OutboxEvent.objects.filter(user_id=user.pk).order_by("id")
    return list(rows.filter(type=type) if type else rows)


def test_a_deposit_announces_wallet_credited_once(alice):
    entry = deposit(alice, 1500, "fund-1")
    deposit(alice, 1500, "fund-1")  # the same request again: posts nothing, announces nothing
    [event] = events_of(alice, "wallet.credited")
    assert event.tenant_id == alice.tenant_id and event.ordering_key == f"wallet:{alice.pk}"
    assert event.payload == {
        "amount_cents": 1500,
        "kind": "deposit",
        "description": "Deposit",
        "wallet": {"balance_cents": 1500, "held_cents": 0, "available_cents": 1500},
    }
    assert event.key.endswith(f":credited:{entry.pk}")


def test_a_positive_adjustment_is_a_credit_and_a_negative_one_is_not(alice):
    services.adjust(user=alice, amount_cents=300, reason="goodwill", idempotency_key="adj-1", actor="operator:1")
    services.adjust(user=alice, amount_cents=-100, reason="correction", idempotency_key="adj-2", actor="operator:1")
    assert [(e.type, e.payload["amount_cents"]) for e in events_of(alice)] == [("wallet.credited", 300)]


def test_the_balance_falling_below_the_threshold_announces_low_balance_once_per_crossing(alice):
    # given: 1000 cents, an alert below 500
    deposit(alice, 1000, "fund")
    services.low_balance_threshold_set(user=alice, threshold_cents=500)
    # when: 1000 -> 700 -> 400 (crosses) -> 100 (still below) -> 900 (back above) -> 300 (crosses again)
    spend(alice, 300, "sms-1")
    crossing = spend(alice, 300, "sms-2")
    spend(alice, 300, "sms-3")
    deposit(alice, 800, "fund-2")
    spend(alice, 600, "sms-4")
    # then
    low = events_of(alice, "wallet.low_balance")
    assert [e.payload["wallet"]["balance_cents"] for e in low] == [400, 300]
    assert low[0].payload == {
        "threshold_cents": 500,
        "wallet": {"balance_cents": 400, "held_cents": 0, "available_cents": 400},
    }
    assert low[0].key.endswith(f":low_balance:{crossing.pk}")


def test_landing_exactly_on_the_threshold_is_not_low(alice):
    deposit(alice, 1000, "fund")
    services.low_balance_threshold_set(user=alice, threshold_cents=500)
    spend(alice, 500, "sms-1")
    assert events_of(alice, "wallet.low_balance") == []
    spend(alice, 1, "sms-2")
    assert len(events_of(alice, "wallet.low_balance")) == 1


def test_no_threshold_means_no_alert_and_another_users_threshold_is_theirs(alice, bob):
    deposit(alice, 1000, "fund-a")
    deposit(bob, 1000, "fund-b")
    services.low_balance_threshold_set(user=bob, threshold_cents=900)
    spend(alice, 950, "sms-a")
    assert events_of(alice, "wallet.low_balance") == []
    assert events_of(bob, "wallet.low_balance") == []


def test_a_rolled_back_posting_announces_nothing(alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        deposit(alice, 1000, "fund")
        raise RuntimeError("the surrounding change failed")
    assert OutboxEvent.objects.count() == 0


def test_the_threshold_is_set_read_and_removed_through_services_and_selectors(alice):
    assert selectors.low_balance_threshold(user=alice) is None
    services.low_balance_threshold_set(user=alice, threshold_cents=250)
    assert selectors.low_balance_threshold(user=alice) == 250
    services.low_balance_threshold_set(user=alice, threshold_cents=None)
    assert selectors.low_balance_threshold(user=alice) is None


@pytest.mark.parametrize("bad", [0, -5, 10**13, 2.5, "100", True])
def test_a_threshold_must_be_a_positive_whole_number_of_cents(alice, bad):
    with pytest.raises(WalletError):
        services.low_balance_threshold_set(user=alice, threshold_cents=bad)
    assert selectors.low_balance_threshold(user=alice) is None
