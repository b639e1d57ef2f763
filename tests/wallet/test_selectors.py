"""wallet.selectors: what a user and the activations see of the ledger, scoped and cheap."""

from __future__ import annotations

from datetime import UTC

import pytest

from wallet import services
from wallet.models import Account
from wallet.selectors import (
    account_statement,
    entries_for_reference,
    hold_for_reference,
    reference_money,
    verify_ledger,
    wallet_summary,
    wallet_transactions,
)

pytestmark = pytest.mark.django_db


def test_a_user_without_a_wallet_sees_zeros_and_no_row_is_created(alice):
    summary = wallet_summary(user=alice)

    assert (summary.balance_cents, summary.held_cents, summary.available_cents) == (0, 0, 0)
    assert wallet_transactions(user=alice) == []
    assert not Account.objects.exists()


def test_the_summary_shows_balance_held_and_available(alice):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="cli")
    services.place_hold(user=alice, amount_cents=250, idempotency_key="h:1")

    summary = wallet_summary(user=alice)

    assert (summary.balance_cents, summary.held_cents, summary.available_cents) == (1000, 250, 750)


def test_transactions_are_the_wallets_movements_newest_first(alice):
    # given a deposit, a charge, a refund and an adjustment
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", description="Card top-up", actor="cli")
    held = services.place_hold(user=alice, amount_cents=300, idempotency_key="h:1")
    services.charge(hold_id=held.pk, idempotency_key="c:1", description="SMS for +4470000", actor="webhook")
    services.refund(
        charge_idempotency_key="c:1", idempotency_key="r:1", description="Refund", actor="t", amount_cents=100
    )
    services.adjust(user=alice, amount_cents=-50, reason="Fee correction", idempotency_key="a:1", actor="operator:1")

    # when
    rows = wallet_transactions(user=alice)

    # then
    assert [(r["type"], r["amount_cents"], r["balance_after_cents"], r["description"]) for r in rows] == [
        ("adjustment", -50, 750, "Fee correction"),
        ("refund", 100, 800, "Refund"),
        ("charge", -300, 700, "SMS for +4470000"),
        ("deposit", 1000, 1000, "Card top-up"),
    ]
    assert all(
        row["created_at"].tzinfo is not None and row["created_at"].utcoffset() == UTC.utcoffset(None) for row in rows
    )
    assert set(rows[0]) == {"type", "amount_cents", "balance_after_cents", "description", "created_at"}


def test_transactions_are_limited_and_read_in_one_query(alice, django_assert_num_queries):
    for n in range(5):
        services.deposit(user=alice, amount_cents=100 + n, idempotency_key=f"d:{n}", actor="cli")

    with django_assert_num_queries(1):
        rows = wallet_transactions(user=alice, limit=3)

    assert [row["amount_cents"] for row in rows] == [104, 103, 102]


def test_a_user_sees_nothing_of_another_users_wallet(alice, bob, charlie):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="cli")

    for other in (bob, charlie):
        assert wallet_transactions(user=other) == []
        assert wallet_summary(user=other).balance_cents == 0


def test_entries_for_an_activation_are_scoped_to_the_tenant(alice, charlie, tenant, other_tenant):
    # given activation 7 exists in both tenants (ids are per table, but a careless caller might mix them)
    for user, key in ((alice, "acme"), (charlie, "globex")):
        services.deposit(user=user, amount_cents=1000, idempotency_key=f"d:{key}", actor="cli")
        held = services.place_hold(user=user, amount_cents=300, idempotency_key=f"h:{key}", reference="activation:7")
        services.charge(hold_id=held.pk, idempotency_key=f"c:{key}", description="SMS", actor="webhook")
    services.refund(
        charge_idempotency_key="c:acme", idempotency_key="r:acme", description="x", actor="t", amount_cents=50
    )
    services.record_upstream_cost(
        tenant=tenant, amount_cents=120, idempotency_key="u:acme", reference="activation:7", actor="t"
    )

    # when
    entries = entries_for_reference(tenant=tenant, reference="activation:7")

    # then
    assert [entry.idempotency_key for entry in entries] == ["c:acme", "r:acme", "u:acme"]
    assert all(len(entry.postings.all()) == 2 for entry in entries)
    money = reference_money(tenant=tenant, reference="activation:7")
    assert (money.charged_cents, money.refunded_cents, money.revenue_cents, money.upstream_cost_cents) == (
        300,
        50,
        250,
        120,
    )
    assert money.margin_cents == 130
    assert reference_money(tenant=other_tenant, reference="activation:7").margin_cents == 300
    assert hold_for_reference(tenant=tenant, reference="activation:7").idempotency_key == "h:acme"
    assert hold_for_reference(tenant=other_tenant, reference="activation:8") is None


def test_verify_ledger_can_be_limited_to_one_tenant(alice, charlie):
    services.deposit(user=alice, amount_cents=100, idempotency_key="d:a", actor="test")
    services.deposit(user=charlie, amount_cents=100, idempotency_key="d:c", actor="test")
    Account.objects.filter(user=charlie).update(balance_cents=1)
    assert verify_ledger(tenant_id=alice.tenant_id).ok
    report = verify_ledger(tenant_id=charlie.tenant_id)
    assert not report.ok and [drift.user_id for drift in report.drifted_accounts] == [charlie.pk]
    assert report.accounts_checked == Account.objects.filter(tenant_id=charlie.tenant_id).count()


def test_a_statement_lists_postings_with_their_running_balance(alice, django_assert_num_queries):
    for index, cents in enumerate((500, 250, -100)):
        if cents > 0:
            services.deposit(user=alice, amount_cents=cents, idempotency_key=f"d:{index}", actor="test")
        else:
            services.adjust(user=alice, amount_cents=cents, reason="fix", idempotency_key=f"a:{index}", actor="test")
    wallet = Account.objects.get(user=alice)
    with django_assert_num_queries(1):
        rows = account_statement(account=wallet)
    assert [(row["kind"], row["amount_cents"], row["balance_after_cents"]) for row in rows] == [
        ("deposit", 500, 500),
        ("deposit", 250, 750),
        ("adjustment", -100, 650),
    ]
    assert [row["balance_after_cents"] for row in account_statement(account=wallet, last=2)] == [750, 650]


def test_the_summary_runs_the_orms_own_query_compiled_once_scoped_to_the_user_and_tenant(
    alice, bob, charlie, django_assert_num_queries
):
    # Issue 14: the balance read is compiled once with sentinel ids (core.compiled.CompiledQuery); what it runs
    # is the ORM's query for this user, tenant and wallet type, with the ids in place of the sentinels.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.deposit(user=alice, amount_cents=700, idempotency_key="d:a", actor="cli")
    services.deposit(user=charlie, amount_cents=900, idempotency_key="d:c", actor="cli")
    with CaptureQueriesContext(connection) as captured:
        assert wallet_summary(user=alice).balance_cents == 700
    orm = (
        Account.objects.filter(user_id=alice.pk, tenant_id=alice.tenant_id, type=Account.Type.USER_WALLET)
        .values_list("balance_cents", "held_cents")
        .order_by("pk")[:1]
    )
    assert [q["sql"].replace("'", "") for q in captured] == [str(orm.query)]  # str() leaves strings unquoted
    with django_assert_num_queries(1):
        assert wallet_summary(user=bob).balance_cents == 0  # same tenant, no wallet
    assert wallet_summary(user=charlie).balance_cents == 900  # another tenant: its own wallet only
    # a user whose tenant id does not match the account's sees nothing (the tenant is part of the scope)
    alice.tenant_id = charlie.tenant_id
    assert wallet_summary(user=alice).balance_cents == 0
