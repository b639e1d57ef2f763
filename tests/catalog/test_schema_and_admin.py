"""The catalog's endpoints in the OpenAPI schema, and the operator screens."""

from __future__ import annotations

import pytest

from catalog.models import CatalogSync, MarkupRule, Service

pytestmark = pytest.mark.django_db


def test_every_catalog_endpoint_is_in_the_openapi_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = {path.rstrip("/"): operations for path, operations in schema["paths"].items()}
    for path in ("/api/services.php", "/api/countries.php", "/api/v1/services", "/api/v1/countries", "/api/v1/price"):
        assert "get" in paths[path], path
    price = paths["/api/v1/price"]["get"]
    assert {p["name"] for p in price["parameters"]} >= {"service_id", "country_id"}
    assert {"200", "400", "401", "404", "503"} <= set(price["responses"])
    assert "no_numbers" in price["description"]
    assert '"services"' in paths["/api/services.php"]["get"]["description"]
    operation_ids = [op["operationId"] for operations in paths.values() for op in operations.values()]
    assert len(operation_ids) == len(set(operation_ids))


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


class TestAdmin:
    def test_the_service_list_filters_by_tenant_type_and_availability(self, admin_client, synced):
        response = admin_client.get(f"/admin/catalog/service/?tenant__id__exact={synced.pk}&type=dating"
                                    "&is_available__exact=1")
        assert response.status_code == 200
        assert b"Tinder" in response.content
        assert b"WhatsApp" not in response.content

    def test_the_type_override_is_editable_from_the_list(self, admin_client, synced):
        # given
        services = list(Service.objects.filter(tenant=synced).order_by("tenant", "name", "service_id"))
        form = {"form-TOTAL_FORMS": str(len(services)), "form-INITIAL_FORMS": str(len(services)), "_save": "Save"}
        for index, service in enumerate(services):
            form[f"form-{index}-id"] = str(service.pk)
            form[f"form-{index}-type_override"] = "messaging" if service.service_id == "discord" else ""
        # when
        response = admin_client.post("/admin/catalog/service/?all=", form)
        # then
        assert response.status_code == 302, response.content[:2000]
        assert Service.objects.get(tenant=synced, service_id="discord").type == "messaging"
        assert Service.objects.get(tenant=synced, service_id="tinder").type == "dating"

    def test_services_cannot_be_added_or_deleted_by_hand(self, admin_client, synced):
        service = Service.objects.get(tenant=synced, service_id="discord")
        assert admin_client.get("/admin/catalog/service/add/").status_code == 403
        assert admin_client.get(f"/admin/catalog/service/{service.pk}/delete/").status_code == 403
        assert admin_client.get(f"/admin/catalog/service/{service.pk}/change/").status_code == 200

    def test_the_country_list_renders(self, admin_client, synced):
        response = admin_client.get("/admin/catalog/country/?q=jamaica")
        assert response.status_code == 200 and b"Jamaica" in response.content

    def test_a_markup_rule_shows_a_preview_of_its_sell_prices(self, admin_client, tenant):
        # given
        rule = MarkupRule.objects.create(tenant=tenant, service_id="whatsapp", percent_bp=1000, rounding="end_9")
        # when
        response = admin_client.get(f"/admin/catalog/markuprule/{rule.pk}/change/")
        # then
        assert response.status_code == 200
        assert b"<td>260</td><td>289</td><td>29</td>" in response.content

    def test_the_add_form_previews_the_built_in_default(self, admin_client, tenant):
        response = admin_client.get("/admin/catalog/markuprule/add/")
        assert response.status_code == 200
        assert b"<td>260</td><td>286</td><td>26</td>" in response.content

    def test_a_rule_is_created_through_the_admin(self, admin_client, tenant):
        response = admin_client.post("/admin/catalog/markuprule/add/", {
            "tenant": tenant.pk, "service_id": "", "country_id": "us", "percent_bp": "1500", "fixed_cents": "5",
            "min_margin_cents": "10", "rounding": "multiple_5", "note": "US is popular",
        })
        assert response.status_code == 302, response.content[:3000]
        rule = MarkupRule.objects.get(tenant=tenant, country_id="us")
        assert rule.terms().sell(100) == 120

    def test_an_invalid_scope_is_refused_by_the_admin_form(self, admin_client, tenant):
        response = admin_client.post("/admin/catalog/markuprule/add/", {
            "tenant": tenant.pk, "service_id": "what's app", "country_id": "", "percent_bp": "1000",
            "fixed_cents": "0", "min_margin_cents": "1", "rounding": "none",
        })
        assert response.status_code == 200
        assert not MarkupRule.objects.exists()

    def test_the_rule_list_shows_an_example(self, admin_client, tenant):
        MarkupRule.objects.create(tenant=tenant, percent_bp=2000)
        response = admin_client.get("/admin/catalog/markuprule/")
        assert response.status_code == 200 and "120 ¢".encode() in response.content

    def test_sync_now_refreshes_the_selected_tenants_catalog(self, admin_client, synced, emulator):
        # given
        state = CatalogSync.objects.get(tenant=synced, kind="services")
        # when
        response = admin_client.post("/admin/catalog/catalogsync/", {
            "action": "sync_now", "_selected_action": [state.pk],
        }, follow=True)
        # then
        assert response.status_code == 200
        assert b"services: not modified" in response.content
        assert emulator.request_count("services") == 1
