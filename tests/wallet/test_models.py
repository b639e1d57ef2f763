"""The database's own guards of the ledger (CHECK and UNIQUE constraints), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from wallet import services
from wallet.models import Account, Hold, JournalEntry, Posting

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet(alice):
    services.deposit(user=alice, amount_cents=500, idempotency_key="d:1", actor="cli")
    services.place_hold(user=alice, amount_cents=200, idempotency_key="h:1")
    return services.user_wallet_get_or_create(user=alice)


@pytest.mark.parametrize(
    "change",
    [
        {"balance_cents": -1, "held_cents": 0},
        {"held_cents": -1},
        {"held_cents": 501},
    ],
)
def test_the_database_refuses_a_wallet_below_zero_or_below_its_holds(wallet, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=wallet.pk).update(**change)


def test_the_database_refuses_a_second_wallet_for_a_user(wallet, alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(tenant=alice.tenant, user=alice, type=Account.Type.USER_WALLET)


def test_the_database_refuses_a_second_system_account_of_a_type(tenant):
    services.system_account(tenant=tenant, type=Account.Type.FUNDING)

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(tenant=tenant, type=Account.Type.FUNDING)


def test_the_database_refuses_a_system_account_with_a_user_or_holds(tenant, alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(tenant=tenant, user=alice, type=Account.Type.TENANT_REVENUE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(tenant=tenant, type=Account.Type.ADJUSTMENTS, held_cents=5)


def test_the_database_refuses_a_zero_posting_and_a_non_positive_hold(wallet):
    entry = JournalEntry.objects.get(idempotency_key="d:1")

    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(entry=entry, account=wallet, amount_cents=0, balance_after_cents=500)
    with pytest.raises(IntegrityError), transaction.atomic():
        Hold.objects.create(account=wallet, amount_cents=0, idempotency_key="h:zero")


def test_the_database_refuses_a_captured_hold_without_its_charge(wallet):
    with pytest.raises(IntegrityError), transaction.atomic():
        Hold.objects.filter(idempotency_key="h:1").update(status=Hold.Status.CAPTURED)


def test_the_database_refuses_a_duplicate_entry_key(wallet, tenant):
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.create(tenant=tenant, kind="deposit", idempotency_key="d:1", actor="x")
