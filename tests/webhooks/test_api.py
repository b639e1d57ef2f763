"""The JSON API of webhook endpoints: ``webhooks``, ``webhooks/{id}`` and their actions, in the API's envelope,
in all three routing styles, each user seeing only their own endpoints; and ``wallet/low-balance``."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from tests.activations.test_api_flow import STYLES, assert_error, url
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import delivery as delivery_service
from webhooks.services import endpoint_send_test

pytestmark = pytest.mark.django_db


def create(api, key, receiver_url, **fields):
    return api.post("/api/v1/webhooks", {"url": receiver_url, **fields}, format="json", HTTP_X_API_KEY=key)


def data(response, status=200):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["ok"] is True
    return body["data"]


ENDPOINT_FIELDS = {
    "id",
    "url",
    "description",
    "events",
    "status",
    "disabled_reason",
    "disabled_at",
    "failing_since",
    "previous_secret_expires_at",
    "created_at",
}


@pytest.mark.parametrize("style", STYLES)
def test_register_shows_the_secret_once_and_never_again(api, alice_key, receiver, allow_loopback, style):
    # when
    created = data(
        api.post(
            url(style, "webhooks"),
            {"url": receiver.url, "events": ["activation.sms_received"], "description": "codes"},
            format="json",
            HTTP_X_API_KEY=alice_key,
        )
    )
    # then
    assert set(created) == ENDPOINT_FIELDS | {"secret"}
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["status"], created["description"]) == (
        receiver.url,
        ["activation.sms_received"],
        "enabled",
        "codes",
    )
    listed = data(api.get(url(style, "webhooks"), HTTP_X_API_KEY=alice_key))["endpoints"]
    one = data(api.get(url(style, f"webhooks/{created['id']}"), HTTP_X_API_KEY=alice_key))
    assert [set(e) for e in listed] == [ENDPOINT_FIELDS] and set(one) == ENDPOINT_FIELDS
    assert created["secret"] not in str(listed) + str(one)


def test_events_default_to_all(api, alice_key, receiver, allow_loopback):
    assert data(create(api, alice_key, receiver.url))["events"] == ["*"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "https://127.0.0.1/hook"}, "loopback"),
        ({"url": "https://2130706433/hook"}, "four decimal numbers"),
        ({"url": "https://[::ffff:127.0.0.1]/hook"}, "loopback"),
        ({"url": "https://169.254.169.254/latest/meta-data/"}, "link-local"),
        ({"url": "http://1.1.1.1/hook"}, "https://"),
        ({"url": "not a url"}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://1.1.1.1/", "events": []}, "events"),
        ({"url": "https://1.1.1.1/", "events": ["activation.teleported"]}, "events"),
        ({"url": "https://1.1.1.1/", "events": "activation.sms_received"}, "events"),
        ({"url": "https://1.1.1.1/", "description": "x" * 201}, "description"),
        ({}, "url"),
    ],
)
def test_bad_input_is_a_400_and_registers_nothing(api, alice_key, production, fields, message):
    body = assert_error(
        api.post("/api/v1/webhooks", fields, format="json", HTTP_X_API_KEY=alice_key), 400, "invalid_params"
    )
    assert message in body["error"]
    assert Endpoint.objects.count() == 0


def test_the_eleventh_endpoint_is_409(api, alice_key, receiver, allow_loopback):
    for _ in range(10):
        data(create(api, alice_key, receiver.url))
    body = assert_error(create(api, alice_key, receiver.url), 409, "webhook_limit")
    assert body["limit"] == 10 and Endpoint.objects.count() == 10


def test_update_changes_what_is_given(api, alice_key, receiver, allow_loopback):
    created = data(create(api, alice_key, receiver.url))
    path = f"/api/v1/webhooks/{created['id']}"
    updated = data(
        api.patch(path, {"events": ["wallet.low_balance", "wallet.credited"]}, format="json", HTTP_X_API_KEY=alice_key)
    )
    assert updated["events"] == ["wallet.low_balance", "wallet.credited"] and updated["url"] == receiver.url
    assert_error(
        api.patch(path, {"url": "https://10.0.0.1/"}, format="json", HTTP_X_API_KEY=alice_key), 400, "invalid_params"
    )
    assert Endpoint.objects.get().url == receiver.url


def test_rotate_returns_a_new_secret_once_and_keeps_the_old_one_signing_for_24_h(
    api, alice_key, receiver, allow_loopback
):
    created = data(create(api, alice_key, receiver.url))
    rotated = data(api.post(f"/api/v1/webhooks/{created['id']}/rotate", HTTP_X_API_KEY=alice_key))
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    endpoint = Endpoint.objects.get()
    assert endpoint.signing_secrets() == [rotated["secret"], created["secret"]]


def raw_secrets(endpoint_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhooks_endpoint WHERE id = %s", [endpoint_id])
        return cursor.fetchone()


def test_signing_secrets_are_encrypted_at_rest_and_rotate_with_the_field_key(
    api, alice_key, receiver, allow_loopback, settings
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    created = data(create(api, alice_key, receiver.url))
    rotated = data(api.post(f"/api/v1/webhooks/{created['id']}/rotate", HTTP_X_API_KEY=alice_key))
    # the table holds Fernet tokens, not the secrets
    before = raw_secrets(created["id"])
    assert rotated["secret"] not in before[0] and created["secret"] not in before[1]
    # when a new field key is put first and the stored secrets are re-encrypted
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_encryption", stdout=io.StringIO())
    # then the old key can go, and the endpoint still signs with both secrets
    settings.FIELD_ENCRYPTION_KEYS = [new]
    after = raw_secrets(created["id"])
    assert after[0] != before[0] and after[1] != before[1]
    assert Endpoint.objects.get().signing_secrets() == [rotated["secret"], created["secret"]]


def test_disable_enable_and_delete(api, alice_key, receiver, allow_loopback):
    created = data(create(api, alice_key, receiver.url))
    base = f"/api/v1/webhooks/{created['id']}"
    disabled = data(api.post(f"{base}/disable", HTTP_X_API_KEY=alice_key))
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", "user") and disabled["disabled_at"]
    assert_error(api.post(f"{base}/test", HTTP_X_API_KEY=alice_key), 409, "webhook_disabled")
    enabled = data(api.post(f"{base}/enable", HTTP_X_API_KEY=alice_key))
    assert (enabled["status"], enabled["disabled_reason"], enabled["disabled_at"]) == ("enabled", None, None)
    assert data(api.delete(base, HTTP_X_API_KEY=alice_key)) == {"result": "deleted"}
    assert_error(api.get(base, HTTP_X_API_KEY=alice_key), 404, "not_found")
    assert Endpoint.objects.count() == 0


def test_send_test_and_read_the_delivery_log(
    api, alice_key, receiver, allow_loopback, django_capture_on_commit_callbacks
):
    # given
    created = data(create(api, alice_key, receiver.url))
    base = f"/api/v1/webhooks/{created['id']}"
    receiver.script = [500]
    receiver.answer_body = b"x" * 5000
    # when: a test event; it fails once, then a manual redeliver succeeds
    with django_capture_on_commit_callbacks(execute=True):
        queued = data(api.post(f"{base}/test", HTTP_X_API_KEY=alice_key))["delivery"]
    with django_capture_on_commit_callbacks(execute=True):
        redelivered = data(api.post(f"{base}/deliveries/{queued['id']}/redeliver", HTTP_X_API_KEY=alice_key))[
            "delivery"
        ]
    log = data(api.get(f"{base}/deliveries", HTTP_X_API_KEY=alice_key))
    # then
    assert queued["event_type"] == "webhook.test" and queued["status"] == "pending"
    assert redelivered["id"] == queued["id"]
    assert (log["page"], log["limit"], log["total"]) == (1, 20, 1)
    [delivery] = log["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["event_id"]) == ("succeeded", 2, queued["event_id"])
    first, second = delivery["log"]
    assert (first["number"], first["status_code"], first["succeeded"], first["manual"]) == (1, 500, False, False)
    assert first["error"] == "HTTP 500" and first["latency_ms"] is not None
    assert (second["number"], second["status_code"], second["succeeded"], second["manual"]) == (2, 200, True, True)
    assert second["response_snippet"] == "x" * 1024  # at most 1 KB of the answer
    assert len(receiver.requests) == 2


def test_the_log_filters_by_status_and_costs_the_same_queries_for_any_page_size(
    api, alice_key, alice, receiver, allow_loopback, django_assert_max_num_queries
):
    # given: 30 deliveries, each with two attempts
    created = data(create(api, alice_key, receiver.url))
    endpoint = Endpoint.objects.get(pk=created["id"])
    for _ in range(30):
        delivery = endpoint_send_test(endpoint=endpoint)
        for number in (1, 2):
            Attempt.objects.create(
                delivery=delivery, number=number, started_at=delivery.created_at, status_code=500, error="HTTP 500"
            )
    Delivery.objects.filter(pk__in=list(Delivery.objects.values_list("pk", flat=True)[:5])).update(status="failed")
    path = f"/api/v1/webhooks/{created['id']}/deliveries"
    api.get(path, HTTP_X_API_KEY=alice_key)  # warm: key touch, rate-limit window
    # when / then: auth (1) + endpoint (1) + count (1) + page (1) + attempts (1)
    with django_assert_max_num_queries(6):
        page = data(api.get(f"{path}?limit=50", HTTP_X_API_KEY=alice_key))
    assert len(page["deliveries"]) == 30 and all(len(d["log"]) == 2 for d in page["deliveries"])
    failed = data(api.get(f"{path}?status=failed&limit=2&page=2", HTTP_X_API_KEY=alice_key))
    assert (failed["total"], len(failed["deliveries"])) == (5, 2)
    assert_error(api.get(f"{path}?status=lost", HTTP_X_API_KEY=alice_key), 400, "invalid_params")
    assert_error(api.get(f"{path}?limit=51", HTTP_X_API_KEY=alice_key), 400, "invalid_params")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/rotate"),
        ("post", "/disable"),
        ("post", "/enable"),
        ("post", "/test"),
        ("get", "/deliveries"),
    ],
)
def test_another_users_or_tenants_endpoint_is_404_and_untouched(
    api, alice_key, bob_key, charlie_key, receiver, allow_loopback, method, suffix
):
    created = data(create(api, alice_key, receiver.url))
    for key in (bob_key, charlie_key):
        response = getattr(api, method)(
            f"/api/v1/webhooks/{created['id']}{suffix}", {"events": ["*"]}, format="json", HTTP_X_API_KEY=key
        )
        assert_error(response, 404, "not_found")
    endpoint = Endpoint.objects.get()
    assert (endpoint.status, endpoint.previous_secret, Delivery.objects.count()) == ("enabled", "", 0)
    assert data(api.get("/api/v1/webhooks", HTTP_X_API_KEY=bob_key)) == {"endpoints": []}


def test_another_users_delivery_cannot_be_redelivered(api, alice, alice_key, bob_key, receiver, allow_loopback):
    alice_endpoint = data(create(api, alice_key, receiver.url))
    bob_endpoint = data(create(api, bob_key, receiver.url))
    delivery = endpoint_send_test(endpoint=Endpoint.objects.get(pk=alice_endpoint["id"]))
    response = api.post(
        f"/api/v1/webhooks/{bob_endpoint['id']}/deliveries/{delivery.pk}/redeliver", HTTP_X_API_KEY=bob_key
    )
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("endpoint_id", ["abc", "0", "-1", "1.5", "99999999999999999999"])
def test_malformed_ids_are_404(api, alice_key, endpoint_id):
    assert_error(api.get(f"/api/v1/webhooks/{endpoint_id}", HTTP_X_API_KEY=alice_key), 404, "not_found")


def test_without_a_key_it_is_401(api):
    assert_error(api.get("/api/v1/webhooks"), 401, "invalid_key")
    assert_error(api.post("/api/v1/webhooks", {"url": "https://1.1.1.1/"}, format="json"), 401, "invalid_key")


def test_an_unsupported_method_is_405(api, alice_key):
    response = api.put("/api/v1/webhooks", {}, format="json", HTTP_X_API_KEY=alice_key)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


# --- wallet/low-balance ----------------------------------------------------------------------------------


def test_the_low_balance_threshold_is_read_set_and_removed(api, alice_key, bob_key):
    path = "/api/v1/wallet/low-balance"
    assert data(api.get(path, HTTP_X_API_KEY=alice_key)) == {"threshold_cents": None}
    assert data(api.post(path, {"threshold_cents": 500}, format="json", HTTP_X_API_KEY=alice_key)) == {
        "threshold_cents": 500
    }
    assert data(api.get("/api/v1/index.php?path=wallet/low-balance", HTTP_X_API_KEY=alice_key)) == {
        "threshold_cents": 500
    }
    assert data(api.get(path, HTTP_X_API_KEY=bob_key)) == {"threshold_cents": None}
    assert data(api.post(path, {"threshold_cents": None}, format="json", HTTP_X_API_KEY=alice_key)) == {
        "threshold_cents": None
    }


@pytest.mark.parametrize("value", [0, -1, "abc", 10**13, 2.5])
def test_a_bad_threshold_is_400(api, alice_key, value):
    response = api.post(
        "/api/v1/wallet/low-balance", {"threshold_cents": value}, format="json", HTTP_X_API_KEY=alice_key
    )
    assert_error(response, 400, "invalid_params")


# --- the schema --------------------------------------------------------------------------------------------


def test_the_openapi_schema_documents_every_webhook_path(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    expected = {
        "/api/v1/webhooks": {"get", "post"},
        "/api/v1/webhooks/{endpoint_id}": {"get", "patch", "delete"},
        "/api/v1/webhooks/{endpoint_id}/rotate": {"post"},
        "/api/v1/webhooks/{endpoint_id}/disable": {"post"},
        "/api/v1/webhooks/{endpoint_id}/enable": {"post"},
        "/api/v1/webhooks/{endpoint_id}/test": {"post"},
        "/api/v1/webhooks/{endpoint_id}/deliveries": {"get"},
        "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver": {"post"},
        "/api/v1/wallet/low-balance": {"get", "post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    create = paths["/api/v1/webhooks"]["post"]
    assert "X-Signature" in create["description"]
    assert "409" in create["responses"]


def test_delivery_timeouts_fit_inside_a_claim():
    assert delivery_service.lease().total_seconds() > 30
