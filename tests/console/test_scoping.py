"""Every admin screen is tenant-scoped for tenant staff: a staff user of acme never sees a row of globex, by list,
by URL id, by search, through a filter's choices or a form's choices. Platform superusers see every tenant."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from core.operator_admin import TenantScopedAdmin
from wallet.models import Account

pytestmark = pytest.mark.django_db

# schedules, permission groups and the log-in attempt logs (every storefront's): platform superusers only
PLATFORM_ONLY = {"django_celery_beat", "auth", "axes"}


def scoped_admins() -> list[tuple[type, TenantScopedAdmin]]:
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label not in PLATFORM_ONLY
    ]


def rows_of(model, model_admin, tenant) -> list:
    """The model's rows that belong to ``tenant``, found through the screen's own tenant path."""
    return list(model._default_manager.filter(**{model_admin.tenant_lookup: tenant.pk}))


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_every_registered_screen_is_tenant_scoped():
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, TenantScopedAdmin), model
        if model._meta.app_label not in PLATFORM_ONLY:
            assert model_admin.tenant_lookup, model


@pytest.mark.parametrize("label", sorted(m._meta.label for m, _ in scoped_admins()))
def test_tenant_staff_never_see_another_tenants_rows(staff_client, world, other_tenant, tenant, label):
    model, model_admin = next((m, a) for m, a in scoped_admins() if m._meta.label == label)
    theirs, ours = rows_of(model, model_admin, other_tenant), rows_of(model, model_admin, tenant)
    assert theirs and ours, f"the world has no {label} row for both tenants"

    # by list: only acme's rows, and all of them
    response = staff_client.get(changelist(model))
    assert response.status_code == 200, label
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert shown == {obj.pk for obj in ours}
    assert response.context["cl"].full_result_count == len(ours)

    # by search: globex's tag finds nothing
    response = staff_client.get(changelist(model), {"q": "globex"})
    assert not {obj.pk for obj in response.context["cl"].result_list} & {obj.pk for obj in theirs}

    # by URL id: "does not exist", exactly like a missing id (no existence leak)
    for obj in theirs:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[quote(obj.pk)])
        response = staff_client.get(url)
        assert response.status_code in (302, 404), (label, obj.pk)
        history = staff_client.get(url.replace("/change/", "/history/"))
        assert history.status_code in (302, 404, 403), (label, obj.pk)
    # ... and their own rows open
    own = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[quote(ours[0].pk)])
    page = staff_client.get(own)
    assert page.status_code == 200, label
    assert b"globex" not in page.content.lower(), label


@pytest.mark.parametrize("label", sorted(m._meta.label for m, _ in scoped_admins()))
def test_superusers_see_every_tenant_with_a_tenant_filter(super_client, world, tenant, other_tenant, label):
    model, model_admin = next((m, a) for m, a in scoped_admins() if m._meta.label == label)
    response = super_client.get(changelist(model))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    for t in (tenant, other_tenant):
        assert {obj.pk for obj in rows_of(model, model_admin, t)} <= shown
    if model._meta.label != "accounts.Tenant":
        filters = [spec.title for spec in response.context["cl"].filter_specs]
        assert "tenant" in [str(title).lower() for title in filters], filters


def test_filter_choices_never_name_another_tenant(staff_client, world):
    for model, _ in scoped_admins():
        response = staff_client.get(changelist(model))
        text = response.content.decode().lower()
        assert "globex" not in text, model._meta.label


def test_form_choices_offer_only_the_tenants_own_rows(staff_client, world, alice, bob, charlie):
    # the API key form (tenant staff issue keys for their users)
    response = staff_client.get(reverse("admin:accounts_apikey_add"))
    choices = {str(pk) for pk, _ in response.context["adminform"].form.fields["user"].choices if pk}
    assert choices == {str(alice.pk), str(bob.pk), str(response.wsgi_request.user.pk)}
    assert str(charlie.pk) not in choices
    # the markup rule form has no tenant picker: the rule is the operator's tenant's
    response = staff_client.get(reverse("admin:catalog_markuprule_add"))
    assert "tenant" not in response.context["adminform"].form.fields


def test_tenant_staff_cannot_issue_a_key_for_another_tenants_user(staff_client, world, charlie):
    response = staff_client.post(reverse("admin:accounts_apikey_add"), {"user": charlie.pk, "name": "stolen"})
    assert response.status_code == 200  # the form refuses the choice
    assert not charlie.api_keys.filter(name="stolen").exists()


def test_tenant_staff_cannot_export_or_adjust_another_tenants_wallet(staff_client, world, charlie):
    account = Account.objects.get(user=charlie)
    for name in ("statement", "statement_csv", "adjust"):
        response = staff_client.get(reverse(f"admin:wallet_account_{name}", args=[account.pk]))
        assert response.status_code == 404, name


def test_tenant_staff_act_only_on_their_rows(staff_client, world, charlie):
    # a bulk action posted with another tenant's id changes nothing there
    staff_client.post(changelist(type(charlie)), {"action": "suspend_users", "_selected_action": [charlie.pk]})
    charlie.refresh_from_db()
    assert charlie.is_active


def test_schedules_are_for_platform_superusers_only(staff_client, world):
    response = staff_client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert response.status_code == 403


def test_superusers_edit_schedules(super_client, world):
    response = super_client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert response.status_code == 200
    assert "Check operator alerts" in response.content.decode()


def test_a_suspended_tenants_staff_cannot_open_the_console(staff_client, tenant):
    tenant.status = "suspended"
    tenant.save()
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_sidebar_lists_only_what_the_operator_may_open(staff_client, world):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:activations_activation_changelist") in page
    assert reverse("admin:django_celery_beat_periodictask_changelist") not in page


def test_autocomplete_offers_only_the_tenants_own_rows(staff_client, world, operator, alice, charlie):
    query = {"app_label": "accounts", "model_name": "apikey", "field_name": "user", "term": "example.com"}
    found = {int(item["id"]) for item in staff_client.get("/admin/autocomplete/", query).json()["results"]}
    assert alice.pk in found and charlie.pk not in found
    superuser = Client()
    superuser.force_login(operator)
    everyone = {int(item["id"]) for item in superuser.get("/admin/autocomplete/", query).json()["results"]}
    assert {alice.pk, charlie.pk} <= everyone
