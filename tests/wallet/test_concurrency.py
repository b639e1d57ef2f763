"""Real threads against PostgreSQL: row locks, lock order, idempotency under contention, the deferred trigger.

Every thread uses its own database connection and closes it when done. A barrier releases the threads
together so that they really contend. (SQLite has no row locks and serializes writers: PostgreSQL only.)
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, connections, transaction

from tests.factories import UserFactory
from tests.wallet.checks import assert_ledger_is_consistent
from wallet import services
from wallet.models import Account, Hold, JournalEntry, Posting
from wallet.services import InsufficientBalance, InsufficientFunds, RefundExceedsCharge

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Run each job in its own thread, all released at once; return each job's result or raised exception."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        try:
            barrier.wait(timeout=30)
            return job()
        except Exception as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def outcomes(results: list[object]) -> Counter:
    return Counter("ok" if not isinstance(result, Exception) else type(result).__name__ for result in results)


def wallet_of(user) -> Account:
    return Account.objects.get(user=user, type=Account.Type.USER_WALLET)


def test_many_threads_posting_the_same_deposit_key_post_it_once(alice):
    # when
    results = run_together(
        [
            lambda: services.deposit(user=alice, amount_cents=700, idempotency_key="dep:same", actor="t")
            for _ in range(THREADS)
        ]
    )

    # then
    assert outcomes(results) == {"ok": THREADS}
    assert len({entry.pk for entry in results}) == 1
    assert JournalEntry.objects.filter(idempotency_key="dep:same").count() == 1
    assert wallet_of(alice).balance_cents == 700
    assert_ledger_is_consistent()


def test_many_threads_charging_and_refunding_with_the_same_keys_move_money_once(alice):
    # given
    services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")
    hold = services.place_hold(user=alice, amount_cents=400, idempotency_key="hold:1")

    # when a webhook, polls and the beat task all settle the same activation at once
    charges = run_together(
        [
            lambda: services.charge(
                hold_id=hold.pk, idempotency_key="charge:activation:1", description="SMS", actor="t"
            )
            for _ in range(THREADS)
        ]
    )
    refunds = run_together(
        [
            lambda: services.refund(
                charge_idempotency_key="charge:activation:1",
                idempotency_key="refund:activation:1",
                description="Cancelled",
                actor="t",
            )
            for _ in range(THREADS)
        ]
    )

    # then
    assert outcomes(charges) == outcomes(refunds) == {"ok": THREADS}
    assert len({entry.pk for entry in charges}) == len({entry.pk for entry in refunds}) == 1
    assert JournalEntry.objects.filter(kind="charge").count() == JournalEntry.objects.filter(kind="refund").count() == 1
    wallet = wallet_of(alice)
    assert (wallet.balance_cents, wallet.held_cents) == (1000, 0)
    assert_ledger_is_consistent()


def test_many_threads_placing_the_same_hold_key_hold_once(alice):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")

    results = run_together(
        [lambda: services.place_hold(user=alice, amount_cents=600, idempotency_key="hold:same") for _ in range(THREADS)]
    )

    assert outcomes(results) == {"ok": THREADS}
    assert Hold.objects.count() == 1
    assert wallet_of(alice).held_cents == 600


def test_concurrent_holds_never_overdraw_a_wallet(alice):
    # given room for exactly 10 holds of 100
    services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")

    # when 2x as many threads each try to hold 100
    results = run_together(
        [
            (lambda n=n: services.place_hold(user=alice, amount_cents=100, idempotency_key=f"hold:{n}"))
            for n in range(20)
        ]
    )

    # then
    assert outcomes(results) == {"ok": 10, "InsufficientBalance": 10}
    assert all(result.required_cents == 100 for result in results if isinstance(result, InsufficientBalance))
    wallet = wallet_of(alice)
    assert (wallet.balance_cents, wallet.held_cents) == (1000, 1000)
    assert_ledger_is_consistent()


def test_concurrent_debits_never_take_a_wallet_below_zero(alice):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")

    results = run_together(
        [
            (
                lambda n=n: services.adjust(
                    user=alice, amount_cents=-150, reason="fee", idempotency_key=f"adj:{n}", actor="operator:1"
                )
            )
            for n in range(THREADS)
        ]
    )

    assert outcomes(results) == {"ok": 6, "InsufficientFunds": THREADS - 6}
    assert all(isinstance(result, InsufficientFunds) for result in results if isinstance(result, Exception))
    assert wallet_of(alice).balance_cents == 100
    assert_ledger_is_consistent()


def test_concurrent_full_refunds_of_one_charge_under_different_keys_refund_once(alice):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")
    hold = services.place_hold(user=alice, amount_cents=400, idempotency_key="hold:1")
    services.charge(hold_id=hold.pk, idempotency_key="charge:1", description="SMS", actor="t")

    results = run_together(
        [
            (
                lambda n=n: services.refund(
                    charge_idempotency_key="charge:1", idempotency_key=f"refund:{n}", description="x", actor="t"
                )
            )
            for n in range(THREADS)
        ]
    )

    assert outcomes(results) == {"ok": 1, "RefundExceedsCharge": THREADS - 1}
    assert all(result.refundable_cents == 0 for result in results if isinstance(result, RefundExceedsCharge))
    assert wallet_of(alice).balance_cents == 1000
    assert_ledger_is_consistent()


def test_a_mixed_load_on_shared_accounts_keeps_exact_balances_without_deadlock(alice, bob):
    # given two users of one tenant (they share the revenue, funding and adjustments accounts)
    carol = UserFactory(tenant=alice.tenant)
    users = [alice, bob, carol]
    for user in users:
        services.deposit(user=user, amount_cents=10_000, idempotency_key=f"dep:{user.pk}", actor="t")
    holds = {
        (user.pk, n): services.place_hold(user=user, amount_cents=100 + n, idempotency_key=f"hold:{user.pk}:{n}")
        for user in users
        for n in range(8)
    }

    # when charges, releases, deposits and adjustments of all three wallets run at once, in every order
    jobs: list[Callable[[], object]] = []
    for (user_pk, n), hold in holds.items():
        if n % 2 == 0:
            jobs.append(
                lambda hold=hold: services.charge(
                    hold_id=hold.pk, idempotency_key=f"charge:{hold.pk}", description="SMS", actor="t"
                )
            )
        else:
            jobs.append(lambda hold=hold: services.release_hold(hold_id=hold.pk))
        jobs.append(
            lambda user_pk=user_pk, n=n: services.adjust(
                user=next(u for u in users if u.pk == user_pk),
                amount_cents=-10 if n % 2 else 10,
                reason="mix",
                idempotency_key=f"adj:{user_pk}:{n}",
                actor="t",
            )
        )
    for user in users:
        jobs.append(
            lambda user=user: services.deposit(user=user, amount_cents=55, idempotency_key=f"dep2:{user.pk}", actor="t")
        )
    results = run_together(jobs)

    # then nothing failed (a deadlock would surface as an OperationalError) and every balance is exact
    assert outcomes(results) == {"ok": len(jobs)}
    charged = sum(100 + n for n in range(8) if n % 2 == 0)  # per user; the adjustments (+10, -10) net to zero
    for user in users:
        wallet = wallet_of(user)
        assert (wallet.balance_cents, wallet.held_cents) == (10_000 + 55 - charged, 0)
    revenue = Account.objects.get(tenant=alice.tenant, type=Account.Type.TENANT_REVENUE)
    assert revenue.balance_cents == charged * len(users)
    assert_ledger_is_consistent()


# --- the deferred constraint trigger ---------------------------------------------------------------------


def test_the_database_refuses_to_commit_an_entry_whose_postings_do_not_sum_to_zero(alice, tenant):
    # given
    services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")
    wallet = wallet_of(alice)
    funding = Account.objects.get(tenant=tenant, type=Account.Type.FUNDING)

    # when an entry is written behind the services' back with legs of +500 and -400
    with pytest.raises(IntegrityError, match="sum to 100"), transaction.atomic():
        entry = JournalEntry.objects.create(tenant=tenant, kind="adjustment", idempotency_key="bad:1", actor="x")
        Posting.objects.create(entry=entry, account=wallet, amount_cents=500, balance_after_cents=1500)
        Posting.objects.create(entry=entry, account=funding, amount_cents=-400, balance_after_cents=-1400)
        # the trigger is deferred: nothing is refused before COMMIT
        assert Posting.objects.filter(entry=entry).count() == 2

    # then nothing of it was committed
    assert not JournalEntry.objects.filter(idempotency_key="bad:1").exists()
    assert_ledger_is_consistent()


def test_the_database_refuses_to_commit_an_entry_without_postings(tenant):
    with pytest.raises(IntegrityError, match="at least two"), transaction.atomic():
        JournalEntry.objects.create(tenant=tenant, kind="adjustment", idempotency_key="bad:empty", actor="x")

    assert not JournalEntry.objects.filter(idempotency_key="bad:empty").exists()


def test_the_database_commits_a_balanced_entry_written_leg_by_leg(alice, tenant):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")
    wallet = wallet_of(alice)
    funding = Account.objects.get(tenant=tenant, type=Account.Type.FUNDING)

    with transaction.atomic():
        entry = JournalEntry.objects.create(tenant=tenant, kind="deposit", idempotency_key="ok:1", actor="x")
        Posting.objects.create(entry=entry, account=wallet, amount_cents=500, balance_after_cents=1500)
        Posting.objects.create(entry=entry, account=funding, amount_cents=-500, balance_after_cents=-1500)

    assert JournalEntry.objects.filter(idempotency_key="ok:1").exists()


def test_the_database_refuses_to_change_or_delete_posted_money(alice):
    entry = services.deposit(user=alice, amount_cents=1000, idempotency_key="dep:1", actor="t")

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Posting.objects.filter(entry=entry).update(amount_cents=2000)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(description="changed")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM wallet_posting WHERE entry_id = %s", [entry.pk])

    assert Posting.objects.filter(entry=entry).count() == 2
    assert_ledger_is_consistent()
