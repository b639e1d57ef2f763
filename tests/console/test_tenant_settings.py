"""The tenant settings page: fields grouped, supplier credentials write-only and encrypted at rest (rotatable
keys, a keyed digest keeping one supplier account per tenant), "Test connection"; markup rules with a live
preview; schedules editable by superusers, audited."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from accounts import services
from accounts.admin import TENANT_DISPLAY_FIELDS, TENANT_SETTINGS_GROUPS, tenant_settings_fields
from accounts.models import Tenant
from core import crypto
from core.models import AuditEntry
from tests.console.conftest import make_activation

pytestmark = pytest.mark.django_db


def raw_secrets(tenant) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT platfone_api_key, platfone_webhook_secret, platfone_account_digest FROM accounts_tenant "
            "WHERE id = %s",
            [tenant.pk],
        )
        return cursor.fetchone()


def settings_form(tenant, **changes) -> dict:
    data = {
        "slug": tenant.slug,
        "name": tenant.name,
        "status": tenant.status,
        "support_email": tenant.support_email,
        "brand_color": tenant.brand_color,
        "rate_limit_per_minute": 180,
        "max_active_activations_per_user": 5,
        "finalize_after_sms_seconds": 600,
        "min_user_success_rate_percent": 20,
        "refund_on_cancel_after_sms": "on",
        "max_refunds_after_sms_per_day": 3,
        "upstream_fair_share_percent": 25,
        "success_guard_percent": 12,
        "alert_supplier_balance_below_cents": 1000,
        "alert_webhook_silence_minutes": 30,
        "platfone_base_url": tenant.platfone_base_url or "",
        "platfone_api_key": "",
        "platfone_webhook_secret": "",
        "domains-TOTAL_FORMS": 0,
        "domains-INITIAL_FORMS": 0,
        "domains-MIN_NUM_FORMS": 0,
        "domains-MAX_NUM_FORMS": 1000,
    }
    data.update(changes)
    return data


# --- grouping -------------------------------------------------------------------------------------------------


def test_every_tenant_field_is_in_a_named_group():
    grouped = {name for names in TENANT_SETTINGS_GROUPS.values() for name in names} - set(TENANT_DISPLAY_FIELDS)
    editable = {f.name for f in Tenant._meta.concrete_fields if f.editable and not f.primary_key}
    assert editable - grouped == set(), "list the new Tenant field(s) in accounts.admin.TENANT_SETTINGS_GROUPS"
    assert set(tenant_settings_fields()) >= editable


def test_the_page_shows_the_groups(super_client, tenant):
    response = super_client.get(reverse("admin:accounts_tenant_change", args=[tenant.pk]))
    titles = [fieldset.name for fieldset in response.context["adminform"]]
    assert titles == ["Tenant", "Branding", "Domains", "Limits and money policies", "Texts", "Alerts", "Supplier"]
    assert "acme.test" in response.content.decode()


def test_tenant_staff_edit_their_settings_but_not_identity_state_or_supplier_url(staff_client, tenant):
    url = reverse("admin:accounts_tenant_change", args=[tenant.pk])
    data = settings_form(
        tenant, name="Acme Phones", slug="hijack", status="suspended", platfone_base_url="http://169.254.169.254/"
    )
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content[:500]
    tenant.refresh_from_db()
    assert (tenant.name, tenant.slug, tenant.status, tenant.platfone_base_url) == ("Acme Phones", "acme", "active", "")
    entry = AuditEntry.objects.get(action="change")
    assert entry.before == {"name": "Acme Numbers"} and entry.after == {"name": "Acme Phones"}


# --- secrets --------------------------------------------------------------------------------------------------


def test_supplier_secrets_are_write_only_and_encrypted_at_rest(super_client, tenant):
    url = reverse("admin:accounts_tenant_change", args=[tenant.pk])
    data = settings_form(
        tenant,
        platfone_base_url="https://supplier.example/api/v1",
        platfone_api_key="pk-live-SECRET-0123456789",
        platfone_webhook_secret="whsec-SECRET-42",
    )
    assert super_client.post(url, data).status_code == 302
    # the code reads the plain values...
    tenant.refresh_from_db()
    assert (tenant.platfone_api_key, tenant.platfone_webhook_secret) == ("pk-live-SECRET-0123456789", "whsec-SECRET-42")
    # ...the database holds ciphertexts and a keyed digest...
    api_key, secret, digest = raw_secrets(tenant)
    assert "SECRET" not in api_key + secret and api_key.startswith("gAAAAA") and secret.startswith("gAAAAA")
    assert digest == Tenant.upstream_account_digest("https://supplier.example/api/v1", "pk-live-SECRET-0123456789")
    # ...no page shows them, and the audit log only says they changed
    page = super_client.get(url).content.decode()
    assert "pk-live-SECRET-0123456789" not in page and "whsec-SECRET-42" not in page and "••••••••6789" in page
    entry = AuditEntry.objects.get(action="change")
    assert "SECRET" not in str(entry.before) + str(entry.after)
    assert entry.after["platfone_api_key"] == "(secret changed)"


def test_an_encrypted_field_cannot_be_compared_in_sql(tenant):
    assert Tenant.objects.filter(platfone_api_key="").exists()
    with pytest.raises(ValueError, match="digest"):
        list(Tenant.objects.filter(platfone_api_key="pk-1"))


def test_one_supplier_account_per_tenant_is_kept_by_the_digest(super_client, tenant, other_tenant):
    services.tenant_supplier_set(tenant=tenant, base_url="https://s.example/api", api_key="shared-key")
    # the form refuses the same account for another tenant
    url = reverse("admin:accounts_tenant_change", args=[other_tenant.pk])
    response = super_client.post(
        url, settings_form(other_tenant, platfone_base_url="https://s.example/api/", platfone_api_key="shared-key")
    )
    assert response.status_code == 200 and "already uses this Platfone account" in response.content.decode()
    # so does the service, and the database
    with pytest.raises(services.AccountError):
        services.tenant_supplier_set(tenant=other_tenant, base_url="https://s.example/api", api_key="shared-key")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.filter(pk=other_tenant.pk).update(platfone_account_digest=raw_secrets(tenant)[2])


def test_keys_rotate(settings, tenant):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    services.tenant_supplier_set(tenant=tenant, base_url="https://s.example", api_key="pk-rotate", webhook_secret="ws")
    before = raw_secrets(tenant)
    # when a new key is put first and the command re-encrypts
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_encryption")
    # then the old key can go
    settings.FIELD_ENCRYPTION_KEYS = [new]
    tenant.refresh_from_db()
    assert (tenant.platfone_api_key, tenant.platfone_webhook_secret) == ("pk-rotate", "ws")
    after = raw_secrets(tenant)
    assert after[0] != before[0] and after[2] != before[2]
    assert after[2] == Tenant.upstream_account_digest("https://s.example", "pk-rotate")
    # a secret under a key that is gone is a clear configuration error, not garbage sent upstream
    settings.FIELD_ENCRYPTION_KEYS = [old]
    with pytest.raises(crypto.SecretUndecryptable):
        Tenant.objects.get(pk=tenant.pk)


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_plain_secrets():
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0002_tenant_upstream_account_unique")])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_tenant (slug, name, status, support_email, rate_limit_per_minute, "
            "max_active_activations_per_user, finalize_after_sms_seconds, min_user_success_rate_percent, "
            "refund_on_cancel_after_sms, platfone_base_url, platfone_api_key, platfone_webhook_secret, created_at) "
            "VALUES ('old', 'Old', 'active', '', 180, 5, 600, 20, %s, 'https://s.example', 'plain-key', "
            "'plain-secret', '2026-01-01 00:00:00')",
            [True],
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    tenant = Tenant.objects.get(slug="old")
    assert (tenant.platfone_api_key, tenant.platfone_webhook_secret) == ("plain-key", "plain-secret")
    api_key, secret, digest = raw_secrets(tenant)
    assert "plain" not in api_key + secret
    assert digest == Tenant.upstream_account_digest("https://s.example", "plain-key")


# --- test connection ------------------------------------------------------------------------------------------


def test_test_connection_shows_the_suppliers_balance(staff_client, emulator, tenant):
    response = staff_client.get(reverse("admin:accounts_tenant_test_connection", args=[tenant.pk]), follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Connected to the supplier: balance 500000 cents, 0 reserved (500000 available)."]


def test_test_connection_shows_why_it_failed(staff_client, emulator, tenant):
    emulator.add_fault(kind="error", endpoint="balance", status=401, error_name="UnauthorizedException", count=5)
    response = staff_client.get(reverse("admin:accounts_tenant_test_connection", args=[tenant.pk]), follow=True)
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("The supplier could not be reached:") and "401" in message


def test_test_connection_is_scoped(staff_client, emulator, other_tenant):
    response = staff_client.get(reverse("admin:accounts_tenant_test_connection", args=[other_tenant.pk]))
    assert response.status_code == 404


# --- markup rules ---------------------------------------------------------------------------------------------


def test_the_markup_preview_prices_the_tenants_top_pairs_with_the_edited_terms(staff_client, tenant, alice, charlie):
    for _ in range(3):
        make_activation(alice, service_id="whatsapp", country_id="us", price_cents=260)
    make_activation(alice, service_id="telegram", country_id="gb", price_cents=100)
    make_activation(charlie, service_id="viber", country_id="ru", price_cents=50)  # globex: never shown to acme
    response = staff_client.get(
        reverse("admin:catalog_markuprule_preview"),
        {"service_id": "whatsapp", "percent_bp": "0", "fixed_cents": "40", "min_margin_cents": "1", "rounding": "none"},
    )
    rows = [
        (r["service_id"], r["country_id"], r["orders"], r["last_cost_cents"], r["current_sell"], r["edited_sell"])
        for r in response.context["rows"]
    ]
    assert rows == [("whatsapp", "us", 3, 260, 286, 300), ("telegram", "gb", 1, 100, 110, None)]
    assert "not in this rule's scope" in response.content.decode()


def test_the_markup_preview_refuses_bad_terms_with_a_message(staff_client, tenant):
    response = staff_client.get(reverse("admin:catalog_markuprule_preview"), {"percent_bp": "-5"})
    assert response.status_code == 200 and "whole, non-negative numbers" in response.content.decode()


def test_the_markup_rule_page_has_the_live_preview(staff_client, tenant, alice):
    make_activation(alice, price_cents=100)
    from catalog.models import MarkupRule

    rule = MarkupRule.objects.create(tenant=tenant, percent_bp=2000)
    page = staff_client.get(reverse("admin:catalog_markuprule_change", args=[rule.pk])).content.decode()
    assert 'id="markup-preview"' in page and "console/markup_preview.js" in page
    assert "<script>" not in page.split('id="markup-preview"', 1)[1].split("</div>", 1)[0]


# --- schedules ------------------------------------------------------------------------------------------------


def test_a_superuser_edits_a_schedule_with_an_audit(super_client):
    task = PeriodicTask.objects.get(name="Check operator alerts")
    super_client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "disable_tasks", "_selected_action": [task.pk]},
    )
    task.refresh_from_db()
    assert not task.enabled
    assert AuditEntry.objects.filter(action="schedule.disable", target_id=str(task.pk)).count() == 1


def test_the_schedule_pages_work_with_the_task_list(super_client):
    task = PeriodicTask.objects.get(name="Check operator alerts")
    page = super_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]))
    assert page.status_code == 200 and "console.check_alerts" in page.content.decode()
    assert super_client.get(reverse("admin:django_celery_beat_intervalschedule_add")).status_code == 200
    data = {"every": 5, "period": "minutes", "periodictask_set-TOTAL_FORMS": 0, "periodictask_set-INITIAL_FORMS": 0}
    assert super_client.post(reverse("admin:django_celery_beat_intervalschedule_add"), data).status_code == 302
    assert AuditEntry.objects.filter(action="add", target_type="django_celery_beat.intervalschedule").exists()


INLINE = {"api_keys-TOTAL_FORMS": 0, "api_keys-INITIAL_FORMS": 0}


def test_a_superuser_makes_a_tenants_user_staff(super_client, tenant):
    # given a new user of acme, added on the user page
    response = super_client.post(
        reverse("admin:accounts_user_add"),
        {
            **INLINE,
            "tenant": tenant.pk,
            "email": "newops@acme.test",
            "password1": "Sx9-long-pass-1",
            "password2": "Sx9-long-pass-1",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    from accounts.models import User

    user = User.objects.get(email="newops@acme.test")
    # when given staff rights
    data = {
        **INLINE,
        "tenant": tenant.pk,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "api_keys-TOTAL_FORMS": 0,
        "api_keys-INITIAL_FORMS": 0,
        "api_keys-MIN_NUM_FORMS": 0,
        "api_keys-MAX_NUM_FORMS": 1000,
    }
    response = super_client.post(reverse("admin:accounts_user_change", args=[user.pk]), data)
    assert response.status_code == 302, response.content[:3000]
    user.refresh_from_db()
    assert user.is_staff and user.tenant == tenant
    added, changed = AuditEntry.objects.filter(target_type="accounts.user").order_by("id")
    assert added.action == "add" and "Sx9" not in str(added.after)
    assert changed.after["is_staff"] is True and changed.before["is_staff"] is False


def test_a_superuser_adds_a_tenant_with_its_supplier_account(super_client, tenant):
    data = settings_form(
        tenant,
        slug="initech",
        name="Initech",
        platfone_base_url="https://s.example/api",
        platfone_api_key="pk-initech-0001",
        platfone_webhook_secret="ws-initech",
    )
    response = super_client.post(reverse("admin:accounts_tenant_add"), data)
    assert response.status_code == 302, response.content[:2000]
    initech = Tenant.objects.get(slug="initech")
    assert initech.platfone_api_key == "pk-initech-0001"
    assert raw_secrets(initech)[2] == Tenant.upstream_account_digest("https://s.example/api", "pk-initech-0001")
    assert AuditEntry.objects.get(action="add").tenant_id == initech.pk
