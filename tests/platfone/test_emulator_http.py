"""The emulator's HTTP surface (through the in-process adapter): upstream paths, auth, errors, control endpoints."""

from __future__ import annotations

import pytest
import requests

from platfone.emulator import emulator_session

from .conftest import API_KEY

BASE = "http://platfone.test"


@pytest.fixture
def http(emulator) -> requests.Session:
    session = emulator_session(emulator)
    session.headers["X-Api-Key"] = API_KEY
    return session


def create(http, service_id="whatsapp", country_id="uk", **extra):
    response = http.post(
        f"{BASE}/api/v1/activation", json={"service_id": service_id, "country_id": country_id, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_it_requires_the_api_key(emulator):
    response = emulator_session(emulator).get(f"{BASE}/api/v1/user/balance")

    assert response.status_code == 401
    assert response.json()["errorName"] == "UnauthorizedException"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/nope"), ("DELETE", "/api/v1/activation/abc"), ("GET", "/x")]
)
def test_unknown_paths_and_methods_are_404_with_an_error_body(http, method, path):
    response = http.request(method, f"{BASE}{path}")

    assert response.status_code == 404
    assert set(response.json()) == {"errorName", "errorMessage"}


def test_the_docs_history_alias_is_served(http):
    create(http)

    assert http.get(f"{BASE}/api/v1/activations").json()["total"] == 1
    assert http.get(f"{BASE}/api/v1/activation/history?page=1&limit=1").json()["total"] == 1


def test_a_body_that_is_not_json_is_a_bad_request(http):
    response = http.post(f"{BASE}/api/v1/activation", data=b"{oops", headers={"Content-Type": "application/json"})

    assert response.status_code == 400 and response.json()["errorName"] == "BadRequestException"


def test_a_max_price_409_carries_suggested_price_and_order_id(http):
    response = http.post(
        f"{BASE}/api/v1/activation", json={"service_id": "whatsapp", "country_id": "uk", "max_price": 1}
    )

    body = response.json()
    assert response.status_code == 409
    assert body["errorName"] == "MaxPriceExceededException"
    assert isinstance(body["suggestedPrice"], int) and isinstance(body["order_id"], str)


def test_catalog_endpoints_answer_304_to_a_matching_if_none_match(http):
    first = http.get(f"{BASE}/api/v1/activation/countries")
    etag = first.headers["x-etag"]

    unchanged = http.get(f"{BASE}/api/v1/activation/countries", headers={"If-None-Match": etag})
    quoted = http.get(f"{BASE}/api/v1/activation/countries", headers={"If-None-Match": f'W/"{etag}"'})
    changed = http.get(f"{BASE}/api/v1/activation/countries", headers={"If-None-Match": "stale"})

    assert (unchanged.status_code, unchanged.content, unchanged.headers["x-etag"]) == (304, b"", etag)
    assert quoted.status_code == 304
    assert changed.status_code == 200 and changed.json() == first.json()


def test_it_rate_limits_per_method_with_a_reset_header(http, emulator, clock):
    for _ in range(6):
        assert http.get(f"{BASE}/api/v1/activation/history").status_code == 200

    limited = http.get(f"{BASE}/api/v1/activation/history")

    assert limited.status_code == 429 and limited.json()["errorName"] == "TooManyRequestsException"
    assert int(limited.headers["x-ratelimit-reset"]) == (int(clock.now) // 60 + 1) * 60
    assert http.get(f"{BASE}/api/v1/user/balance").status_code == 200
    emulator.configure(rate_limits=False)
    assert http.get(f"{BASE}/api/v1/activation/history").status_code == 200


def test_success_responses_carry_rate_limit_headers(http):
    response = http.get(f"{BASE}/api/v1/user/balance")

    assert (response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]) == ("300", "299")


def test_it_counts_every_upstream_call_per_endpoint(http, emulator):
    aid = create(http)["activation_id"]
    http.get(f"{BASE}/api/v1/activation/{aid}")
    http.get(f"{BASE}/api/v1/activation/{aid}")
    http.get(f"{BASE}/api/v1/nope")

    counters = http.get(f"{BASE}/_emulator/counters").json()

    # webhook_ack_ms: how long the default webhook sender's POSTs took (make bench reads them), per process
    assert isinstance(counters.pop("webhook_ack_ms"), list)
    assert counters == {"total": 4, "by_endpoint": {"create_activation": 1, "get_activation": 2, "unknown": 1}}
    http.post(f"{BASE}/_emulator/counters/reset")
    assert emulator.request_count() == 0


# --- control endpoints --------------------------------------------------------------------------------


def test_control_delivers_an_sms_and_lists_activations(http):
    aid = create(http)["activation_id"]

    delivered = http.post(f"{BASE}/_emulator/activations/{aid}/sms", json={"code": "6363", "text": "Your code is 6363"})
    listed = http.get(f"{BASE}/_emulator/activations", params={"api_key": API_KEY}).json()

    assert (delivered.status_code, delivered.json()["sms_status"], delivered.json()["sms_code"]) == (
        200,
        "smsReceived",
        "6363",
    )
    assert [a["activation_id"] for a in listed] == [aid]


def test_control_expires_an_activation_and_moves_the_clock(http):
    first, second = create(http)["activation_id"], create(http)["activation_id"]

    expired = http.post(f"{BASE}/_emulator/activations/{first}/expire").json()
    now = http.get(f"{BASE}/_emulator/clock").json()["now"]
    moved = http.post(f"{BASE}/_emulator/clock", json={"advance": 1200}).json()["now"]

    assert expired["activation_status"] == "expired"
    assert moved == now + 1200
    assert http.get(f"{BASE}/api/v1/activation/{second}").json()["activation_status"] == "expired"


def test_control_decides_reports(http):
    aid = create(http)["activation_id"]
    http.post(f"{BASE}/_emulator/activations/{aid}/sms", json={})
    http.post(f"{BASE}/api/v1/activation/{aid}/report", json={"reason_id": 2, "message": "wrong"})

    bad = http.post(f"{BASE}/_emulator/activations/{aid}/report", json={"decision": "maybe"})
    approved = http.post(f"{BASE}/_emulator/activations/{aid}/report", json={"decision": "approve"})

    assert bad.status_code == 400
    assert (approved.json()["report_status"], approved.json()["billing_status"]) == ("approved", "refunded")


def test_control_sets_balances_prices_and_settings(http):
    assert http.post(f"{BASE}/_emulator/balance", json={"api_key": API_KEY, "total": 5}).json() == {
        "total": 5,
        "reserved": 0,
    }
    assert http.post(f"{BASE}/_emulator/balance", json={"api_key": "new-key", "total": 100}).status_code == 200
    price = {"service_id": "whatsapp", "country_id": "uk", "min": 1, "max": 3, "suggested": 2, "count": 7}
    assert http.post(f"{BASE}/_emulator/prices", json=price).json()["count"] == 7
    assert http.post(f"{BASE}/_emulator/prices", json={"service_id": "whatsapp"}).status_code == 400
    settings = http.post(f"{BASE}/_emulator/settings", json={"max_active": 1, "latency_ms": 0}).json()
    assert settings["max_active"] == 1 and http.get(f"{BASE}/_emulator/settings").json() == settings


def test_control_unblocks_and_resets(http, emulator):
    emulator.configure(success_rate_block=True)
    for _ in range(10):
        aid = create(http, "other", "id")["activation_id"]
        http.post(f"{BASE}/_emulator/activations/{aid}/expire")
    assert http.post(f"{BASE}/api/v1/activation", json={"service_id": "other", "country_id": "id"}).status_code == 429

    assert http.post(f"{BASE}/_emulator/unblock", json={"api_key": API_KEY}).json() == {"ok": True}
    create(http, "other", "id")
    assert http.post(f"{BASE}/_emulator/reset", json={"api_keys": {"fresh": 7}}).json() == {"ok": True}
    assert emulator.activations() == [] and emulator.balance("fresh") == {"total": 7, "reserved": 0}


def test_control_manages_faults(http):
    added = http.post(f"{BASE}/_emulator/faults", json={"kind": "error", "endpoint": "balance", "count": 2})
    listed = http.get(f"{BASE}/_emulator/faults").json()
    failed = http.get(f"{BASE}/api/v1/user/balance")
    http.delete(f"{BASE}/_emulator/faults")

    assert added.status_code == 200 and added.json()["count"] == 2
    assert [f["kind"] for f in listed] == ["error"]
    assert failed.status_code == 500 and failed.json()["errorName"] == "InternalServerErrorException"
    assert http.get(f"{BASE}/api/v1/user/balance").status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "error", "endpoint": "nope"},
        {"kind": "error", "probability": 2},
        {"kind": "error", "count": 0},
        {"kind": "error", "status": 200},
        {"kind": "garbage", "variant": "xml"},
        {"kind": "timeout", "when": "later"},
        {"kind": "error", "colour": "red"},
    ],
)
def test_control_refuses_bad_fault_specs(http, spec):
    response = http.post(f"{BASE}/_emulator/faults", json=spec)

    assert response.status_code == 400 and response.json()["errorName"] == "BadRequestException"


def test_control_lists_and_redelivers_webhooks(http, webhooks):
    aid = create(http)["activation_id"]
    http.post(f"{BASE}/_emulator/activations/{aid}/sms", json={"code": "1"})

    [delivery] = http.get(f"{BASE}/_emulator/webhooks").json()
    again = http.post(f"{BASE}/_emulator/webhooks/{delivery['id']}/redeliver").json()

    assert delivery["payload"]["type"] == "activation.updated" and delivery["delivered"] is True
    assert again["attempts"] == 2 and len(webhooks) == 2
    assert http.post(f"{BASE}/_emulator/webhooks/nope/redeliver").status_code == 404


def test_control_answers_health_and_unknown_routes(http):
    assert http.get(f"{BASE}/_emulator/health").json()["ok"] is True
    assert http.get(f"{BASE}/_emulator/nope").status_code == 404
    assert http.post(f"{BASE}/_emulator/balance", data=b"[1]").status_code == 400
