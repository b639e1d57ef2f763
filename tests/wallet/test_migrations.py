"""Migration 0003 turns ``activation_id`` into the opaque ``reference`` without losing a row's meaning, also
on PostgreSQL, where journal entries are append-only (the migration lifts that trigger for its own update)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("wallet", "0002_postgres_ledger_triggers")]
AFTER = [("wallet", "0003_opaque_reference")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_ledger(tenant, alice):
    """A ledger as it was before 0003: one charge and its hold for activation 42, one deposit for nothing."""
    old = migrate(BEFORE)
    with transaction.atomic():  # on PostgreSQL an entry must have its postings when its transaction commits
        _write_old_rows(old, tenant, alice)
    yield
    # Back to the latest schema of every app (later migrations than 0003 were unapplied with it), so that the
    # tests after this one find the tables they expect.
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _write_old_rows(old, tenant, alice):
    Account = old.get_model("wallet", "Account")
    JournalEntry = old.get_model("wallet", "JournalEntry")
    Posting = old.get_model("wallet", "Posting")
    Hold = old.get_model("wallet", "Hold")
    wallet = Account.objects.create(tenant_id=tenant.pk, user_id=alice.pk, type="user_wallet", balance_cents=700)
    revenue = Account.objects.create(tenant_id=tenant.pk, type="tenant_revenue", balance_cents=300)
    funding = Account.objects.create(tenant_id=tenant.pk, type="funding", balance_cents=-1000)
    deposit = JournalEntry.objects.create(tenant_id=tenant.pk, kind="deposit", idempotency_key="d:1", actor="cli")
    Posting.objects.bulk_create(
        [
            Posting(entry=deposit, account=funding, amount_cents=-1000, balance_after_cents=-1000),
            Posting(entry=deposit, account=wallet, amount_cents=1000, balance_after_cents=1000),
        ]
    )
    charge = JournalEntry.objects.create(
        tenant_id=tenant.pk, kind="charge", idempotency_key="activation:42:charge", actor="webhook", activation_id=42
    )
    Posting.objects.bulk_create(
        [
            Posting(entry=charge, account=wallet, amount_cents=-300, balance_after_cents=700),
            Posting(entry=charge, account=revenue, amount_cents=300, balance_after_cents=300),
        ]
    )
    Hold.objects.create(
        account=wallet,
        amount_cents=300,
        idempotency_key="activation:42:hold:300",
        activation_id=42,
        status="captured",
        charge_entry=charge,
        closed_at=charge.created_at,
    )


def test_activation_ids_become_references_and_back(old_ledger):
    # when
    new = migrate(AFTER)
    # then
    JournalEntry = new.get_model("wallet", "JournalEntry")
    Hold = new.get_model("wallet", "Hold")
    assert dict(JournalEntry.objects.values_list("idempotency_key", "reference")) == {
        "d:1": "",
        "activation:42:charge": "activation:42",
    }
    assert list(Hold.objects.values_list("reference", flat=True)) == ["activation:42"]

    # and the migration can be reversed
    old = migrate(BEFORE)
    assert dict(old.get_model("wallet", "JournalEntry").objects.values_list("idempotency_key", "activation_id")) == {
        "d:1": None,
        "activation:42:charge": 42,
    }


@pytest.mark.postgres
def test_journal_entries_are_append_only_again_after_the_migration(old_ledger):
    from django.db import IntegrityError

    migrate(AFTER)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE wallet_journalentry SET reference = 'x'")
