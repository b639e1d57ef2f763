"""The operator commands behave alike (issue 19, item 4): a missing argument is one line and a non-zero exit, a
replayed credit says it was already applied, sync_catalog and reconcile report every tenant once and fail only
for real failures."""

import logging
from io import StringIO

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import connections

from accounts.models import Tenant
from tests.factories import TenantFactory
from wallet.models import JournalEntry

pytestmark = pytest.mark.django_db

COMMANDS = {
    "create_tenant": "accounts",
    "create_user": "accounts",
    "create_api_key": "accounts",
    "wallet_credit": "wallet",
    "sync_catalog": "catalog",
    "reconcile": "activations",
    "verify_ledger": "reseller",
    "rotate_field_encryption": "reseller",
    "doctor": "reseller",
}


@pytest.fixture
def keep_connections_open(monkeypatch):
    """run_from_argv() closes every database connection when done, which would end the test's transaction."""
    monkeypatch.setattr(connections, "close_all", lambda: None)


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_as_shell(name, *argv, capsys):
    command = load_command_class(COMMANDS[name], name)
    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", name, "--skip-checks", *argv])
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    ("name", "argv", "missing"),
    [
        ("create_tenant", [], "slug, --name"),
        ("create_tenant", ["acme"], "--name"),
        ("create_user", ["--tenant", "acme"], "--email"),
        ("create_api_key", [], "--tenant, --email"),
        ("wallet_credit", ["--tenant", "acme", "--email", "a@example.com"], "--cents"),
    ],
)
def test_a_missing_argument_is_one_line_naming_it_and_a_non_zero_exit(
    name, argv, missing, capsys, keep_connections_open
):
    code, out, err = run_as_shell(name, *argv, capsys=capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "usage:" not in err, err
    assert err.startswith(f"CommandError: the following arguments are required: {missing}")
    assert f"(see `manage.py {name} --help`)" in err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_any_command_line_argparse_refuses_is_one_line_too(name, capsys, keep_connections_open):
    code, _, err = run_as_shell(name, "--no-such-option", capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("CommandError: "), err
    assert "unrecognized arguments: --no-such-option" in err or "arguments are required" in err


def test_a_refusal_is_one_line_and_exit_1(tenant, capsys, keep_connections_open):
    code, _, err = run_as_shell("create_user", "--tenant", "nope", "--email", "a@example.com", capsys=capsys)
    assert code == 1 and err == "CommandError: Unknown tenant 'nope'.\n"


def test_a_replayed_credit_says_it_was_already_applied_and_credits_nothing(alice):
    args = ("wallet_credit", "--tenant", "acme", "--email", alice.email, "--cents", "500", "--idempotency-key", "K")
    first, _ = run(*args)
    again, _ = run(*args)
    assert first.startswith("Deposit K of 500 cents to alice@example.com (acme): balance 500 cents")
    assert again.startswith("Already applied: deposit K of 500 cents to alice@example.com (acme) was posted at ")
    assert "nothing credited now; balance 500 cents" in again
    assert JournalEntry.objects.filter(idempotency_key="K").count() == 1


@pytest.fixture
def three_tenants(emulator, tenant, other_tenant):
    """acme works; globex's key is refused by the supplier; initech has no supplier at all."""
    Tenant.objects.filter(pk=other_tenant.pk).update(
        platfone_base_url="http://platfone.test/api/v1", platfone_api_key="revoked-key"
    )
    return TenantFactory(slug="initech", name="Initech")


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def logged():
    recorder = Recorder()
    loggers = [logging.getLogger(name) for name in ("catalog.sync", "activations.services.reconcile")]
    for logger in loggers:
        logger.addHandler(recorder)
    yield recorder.messages
    for logger in loggers:
        logger.removeHandler(recorder)


def test_sync_catalog_reports_every_tenant_once_and_fails_only_for_the_real_failure(three_tenants, logged):
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("sync_catalog", stdout=out)
    lines = out.getvalue().splitlines()
    # then acme's sync is shown although globex failed; initech is skipped, not a failure
    assert lines[0].startswith("acme: services: ") and "new" in lines[0]
    assert lines[1].startswith("globex: FAILED: ")
    assert lines[2] == "initech: skipped: no supplier configured (see `manage.py doctor --tenant initech`)"
    assert str(failed.value) == "Catalog sync failed for globex: 1 synced, 1 failed, 1 skipped (no supplier)."
    assert logged == []  # each fact once: the command's lines, not the same again in the log


def test_sync_catalog_with_only_unconfigured_others_succeeds(emulator, tenant, other_tenant, logged):
    out, _ = run("sync_catalog")
    lines = out.splitlines()
    assert lines[0].startswith("acme: services: ")
    assert lines[1].startswith("globex: skipped: no supplier configured")
    assert lines[2] == "1 synced, 0 failed, 1 skipped (no supplier)."
    assert logged == []


def test_reconcile_reports_every_tenant_once_and_fails_for_an_unreadable_history(three_tenants, logged):
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("reconcile", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["acme", "globex"]
    assert "FAILED" not in lines[0] and lines[1].endswith("FAILED, the supplier's history could not be read")
    assert str(failed.value) == "Reconciliation failed for globex: 1 reconciled, 1 failed."
    assert not [message for message in logged if message.startswith("reconcile acme")]  # the summary once


def test_reconcile_of_a_good_tenant_prints_its_line_and_a_summary(emulator, tenant, logged):
    out, _ = run("reconcile", "--tenant", "acme")
    lines = out.splitlines()
    assert lines[0].startswith("acme: 0 upstream activations on 1 page(s)")
    assert lines[1] == "1 reconciled, 0 failed."
    assert logged == []
