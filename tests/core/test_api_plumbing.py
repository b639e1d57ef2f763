"""The API's plumbing as the public document describes it: envelope, auth, routing, errors, rate limit."""

from unittest import mock

import pytest

from accounts.models import Tenant
from accounts.services import api_key_create, api_key_revoke
from wallet import services as wallet_services

pytestmark = pytest.mark.django_db

WALLET_URLS = [
    "/api/v1/index.php?path=wallet",
    "/api/v1/index.php/wallet",
    "/api/v1/wallet",
]


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["ok"] is False
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.mark.parametrize("url", WALLET_URLS)
def test_all_three_routing_styles_reach_the_wallet(api, alice, alice_key, url):
    # given
    wallet_services.deposit(user=alice, amount_cents=1250, idempotency_key="t:1", actor="test")
    # when
    response = api.get(url, HTTP_X_API_KEY=alice_key)
    # then
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "data": {"balance_cents": 1250, "held_cents": 0, "available_cents": 1250},
    }


def test_bearer_authorization_works_like_x_api_key(api, alice_key):
    response = api.get("/api/v1/wallet", HTTP_AUTHORIZATION=f"Bearer {alice_key}")
    assert response.status_code == 200
    assert response.json()["ok"] is True


@pytest.mark.parametrize("url", WALLET_URLS)
def test_it_answers_401_invalid_key_without_a_key(api, url):
    assert_error(api.get(url), 401, "invalid_key")


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_API_KEY": "nope"},
        {"HTTP_X_API_KEY": "abcdefgh.not-the-secret"},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
    ],
)
def test_it_answers_401_for_a_wrong_key(api, alice_key, headers):
    assert_error(api.get("/api/v1/wallet", **headers), 401, "invalid_key")


def test_it_answers_401_when_only_the_secret_part_is_wrong(api, alice_key):
    prefix = alice_key.split(".")[0]
    assert_error(api.get("/api/v1/wallet", HTTP_X_API_KEY=f"{prefix}.wrong-secret"), 401, "invalid_key")


def test_a_revoked_key_is_rejected(api, alice, alice_key):
    # given
    key = alice.api_keys.get()
    # when
    api_key_revoke(api_key=key)
    # then
    assert_error(api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key), 401, "invalid_key")


def test_a_suspended_user_is_rejected(api, alice, alice_key):
    alice.is_active = False
    alice.save()
    assert_error(api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key), 401, "invalid_key")


def test_a_suspended_tenant_is_rejected(api, alice, alice_key):
    Tenant.objects.filter(pk=alice.tenant_id).update(status=Tenant.Status.SUSPENDED)
    assert_error(api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key), 401, "invalid_key")


def test_the_key_is_stored_hashed_never_in_plaintext(alice):
    # given
    issued = api_key_create(user=alice, name="laptop")
    # then
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        rows = cursor.fetchall()
    secret = issued.raw_key.split(".", 1)[1]
    flat = repr(rows)
    assert secret not in flat
    assert issued.raw_key not in flat
    assert issued.api_key.prefix == issued.raw_key.split(".")[0]
    assert len(issued.api_key.hashed_key) == 64


def test_a_key_records_when_it_was_last_used(api, alice, alice_key):
    api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key)
    assert alice.api_keys.get().last_used_at is not None


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/index.php?path=nothing-here",
        "/api/v1/index.php/nothing-here",
        "/api/v1/nothing-here",
        "/api/v1/index.php",
        "/api/v1/index.php?path=",
        "/api/v2/wallet",
    ],
)
def test_unknown_paths_are_404_not_found(api, alice_key, url):
    assert_error(api.get(url, HTTP_X_API_KEY=alice_key), 404, "not_found")


@pytest.mark.parametrize("url", WALLET_URLS)
def test_post_on_wallet_is_405_with_an_allow_header(api, alice_key, url):
    response = api.post(url, {}, format="json", HTTP_X_API_KEY=alice_key)
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert "POST" not in response["Allow"]


def test_a_keyless_request_learns_nothing_about_methods(api):
    assert_error(api.post("/api/v1/wallet", {}, format="json"), 401, "invalid_key")


def test_a_huge_body_is_400_not_500(api, alice_key):
    body = "x" * (2 * 1024 * 1024)
    response = api.generic("GET", "/api/v1/wallet", body, content_type="text/plain", HTTP_X_API_KEY=alice_key)
    assert_error(response, 400, "invalid_params")


def test_wallet_transactions_are_listed_newest_first_with_running_balances(api, alice, alice_key):
    # given
    wallet_services.deposit(user=alice, amount_cents=1000, idempotency_key="t:1", description="Deposit", actor="test")
    wallet_services.deposit(user=alice, amount_cents=500, idempotency_key="t:2", description="Top-up", actor="test")
    wallet_services.adjust(
        user=alice, amount_cents=-200, reason="Goodwill reversal", idempotency_key="t:3", actor="test"
    )
    # when
    data = api.get("/api/v1/index.php?path=wallet&transactions=1", HTTP_X_API_KEY=alice_key).json()["data"]
    # then
    assert data["balance_cents"] == 1300
    assert [(t["type"], t["amount_cents"], t["balance_after_cents"]) for t in data["transactions"]] == [
        ("adjustment", -200, 1300),
        ("deposit", 500, 1500),
        ("deposit", 1000, 1000),
    ]
    first = data["transactions"][-1]
    assert first["description"] == "Deposit"
    assert len(first["created_at"]) == 19 and first["created_at"][4] == "-" and first["created_at"][10] == " "


