"""GET /api/services.php and /api/countries.php (and their /api/v1 paths) as the public document describes."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import override_settings

from catalog import services
from catalog.models import Country, Service
from platfone.emulator import catalog as seeded

pytestmark = pytest.mark.django_db

SERVICES_URLS = [
    "/api/services.php", "/api/v1/services", "/api/v1/index.php?path=services", "/api/v1/index.php/services",
]
COUNTRIES_URLS = [
    "/api/countries.php", "/api/v1/countries", "/api/v1/index.php?path=countries", "/api/v1/index.php/countries",
]
ACME = {"HTTP_HOST": "acme.test"}


def join(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["ok"] is False and body["code"] == code and body["error"]
    return body


@pytest.mark.parametrize("url", SERVICES_URLS)
def test_services_lists_every_available_service_with_its_type_without_a_key(api, synced, url):
    # when
    response = api.get(url, **ACME)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    items = body["data"]["services"]
    assert len(items) == len(seeded.SERVICES)
    assert set(items[0]) == {"service_id", "name", "type", "type_label"}
    whatsapp = next(item for item in items if item["service_id"] == "whatsapp")
    assert whatsapp == {"service_id": "whatsapp", "name": "WhatsApp", "type": "messaging", "type_label": "Messaging"}
    assert [item["name"] for item in items] == sorted(item["name"] for item in items)


@pytest.mark.parametrize("url", COUNTRIES_URLS)
def test_countries_lists_every_available_country_without_a_key(api, synced, url):
    response = api.get(url, **ACME)
    assert response.status_code == 200
    items = response.json()["data"]["countries"]
    assert {"country_id": "us", "name": "United States"} in items
    assert len(items) == len(seeded.COUNTRIES)
    assert all(set(item) == {"country_id", "name"} for item in items)


@pytest.mark.parametrize("url", SERVICES_URLS)
def test_type_filters_the_services(api, synced, url):
    items = api.get(join(url, "type=dating"), **ACME).json()["data"]["services"]
    assert {item["service_id"] for item in items} == {"tinder", "bumble", "hinge"}
    assert {item["type_label"] for item in items} == {"Dating"}


@pytest.mark.parametrize("url", SERVICES_URLS)
def test_an_unknown_type_is_400_invalid_params_naming_the_field(api, synced, url):
    body = assert_error(api.get(join(url, "type=crypto"), **ACME), 400, "invalid_params")
    assert "type" in body["error"]


def test_an_empty_type_means_no_filter(api, synced):
    items = api.get("/api/services.php?type=", **ACME).json()["data"]["services"]
    assert len(items) == len(seeded.SERVICES)


@pytest.mark.parametrize("url", SERVICES_URLS)
def test_grouped_returns_by_type_and_types(api, synced, url):
    # when
    data = api.get(join(url, "grouped=1"), **ACME).json()["data"]
    # then
    assert data["types"][0] == {"slug": "social_media", "label": "Social media"}
    assert [t["slug"] for t in data["types"]] == list(data["by_type"])
    assert data["by_type"]["messaging"]["label"] == "Messaging"
    messaging = {item["service_id"] for item in data["by_type"]["messaging"]["services"]}
    assert messaging == {"whatsapp", "telegram", "signal", "viber", "wechat", "line"}
    assert sum(len(group["services"]) for group in data["by_type"].values()) == len(seeded.SERVICES)
    assert len(data["services"]) == len(seeded.SERVICES)


def test_grouped_with_a_type_has_one_group(api, synced):
    data = api.get("/api/services.php?grouped=1&type=food", **ACME).json()["data"]
    assert list(data["by_type"]) == ["food"]
    assert data["types"] == [{"slug": "food", "label": "Food"}]


def test_without_grouped_there_is_no_by_type(api, synced):
    data = api.get("/api/services.php?grouped=0", **ACME).json()["data"]
    assert set(data) == {"services"}


def test_an_operator_override_moves_a_service_to_another_type(api, synced):
    # given
    services.service_set_type_override(service=Service.objects.get(tenant=synced, service_id="discord"),
                                       type_override="messaging")
    # when
    items = api.get("/api/services.php?type=messaging", **ACME).json()["data"]["services"]
    # then
    assert {"service_id": "discord", "name": "Discord", "type": "messaging", "type_label": "Messaging"} in items
    gaming = api.get("/api/services.php?type=gaming", **ACME).json()["data"]["services"]
    assert "discord" not in {item["service_id"] for item in gaming}


def test_unavailable_services_and_countries_are_not_listed(api, synced):
    Service.objects.filter(tenant=synced, service_id="signal").update(is_available=False)
    Country.objects.filter(tenant=synced, country_id="jm").update(is_available=False)
    assert "signal" not in {i["service_id"] for i in api.get("/api/services.php", **ACME).json()["data"]["services"]}
    assert "jm" not in {i["country_id"] for i in api.get("/api/countries.php", **ACME).json()["data"]["countries"]}


class TestTenancy:
    def test_another_tenants_host_does_not_show_this_tenants_catalog(self, api, synced, other_tenant):
        # given globex has one service of its own and never synced
        Service.objects.create(tenant=other_tenant, service_id="globexonly", name="Globex Only")
        # when
        acme = api.get("/api/services.php", **ACME).json()["data"]["services"]
        globex = api.get("/api/services.php", HTTP_HOST="globex.test").json()["data"]["services"]
        # then
        assert [i["service_id"] for i in globex] == ["globexonly"]
        assert "globexonly" not in {i["service_id"] for i in acme}
        assert api.get("/api/countries.php", HTTP_HOST="globex.test").json()["data"]["countries"] == []

    @pytest.mark.parametrize("url", ["/api/services.php", "/api/countries.php", "/api/v1/services"])
    def test_an_unknown_host_without_a_default_tenant_is_404_not_found(self, api, synced, url):
        with override_settings(DEFAULT_TENANT_SLUG=""):
            assert_error(api.get(url, HTTP_HOST="unknown.example"), 404, "not_found")

    def test_an_unknown_host_gets_the_default_tenant(self, api, synced):
        with override_settings(DEFAULT_TENANT_SLUG="acme"):
            items = api.get("/api/services.php", HTTP_HOST="unknown.example").json()["data"]["services"]
        assert len(items) == len(seeded.SERVICES)

    def test_a_suspended_tenant_has_no_storefront(self, api, synced):
        synced.status = synced.Status.SUSPENDED
        synced.save()
        assert_error(api.get("/api/services.php", **ACME), 404, "not_found")

    def test_an_api_key_does_not_change_whose_catalog_is_shown(self, api, synced, charlie_key):
        # the catalog belongs to the storefront (Host), a key of another tenant is ignored
        response = api.get("/api/services.php", HTTP_X_API_KEY=charlie_key, **ACME)
        assert len(response.json()["data"]["services"]) == len(seeded.SERVICES)


class TestHttpCaching:
    @pytest.mark.parametrize("url", ["/api/services.php", "/api/countries.php", "/api/v1/services?grouped=1"])
    def test_a_matching_if_none_match_is_304_without_a_body(self, api, synced, url):
        # given
        first = api.get(url, **ACME)
        etag = first["ETag"]
        # when
        second = api.get(url, HTTP_IF_NONE_MATCH=etag, **ACME)
        # then
        assert second.status_code == 304
        assert second.content == b""
        assert second["ETag"] == etag
        assert first["Last-Modified"] and first["Cache-Control"].startswith("public")

    def test_the_etag_changes_with_the_content(self, api, synced):
        etag = api.get("/api/services.php", **ACME)["ETag"]
        services.service_set_type_override(service=Service.objects.get(tenant=synced, service_id="discord"),
                                           type_override="messaging")
        response = api.get("/api/services.php", HTTP_IF_NONE_MATCH=etag, **ACME)
        assert response.status_code == 200
        assert response["ETag"] != etag

    def test_the_etag_differs_between_the_plain_and_grouped_lists(self, api, synced):
        assert api.get("/api/services.php", **ACME)["ETag"] != api.get("/api/services.php?grouped=1", **ACME)["ETag"]

    def test_if_modified_since_the_last_change_is_304(self, api, synced):
        last_modified = api.get("/api/countries.php", **ACME)["Last-Modified"]
        assert api.get("/api/countries.php", HTTP_IF_MODIFIED_SINCE=last_modified, **ACME).status_code == 304

    def test_a_sync_that_changes_nothing_keeps_the_etag(self, api, synced):
        etag = api.get("/api/services.php", **ACME)["ETag"]
        services.catalog_sync(tenant=synced, force=True)
        assert api.get("/api/services.php", HTTP_IF_NONE_MATCH=etag, **ACME).status_code == 304


class TestRateLimit:
    def test_the_catalog_is_limited_per_client_ip(self, api, synced):
        with override_settings(CATALOG_RATE_LIMIT_PER_MINUTE=3), \
                mock.patch("django_ratelimit.core.time.time", return_value=1_800_000_000.0):
            statuses = [api.get("/api/services.php", REMOTE_ADDR="10.0.0.1", **ACME).status_code for _ in range(4)]
            other_ip = api.get("/api/countries.php", REMOTE_ADDR="10.0.0.2", **ACME)
        assert statuses == [200, 200, 200, 429]
        assert other_ip.status_code == 200
        assert other_ip["X-RateLimit-Limit"] == "3"

    def test_a_limited_request_gets_retry_after(self, api, synced):
        with override_settings(CATALOG_RATE_LIMIT_PER_MINUTE=1), \
                mock.patch("django_ratelimit.core.time.time", return_value=1_800_000_000.0):
            api.get("/api/countries.php", **ACME)
            limited = api.get("/api/countries.php", **ACME)
        assert_error(limited, 429, "rate_limit")
        assert limited["Retry-After"] == "60"


def test_post_is_405(api, synced):
    assert_error(api.post("/api/services.php", {}, **ACME), 405, "method_not_allowed")
