"""The operator command line: wallet_credit and verify_ledger."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, transaction

from reseller.management.commands import verify_ledger
from wallet import selectors, services
from wallet.management.commands import wallet_credit
from wallet.models import Account, JournalEntry, Posting

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def keep_connections_open(monkeypatch):
    """run_from_argv() closes every database connection when done, which would end the test's transaction."""
    monkeypatch.setattr(connections, "close_all", lambda: None)


def balance_of(user) -> int:
    return Account.objects.get(user=user, type=Account.Type.USER_WALLET).balance_cents


# --- wallet_credit ----------------------------------------------------------------------------------------


def test_wallet_credit_deposits_and_prints_the_new_balance(alice):
    out, _ = run("wallet_credit", "--tenant", "acme", "--email", "Alice@Example.com", "--cents", "1500")
    out2, _ = run(
        "wallet_credit", "--tenant", "acme", "--email", "alice@example.com", "--cents", "250", "--description", "Wire"
    )

    assert "balance 1500 cents" in out and "alice@example.com" in out
    assert "balance 1750 cents" in out2
    entries = list(JournalEntry.objects.order_by("id"))
    assert [(e.kind, e.actor, e.description) for e in entries] == [
        ("deposit", "cli", "Deposit"),
        ("deposit", "cli", "Wire"),
    ]
    assert all(e.idempotency_key.startswith("cli:deposit:") for e in entries)
    assert entries[0].idempotency_key != entries[1].idempotency_key
    assert balance_of(alice) == 1750


def test_wallet_credit_with_the_same_idempotency_key_posts_once(alice):
    args = ("wallet_credit", "--tenant", "acme", "--email", "alice@example.com", "--cents", "500")

    run(*args, "--idempotency-key", "invoice-77")
    out, _ = run(*args, "--idempotency-key", "invoice-77")

    assert "balance 500 cents" in out
    assert JournalEntry.objects.get().idempotency_key == "invoice-77"
    with pytest.raises(CommandError, match="already used"):
        run(
            "wallet_credit",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--cents",
            "501",
            "--idempotency-key",
            "invoice-77",
        )
    assert balance_of(alice) == 500


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope", "--email", "alice@example.com", "--cents", "100"], "Unknown tenant"),
        (["--tenant", "acme", "--email", "nobody@example.com", "--cents", "100"], "No user"),
        (["--tenant", "acme", "--email", "charlie@example.com", "--cents", "100"], "No user"),
        (["--tenant", "acme", "--email", "alice@example.com", "--cents", "0"], "positive whole number"),
        (["--tenant", "acme", "--email", "alice@example.com", "--cents", "-5"], "positive whole number"),
        (["--tenant", "acme", "--email", "alice@example.com", "--cents", "1.50"], "positive whole number"),
        (["--tenant", "acme", "--email", "alice@example.com", "--cents", "ten"], "positive whole number"),
        (["--tenant", "acme", "--email", "alice@example.com", "--cents", ""], "positive whole number"),
        (["--tenant", "acme", "--email", "alice@example.com", "--cents", "1000000000001"], "out of range"),
    ],
)
def test_wallet_credit_refuses_bad_input_and_changes_nothing(alice, charlie, args, message):
    with pytest.raises(CommandError, match=message):
        run("wallet_credit", *args)

    assert not JournalEntry.objects.exists()
    assert not Posting.objects.exists()
    assert not Account.objects.exists()


def test_wallet_credit_exits_non_zero_with_a_one_line_error(alice, capsys, keep_connections_open):
    with pytest.raises(SystemExit) as exited:
        wallet_credit.Command().run_from_argv(
            [
                "manage.py",
                "wallet_credit",
                "--skip-checks",
                "--tenant",
                "acme",
                "--email",
                "alice@example.com",
                "--cents",
                "-5",
            ]
        )

    assert exited.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("CommandError:") and "\n" not in err
    assert not JournalEntry.objects.exists()


# --- verify_ledger ----------------------------------------------------------------------------------------


def test_verify_ledger_reports_ok_on_an_empty_ledger(db):
    out, _ = run("verify_ledger")

    assert out.strip() == "ledger ok: 0 accounts, 0 entries"


def test_verify_ledger_reports_ok_after_real_traffic(alice, bob):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="cli")
    held = services.place_hold(user=alice, amount_cents=300, idempotency_key="h:1")
    services.charge(hold_id=held.pk, idempotency_key="c:1", description="SMS", actor="webhook")
    services.place_hold(user=alice, amount_cents=100, idempotency_key="h:2")
    services.adjust(user=bob, amount_cents=40, reason="gift", idempotency_key="a:1", actor="operator:1")

    out, _ = run("verify_ledger")

    # accounts: 2 wallets, funding, revenue, adjustments
    assert out.strip() == "ledger ok: 5 accounts, 3 entries"


def test_verify_ledger_fails_and_lists_an_account_whose_cached_balance_drifted(alice):
    # given a drift injected behind the services' back
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="cli")
    wallet = Account.objects.get(user=alice)
    Account.objects.filter(pk=wallet.pk).update(balance_cents=1200)

    # when
    with pytest.raises(CommandError, match="1 drifted accounts, 0 unbalanced entries") as failed:
        run("verify_ledger")

    # then
    assert "ledger NOT ok" in str(failed.value)
    report = selectors.verify_ledger()
    assert [(d.account_id, d.cached_balance_cents, d.computed_balance_cents) for d in report.drifted_accounts] == [
        (wallet.pk, 1200, 1000)
    ]


def test_verify_ledger_lists_the_drifted_account_and_exits_non_zero(alice, capsys, keep_connections_open):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="cli")
    services.place_hold(user=alice, amount_cents=100, idempotency_key="h:1")
    wallet = Account.objects.get(user=alice)
    Account.objects.filter(pk=wallet.pk).update(held_cents=0)

    with pytest.raises(SystemExit) as exited:
        verify_ledger.Command().run_from_argv(["manage.py", "verify_ledger", "--skip-checks"])

    assert exited.value.code != 0
    err = capsys.readouterr().err
    assert f"drift: account #{wallet.pk} (user_wallet, user #{alice.pk})" in err
    assert "held cached 0 vs active holds 100" in err


def test_verify_ledger_lists_an_unbalanced_entry(alice, tenant):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="cli")
    wallet = Account.objects.get(user=alice)
    # On PostgreSQL the deferred trigger would refuse to commit such an entry (Django's TestCase checks deferred
    # constraints at teardown too), so it lives in a savepoint that is rolled back once verified.
    with transaction.atomic():
        # given an entry with a single leg, written behind the services' back
        lonely = JournalEntry.objects.create(tenant=tenant, kind="adjustment", idempotency_key="bad:1", actor="x")
        Posting.objects.create(entry=lonely, account=wallet, amount_cents=5, balance_after_cents=1005)
        Account.objects.filter(pk=wallet.pk).update(balance_cents=1005)  # the cache agrees: only the entry is wrong

        # when
        err = StringIO()
        with pytest.raises(CommandError, match="0 drifted accounts, 1 unbalanced entries"):
            call_command("verify_ledger", stdout=StringIO(), stderr=err)

        # then
        assert f"unbalanced: entry #{lonely.pk} adjustment 'bad:1': 1 postings summing to 5" in err.getvalue()
        transaction.set_rollback(True)