def test_wallet_shows_at_most_20_transactions(api, alice, alice_key):
    for n in range(25):
        wallet_services.deposit(user=alice, amount_cents=1, idempotency_key=f"t:{n}", actor="test")
    data = api.get("/api/v1/wallet?transactions=yes", HTTP_X_API_KEY=alice_key).json()["data"]
    assert len(data["transactions"]) == 20
    assert data["transactions"][0]["balance_after_cents"] == 25


def test_wallet_without_the_transactions_flag_omits_them(api, alice_key):
    data = api.get("/api/v1/wallet?transactions=", HTTP_X_API_KEY=alice_key).json()["data"]
    assert "transactions" not in data


def test_each_key_sees_only_its_own_users_wallet(api, alice, charlie, alice_key, charlie_key):
    # given
    wallet_services.deposit(user=alice, amount_cents=700, idempotency_key="a:1", actor="test")
    wallet_services.deposit(user=charlie, amount_cents=300, idempotency_key="c:1", actor="test")
    # when
    alice_view = api.get("/api/v1/wallet?transactions=1", HTTP_X_API_KEY=alice_key).json()["data"]
    charlie_view = api.get("/api/v1/wallet?transactions=1", HTTP_X_API_KEY=charlie_key).json()["data"]
    # then
    assert alice_view["balance_cents"] == 700
    assert charlie_view["balance_cents"] == 300
    assert [t["amount_cents"] for t in charlie_view["transactions"]] == [300]


class TestRateLimit:
    def test_the_181st_request_in_a_minute_is_429_and_a_new_minute_allows_again(self, api, alice_key):
        # given a frozen clock inside one window
        with mock.patch("django_ratelimit.core.time.time", return_value=1_800_000_000.0):
            for n in range(180):
                response = api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key)
                assert response.status_code == 200, n
                assert response["X-RateLimit-Limit"] == "180"
                assert response["X-RateLimit-Remaining"] == str(179 - n)
            # when
            limited = api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key)
        # then
        assert_error(limited, 429, "rate_limit")
        assert limited["Retry-After"] == "60"
        assert limited["X-RateLimit-Remaining"] == "0"
        with mock.patch("django_ratelimit.core.time.time", return_value=1_800_000_000.0 + 60):
            assert api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key).status_code == 200

    def test_the_limit_is_the_tenants_setting_and_counts_per_key(self, api, alice, alice_key):
        # given
        Tenant.objects.filter(pk=alice.tenant_id).update(rate_limit_per_minute=3)
        second_key = api_key_create(user=alice, name="second").raw_key
        with mock.patch("django_ratelimit.core.time.time", return_value=1_800_000_000.0):
            # when
            statuses = [api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key).status_code for _ in range(4)]
            other = api.get("/api/v1/wallet", HTTP_X_API_KEY=second_key)
        # then
        assert statuses == [200, 200, 200, 429]
        assert other.status_code == 200
        assert other["X-RateLimit-Limit"] == "3"

    def test_unauthenticated_requests_are_rejected_before_counting(self, api):
        response = api.get("/api/v1/wallet")
        assert response.status_code == 401
        assert "X-RateLimit-Limit" not in response


@pytest.mark.urls("tests.core.probe_urls")
class TestBodiesAndCrashes:
    def test_valid_json_is_parsed(self, api, alice_key):
        response = api.post("/api/v1/echo", {"name": "x", "count": 2}, format="json", HTTP_X_API_KEY=alice_key)
        assert response.json() == {"ok": True, "data": {"name": "x", "count": 2}}

    def test_a_form_body_is_parsed_too(self, api, alice_key):
        response = api.post("/api/v1/echo", {"name": "x", "count": "3"}, HTTP_X_API_KEY=alice_key)
        assert response.json()["data"] == {"name": "x", "count": 3}

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            ("{not json", "application/json"),
            ('{"name": "x", "count": 2', "application/json"),
            ("\xff\xfe", "application/json"),
            ("<xml/>", "application/xml"),
            ("name=x", "text/plain"),
            ("[1, 2, 3]", "application/json"),
            ('"just a string"', "application/json"),
            ('{"name": "x", "count": "many"}', "application/json"),
            ('{"name": "x", "count": 1e999}', "application/json"),
            ('{"name": "x" , "count": 99}', "application/json"),
        ],
    )
    def test_bad_bodies_are_400_invalid_params(self, api, alice_key, body, content_type):
        response = api.generic("POST", "/api/v1/echo", body, content_type=content_type, HTTP_X_API_KEY=alice_key)
        assert_error(response, 400, "invalid_params")

    def test_a_validation_error_names_the_field(self, api, alice_key):
        response = api.post("/api/v1/echo", {"name": "x", "count": 99}, format="json", HTTP_X_API_KEY=alice_key)
        body = assert_error(response, 400, "invalid_params")
        assert "count" in body["error"]

    def test_a_body_over_the_limit_is_400(self, api, alice_key, settings):
        settings.API_MAX_BODY_BYTES = 100
        response = api.post("/api/v1/echo", {"name": "x" * 200, "count": 1}, format="json", HTTP_X_API_KEY=alice_key)
        assert_error(response, 400, "invalid_params")

    def test_an_unhandled_error_is_a_500_envelope_without_internals(self, api, alice_key):
        api.raise_request_exception = False
        response = api.get("/api/v1/crash", HTTP_X_API_KEY=alice_key)
        body = assert_error(response, 500, "server_error")
        assert "hunter2" not in response.content.decode()
        assert "Traceback" not in response.content.decode()
        assert set(body) == {"ok", "error", "code"}


def test_a_disallowed_host_under_api_gets_the_envelope(api, settings):
    settings.ALLOWED_HOSTS = ["numbers.example.com"]
    response = api.get("/api/v1/wallet", HTTP_HOST="evil.example.net")
    assert_error(response, 400, "invalid_params")
