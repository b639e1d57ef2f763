"""Operator actions: each goes through its service and leaves one audit entry (who, what, why, before/after)."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.urls import reverse

from accounts.models import ApiKey
from accounts.selectors import api_key_authenticate
from activations.models import Activation, ReconciliationIssue
from activations.services import activation_create
from core.models import AuditEntry
from tests.factories import issue_api_key
from wallet import services as wallet
from wallet.models import Account, JournalEntry
from wallet.selectors import verify_ledger

pytestmark = pytest.mark.django_db


def audits(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def changelist(name: str) -> str:
    return reverse(f"admin:{name}_changelist")


# --- users --------------------------------------------------------------------------------------------------


def test_staff_suspend_and_reactivate_a_user_through_the_service_with_an_audit(staff_client, acme_staff, alice):
    key = issue_api_key(alice).raw_key
    # when suspended (twice: the second changes nothing)
    for _ in range(2):
        staff_client.post(changelist("accounts_user"), {"action": "suspend_users", "_selected_action": [alice.pk]})
    # then the user's keys stop working, and one entry says who did it
    alice.refresh_from_db()
    assert not alice.is_active and api_key_authenticate(raw_key=key) is None
    [entry] = audits("user.suspend")
    assert (entry.actor, entry.tenant_id, entry.target_id) == (acme_staff, alice.tenant_id, str(alice.pk))
    assert (entry.before, entry.after) == ({"is_active": True}, {"is_active": False})
    # when reactivated
    staff_client.post(changelist("accounts_user"), {"action": "reactivate_users", "_selected_action": [alice.pk]})
    alice.refresh_from_db()
    assert alice.is_active and api_key_authenticate(raw_key=key) is not None
    assert len(audits("user.reactivate")) == 1


def test_the_user_list_searches_by_email_and_shows_the_success_rate(staff_client, alice, bob):
    response = staff_client.get(changelist("accounts_user"), {"q": "alice@"})
    assert [user.email for user in response.context["cl"].result_list] == ["alice@example.com"]
    assert "SMS success (24 h)" in response.content.decode()


def test_the_user_page_links_to_the_wallet_and_the_activations(staff_client, alice):
    wallet.deposit(user=alice, amount_cents=500, idempotency_key="d:alice", actor="test")
    page = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    assert "balance 500 ¢" in page.content.decode()
    response = staff_client.get(reverse("admin:accounts_user_wallet", args=[alice.pk]))
    assert response["Location"] == reverse("admin:wallet_account_change", args=[Account.objects.get(user=alice).pk])
    response = staff_client.get(reverse("admin:accounts_user_activations", args=[alice.pk]))
    assert response["Location"].endswith(f"?user__id__exact={alice.pk}")
    assert staff_client.get(response["Location"]).status_code == 200


def test_tenant_staff_cannot_grant_staff_rights_or_edit_accounts(staff_client, alice):
    response = staff_client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]), {"email": alice.email, "is_staff": "on"}
    )
    assert response.status_code == 403
    alice.refresh_from_db()
    assert not alice.is_staff


def test_a_tenants_user_cannot_be_made_a_superuser(super_client, alice):
    data = {
        "tenant": alice.tenant_id,
        "email": alice.email,
        "is_active": "on",
        "is_superuser": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = super_client.post(reverse("admin:accounts_user_change", args=[alice.pk]), data)
    assert response.status_code == 200
    assert "cannot be a platform superuser" in response.content.decode()
    alice.refresh_from_db()
    assert not alice.is_superuser


# --- wallet -------------------------------------------------------------------------------------------------


@pytest.fixture
def alices_wallet(alice):
    wallet.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="test")
    return Account.objects.get(user=alice)


def adjust(client, account, cents, reason, submission=None):
    data = {"amount_cents": str(cents), "reason": reason, "submission_id": str(submission or uuid.uuid4())}
    return client.post(reverse("admin:wallet_account_adjust", args=[account.pk]), data)


def test_staff_credit_a_wallet_once_with_a_reason_and_an_audit(staff_client, acme_staff, alices_wallet):
    submission = uuid.uuid4()
    # when the same form is submitted twice
    first = adjust(staff_client, alices_wallet, 250, "Goodwill for the outage", submission)
    second = adjust(staff_client, alices_wallet, 250, "Goodwill for the outage", submission)
    # then one adjustment, one audit entry
    assert first.status_code == second.status_code == 302
    alices_wallet.refresh_from_db()
    assert alices_wallet.balance_cents == 1250
    assert JournalEntry.objects.filter(kind="adjustment").count() == 1
    [entry] = audits("wallet.credit")
    assert entry.actor == acme_staff and entry.reason == "Goodwill for the outage"
    assert entry.before == {"balance_cents": 1000}
    assert entry.after["balance_cents"] == 1250 and entry.after["amount_cents"] == 250
    assert verify_ledger().ok


def test_a_debit_needs_a_reason_and_the_funds(staff_client, alices_wallet):
    assert adjust(staff_client, alices_wallet, -100, "  ").status_code == 200  # no reason: the form refuses
    response = adjust(staff_client, alices_wallet, -5000, "Chargeback")
    assert "Insufficient funds" in response.content.decode()
    assert adjust(staff_client, alices_wallet, -400, "Chargeback").status_code == 302
    alices_wallet.refresh_from_db()
    assert alices_wallet.balance_cents == 600
    assert [entry.reason for entry in audits("wallet.debit")] == ["Chargeback"]


def test_the_statement_shows_the_running_balance_and_exports_csv(staff_client, alices_wallet):
    adjust(staff_client, alices_wallet, -300, "Correction")
    page = staff_client.get(reverse("admin:wallet_account_statement", args=[alices_wallet.pk]))
    assert [row["balance_after_cents"] for row in page.context["rows"]] == [1000, 700]
    export = staff_client.get(reverse("admin:wallet_account_statement_csv", args=[alices_wallet.pk]))
    assert export["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(row["kind"], row["amount_cents"], row["balance_after_cents"]) for row in rows] == [
        ("deposit", "1000", "1000"),
        ("adjustment", "-300", "700"),
    ]


def test_verify_ledger_shows_the_result_for_the_operators_tenant(staff_client, alices_wallet, charlie):
    wallet.deposit(user=charlie, amount_cents=10, idempotency_key="d:charlie", actor="test")
    response = staff_client.get(reverse("admin:wallet_account_verify"))
    assert "The ledger is consistent" in response.content.decode()
    report = response.context["report"]
    assert report.accounts_checked == Account.objects.filter(tenant=alices_wallet.tenant).count()
    # a drift is shown
    Account.objects.filter(pk=alices_wallet.pk).update(balance_cents=999)
    response = staff_client.get(reverse("admin:wallet_account_verify"))
    assert "drifted account" in response.content.decode()


def test_the_ledger_is_read_only(staff_client, super_client, alices_wallet):
    entry = JournalEntry.objects.get()
    for client in (staff_client, super_client):
        assert client.get(reverse("admin:wallet_journalentry_add")).status_code == 403
        response = client.post(reverse("admin:wallet_journalentry_delete", args=[entry.pk]))
        assert response.status_code == 403


# --- keys ---------------------------------------------------------------------------------------------------


def test_staff_revoke_a_key_with_an_audit(staff_client, alice):
    issued = issue_api_key(alice)
    staff_client.post(changelist("accounts_apikey"), {"action": "revoke", "_selected_action": [issued.api_key.pk]})
    assert api_key_authenticate(raw_key=issued.raw_key) is None
    [entry] = audits("api_key.revoke")
    assert entry.target_id == str(issued.api_key.pk) and entry.tenant_id == alice.tenant_id


def test_staff_issue_a_key_shown_once_and_audited(staff_client, alice):
    response = staff_client.post(
        reverse("admin:accounts_apikey_add"), {"user": alice.pk, "name": "support"}, follow=True
    )
    shown = [str(m).split(": ", 1)[1] for m in response.context["messages"] if "shown only now" in str(m)]
    assert api_key_authenticate(raw_key=shown[0]).user == alice
    [entry] = audits("add")
    assert entry.target_type == "accounts.apikey" and shown[0] not in str(entry.after)
    assert ApiKey.objects.filter(user=alice, name="support").count() == 1


# --- activations --------------------------------------------------------------------------------------------


@pytest.fixture
def charged_activation(emulator, alice):
    wallet.deposit(user=alice, amount_cents=10_000, idempotency_key="d:order", actor="test")
    activation = activation_create(user=alice, service_id="whatsapp", country_id="us")
    emulator.deliver_sms(activation.upstream_id, code="123456", text="Your code is 123456")
    return activation


def test_force_sync_reads_the_supplier_now_and_settles(staff_client, charged_activation):
    # when an operator syncs it (the webhook did not come)
    staff_client.post(
        changelist("activations_activation"), {"action": "force_sync", "_selected_action": [charged_activation.pk]}
    )
    # then the SMS is recorded and charged, and the sync is audited with the states before and after
    charged_activation.refresh_from_db()
    assert charged_activation.billing_status == "billed" and charged_activation.sms_code == "123456"
    [entry] = audits("activation.sync")
    assert entry.before["billing_status"] == "held" and entry.after["billing_status"] == "billed"


def test_refund_goes_through_the_settlement_rules_once(staff_client, charged_activation, alice):
    staff_client.post(
        changelist("activations_activation"), {"action": "force_sync", "_selected_action": [charged_activation.pk]}
    )
    balance_after_charge = Account.objects.get(user=alice).balance_cents
    # when refunded twice
    for _ in range(2):
        staff_client.post(
            changelist("activations_activation"), {"action": "refund", "_selected_action": [charged_activation.pk]}
        )
    # then the user got the sell price back once; the supplier cost stays booked
    charged_activation.refresh_from_db()
    assert charged_activation.billing_status == "refunded"
    assert Account.objects.get(user=alice).balance_cents == balance_after_charge + charged_activation.sell_price_cents
    assert JournalEntry.objects.filter(kind="refund").count() == 1
    assert JournalEntry.objects.filter(kind="upstream_cost_reversal").count() == 0
    assert [e.after["billing_status"] for e in audits("activation.refund")] == ["refunded", "refunded"]
    assert verify_ledger().ok


def test_refunding_an_uncharged_activation_is_refused_with_a_message(staff_client, emulator, alice):
    wallet.deposit(user=alice, amount_cents=10_000, idempotency_key="d:order", actor="test")
    activation = activation_create(user=alice, service_id="whatsapp", country_id="us")
    response = staff_client.post(
        changelist("activations_activation"), {"action": "refund", "_selected_action": [activation.pk]}, follow=True
    )
    assert "nothing to refund" in response.content.decode()
    activation.refresh_from_db()
    assert activation.billing_status == "held"
    assert audits("activation.refund") == []


def test_cancel_releases_the_hold_through_the_users_rules(staff_client, emulator, alice):
    wallet.deposit(user=alice, amount_cents=10_000, idempotency_key="d:order", actor="test")
    activation = activation_create(user=alice, service_id="whatsapp", country_id="us")
    Activation.objects.filter(pk=activation.pk).update(cancelable_after=activation.created_at)
    staff_client.post(changelist("activations_activation"), {"action": "cancel", "_selected_action": [activation.pk]})
    activation.refresh_from_db()
    assert activation.billing_status == "released" and activation.activation_status == "canceled"
    assert Account.objects.get(user=alice).held_cents == 0
    assert len(audits("activation.cancel")) == 1


def test_activations_filter_by_status_service_country_user_and_date(staff_client, charged_activation, alice):
    url = changelist("activations_activation")
    for query in (
        {"activation_status__exact": "active"},
        {"service": "whatsapp"},
        {"country": "us"},
        {"user__id__exact": alice.pk},
        {"created_at__gte": "2000-01-01 00:00"},
    ):
        response = staff_client.get(url, query)
        assert [a.pk for a in response.context["cl"].result_list] == [charged_activation.pk], query
    assert staff_client.get(url, {"service": "telegram"}).context["cl"].result_count == 0


def test_a_reconciliation_issue_is_resolved_with_an_audit(staff_client, tenant):
    issue = ReconciliationIssue.objects.create(tenant=tenant, kind="late_sms", upstream_id="u1")
    staff_client.post(
        changelist("activations_reconciliationissue"), {"action": "resolve", "_selected_action": [issue.pk]}
    )
    issue.refresh_from_db()
    assert issue.resolved_at is not None
    assert len(audits("reconciliation.resolve")) == 1


# --- the audit log ------------------------------------------------------------------------------------------


def test_the_audit_log_is_browsable_and_read_only(staff_client, super_client, alice):
    staff_client.post(changelist("accounts_user"), {"action": "suspend_users", "_selected_action": [alice.pk]})
    entry = AuditEntry.objects.get()
    for client in (staff_client, super_client):
        assert client.get(changelist("core_auditentry")).status_code == 200
        assert client.get(reverse("admin:core_auditentry_change", args=[entry.pk])).status_code == 200
        assert client.get(reverse("admin:core_auditentry_add")).status_code == 403
        assert client.post(reverse("admin:core_auditentry_delete", args=[entry.pk])).status_code == 403
    assert AuditEntry.objects.count() == 1


def test_every_edit_through_a_screen_is_audited_with_before_and_after(staff_client, tenant):
    # when tenant staff add a markup rule and change it
    data = {
        "service_id": "whatsapp",
        "country_id": "",
        "percent_bp": 1500,
        "fixed_cents": 0,
        "min_margin_cents": 1,
        "rounding": "none",
        "note": "",
    }
    assert staff_client.post(reverse("admin:catalog_markuprule_add"), data).status_code == 302
    from catalog.models import MarkupRule

    rule = MarkupRule.objects.get(tenant=tenant)
    staff_client.post(reverse("admin:catalog_markuprule_change", args=[rule.pk]), {**data, "percent_bp": 2000})
    # then both writes are in the log, the change with its old and new value
    added, changed = AuditEntry.objects.order_by("id")
    assert (added.action, added.tenant_id) == ("add", tenant.pk)
    assert (changed.action, changed.before, changed.after) == ("change", {"percent_bp": 1500}, {"percent_bp": 2000})


def test_a_duplicate_markup_rule_is_a_form_error_for_tenant_staff(staff_client, tenant):
    data = {
        "service_id": "whatsapp",
        "country_id": "",
        "percent_bp": 1500,
        "fixed_cents": 0,
        "min_margin_cents": 1,
        "rounding": "none",
        "note": "",
    }
    staff_client.post(reverse("admin:catalog_markuprule_add"), data)
    response = staff_client.post(reverse("admin:catalog_markuprule_add"), data)
    assert response.status_code == 200 and response.context["adminform"].form.errors


def test_a_password_change_is_audited_without_the_password(super_client, alice):
    url = reverse("admin:auth_user_password_change", args=[alice.pk])
    response = super_client.post(
        url, {"password1": "N3w-passw0rd-xyz", "password2": "N3w-passw0rd-xyz", "usable_password": "true"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("N3w-passw0rd-xyz")
    [entry] = audits("user.password_change")
    assert "N3w" not in str(entry.after)


def test_a_user_without_a_wallet_gets_one_to_be_credited(staff_client, bob):
    response = staff_client.get(reverse("admin:accounts_user_wallet", args=[bob.pk]))
    account = Account.objects.get(user=bob)
    assert response["Location"] == reverse("admin:wallet_account_change", args=[account.pk])
    assert account.balance_cents == 0 and not JournalEntry.objects.exists()
    assert adjust(staff_client, account, 300, "Welcome credit").status_code == 302
    account.refresh_from_db()
    assert account.balance_cents == 300


def test_a_catalog_sync_asked_by_an_operator_is_audited(staff_client, emulator, tenant):
    from catalog.models import CatalogSync

    state = CatalogSync.objects.create(tenant=tenant, kind=CatalogSync.Kind.SERVICES)
    staff_client.post(changelist("catalog_catalogsync"), {"action": "sync_now", "_selected_action": [state.pk]})
    [entry] = audits("catalog.sync")
    assert entry.tenant_id == tenant.pk and "services" in entry.after["result"]
