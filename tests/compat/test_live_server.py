"""Every action and error of ``/stubs/handler_api.php`` over real HTTP, against the project served by gunicorn
(``tests/compat/live.py``): the bytes a client receives, HTTP 200 for successes and errors alike, plain text
without a trailing newline or JSON with ``Content-Type: application/json``."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.server

TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def text(response) -> str:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("text/plain"), response.headers["Content-Type"]
    assert not response.content.endswith((b"\n", b"\r")), response.content
    return response.text


def data(response):
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json", (response.headers["Content-Type"], response.text)
    return response.json()


def balance_cents(live, key) -> int:
    answer = text(live.call(key, "getBalance"))
    assert re.fullmatch(r"ACCESS_BALANCE:\d+\.\d\d", answer), answer
    return round(float(answer.split(":")[1]) * 100)


def order(live, key, service="wa", country="187") -> tuple[int, str]:
    answer = text(live.call(key, "getNumber", service=service, country=country))
    prefix, activation_id, digits = answer.split(":")
    assert prefix == "ACCESS_NUMBER" and digits.isdigit(), answer
    return int(activation_id), digits


# --- keys, actions ------------------------------------------------------------------------------------------


def test_get_balance(live):
    assert text(live.call(live.take(), "getBalance")) == "ACCESS_BALANCE:50.00"


def test_get_balance_by_post_with_the_key_in_a_header(live):
    import requests

    response = requests.post(
        live.handler_url, data={"action": "getBalance"}, headers={"X-Api-Key": live.take()}, timeout=30
    )
    assert text(response) == "ACCESS_BALANCE:50.00"


@pytest.mark.parametrize("which", ["missing", "invalid", "revoked"])
def test_bad_key(live, which):
    key = {"missing": None, "invalid": "abcdefgh.nonsense", "revoked": live.keys["revoked"]}[which]
    assert text(live.call(key, "getBalance")) == "BAD_KEY"


@pytest.mark.parametrize("action", [None, "getNothing"])
def test_bad_action(live, action):
    assert text(live.call(live.take(), action)) == "BAD_ACTION"


def test_too_many_requests_with_the_storefronts_per_key_limit(live):
    # initech allows 2 requests a minute per key: within five quick calls the limit answers (whatever minute
    # boundary falls in between), and every other answer is a balance
    answers = [text(live.call(live.keys["limited"], "getBalance")) for _ in range(5)]
    assert "TOO_MANY_REQUESTS" in answers
    assert set(answers) <= {"TOO_MANY_REQUESTS", "ACCESS_BALANCE:0.00"}


# --- ordering -------------------------------------------------------------------------------------------------


def test_get_number_gives_our_activation_id_and_holds_the_price(live):
    key = live.take()
    activation_id, digits = order(live, key)
    detail = live.json_api(key, f"activations/{activation_id}")
    assert detail["phone"] == f"+{digits}" and (detail["service_id"], detail["country_id"]) == ("whatsapp", "us")
    assert balance_cents(live, key) == 5000 - detail["sell_price_cents"]


def test_get_number_v2_and_its_order_id(live):
    key = live.take()
    body = data(live.call(key, "getNumberV2", service="tg", country="16", orderId="live-1"))
    assert body["currency"] == 840 and body["countryCode"] == "16" and body["activationOperator"] == "any"
    assert isinstance(body["activationId"], int) and isinstance(body["phoneNumber"], str)
    assert TIME.match(body["activationTime"]) and TIME.match(body["activationEndTime"])
    detail = live.json_api(key, f"activations/{body['activationId']}")
    assert body["activationCost"] == detail["sell_price_cents"] / 100
    # the same orderId again: never a second number
    assert text(live.call(key, "getNumberV2", service="tg", country="16", orderId="live-1")) == "ORDER_ALREADY_EXISTS"
    assert live.json_api(key, "activations")["total"] == 1


@pytest.mark.parametrize(
    ("params", "answer"),
    [
        ({"service": "zz", "country": "187"}, "BAD_SERVICE"),
        ({"country": "187"}, "BAD_SERVICE"),
        ({"service": "wa", "country": "9999"}, "BAD_COUNTRY"),
        ({"service": "wa", "country": "12"}, "NO_NUMBERS"),  # whatsapp in the USA's virtual numbers: no stock
    ],
)
def test_get_number_errors(live, params, answer):
    key = live.take()
    assert text(live.call(key, "getNumber", **params)) == answer
    assert balance_cents(live, key) == 5000


def test_no_balance(live):
    assert text(live.call(live.keys["broke"], "getNumber", service="wa", country="187")) == "NO_BALANCE"


def test_wrong_max_price_names_our_price(live):
    key = live.take()
    price = data(live.call(key, "getPrices", service="wa", country="187"))["187"]["wa"]["cost"]
    assert (
        text(live.call(key, "getNumber", service="wa", country="187", maxPrice="0.01"))
        == f"WRONG_MAX_PRICE:{price:.2f}"
    )
    assert balance_cents(live, key) == 5000


def test_a_supplier_outage_is_a_protocol_error_and_charges_nothing(live):
    key = live.take()
    live.emulator.add_fault(endpoint="create_activation", kind="error", status=503, count=1)
    try:
        assert text(live.call(key, "getNumber", service="wa", country="187")) == "SERVER_ERROR"
    finally:
        live.emulator.clear_faults()
    assert balance_cents(live, key) == 5000


# --- status and setStatus ----------------------------------------------------------------------------------------


def test_status_waits_then_shows_the_code_and_charges_once(live):
    key = live.take()
    activation_id, _ = order(live, key)
    assert text(live.call(key, "getStatus", id=activation_id)) == "STATUS_WAIT_CODE"
    assert data(live.call(key, "getStatusV2", id=activation_id)) == {"verificationType": 0, "sms": None, "call": None}
    live.deliver_sms(key, activation_id, code="246810", text="Your code is 246810")
    for _ in range(2):
        assert text(live.call(key, "getStatus", id=activation_id)) == "STATUS_OK:246810"
        sms = data(live.call(key, "getStatusV2", id=activation_id))["sms"]
        assert (sms["code"], sms["text"]) == ("246810", "Your code is 246810") and TIME.match(sms["dateTime"])
    assert len(live.charges(key)) == 1


def test_set_status_retry_complete(live):
    key = live.take()
    activation_id, _ = order(live, key)
    live.deliver_sms(key, activation_id, code="111111")
    assert text(live.call(key, "setStatus", id=activation_id, status="3")) == "ACCESS_RETRY_GET"
    assert text(live.call(key, "getStatus", id=activation_id)) == "STATUS_WAIT_RETRY:111111"
    live.deliver_sms(key, activation_id, code="222222")
    assert text(live.call(key, "getStatus", id=activation_id)) == "STATUS_OK:222222"
    assert text(live.call(key, "setStatus", id=activation_id, status="6")) == "ACCESS_ACTIVATION"
    assert text(live.call(key, "getActiveActivations")) == "NO_ACTIVATIONS"
    assert len(live.charges(key)) == 1


def test_set_status_cancel_twice_releases_once(live):
    key = live.take()
    activation_id, _ = order(live, key)
    assert text(live.call(key, "setStatus", id=activation_id, status="8")) == "ACCESS_CANCEL"
    assert text(live.call(key, "setStatus", id=activation_id, status="8")) == "ACCESS_CANCEL"
    assert text(live.call(key, "getStatus", id=activation_id)) == "STATUS_CANCEL"
    assert balance_cents(live, key) == 5000 and live.charges(key) == []


def test_early_cancel_denied(live):
    key = live.take()
    live.emulator.configure(cancel_delay=300)
    try:
        activation_id, _ = order(live, key)
    finally:
        live.emulator.configure(cancel_delay=0)
    assert text(live.call(key, "setStatus", id=activation_id, status="8")) == "EARLY_CANCEL_DENIED"
    assert text(live.call(key, "getStatus", id=activation_id)) == "STATUS_WAIT_CODE"


def test_set_status_ready_and_bad_status(live):
    key = live.take()
    activation_id, _ = order(live, key)
    assert text(live.call(key, "setStatus", id=activation_id, status="1")) == "ACCESS_READY"
    assert text(live.call(key, "setStatus", id=activation_id, status="6")) == "BAD_STATUS"  # no SMS yet
    assert text(live.call(key, "setStatus", id=activation_id, status="42")) == "BAD_STATUS"


def test_no_activation_for_another_users_or_storefronts_id(live):
    alice, bob, charlie = live.take(), live.take(), live.take("globex")
    bobs, _ = order(live, bob)
    charlies, _ = order(live, charlie)
    for activation_id in (bobs, charlies, 0, "abc"):
        assert text(live.call(alice, "getStatus", id=activation_id)) == "NO_ACTIVATION"
        assert text(live.call(alice, "getStatusV2", id=activation_id)) == "NO_ACTIVATION"
        assert text(live.call(alice, "setStatus", id=activation_id, status="8")) == "NO_ACTIVATION"
    assert text(live.call(bob, "getStatus", id=bobs)) == "STATUS_WAIT_CODE"


# --- lists --------------------------------------------------------------------------------------------------------


def test_get_active_activations(live):
    key = live.take()
    assert text(live.call(key, "getActiveActivations")) == "NO_ACTIVATIONS"
    activation_id, digits = order(live, key, service="tg", country="16")
    body = data(live.call(key, "getActiveActivations"))
    assert body["status"] == "success" and len(body["activeActivations"]) == 1
    item = body["activeActivations"][0]
    assert (item["activationId"], item["phoneNumber"], item["serviceCode"], item["countryCode"]) == (
        str(activation_id),
        digits,
        "tg",
        "16",
    )


def test_get_prices_countries_and_services(live):
    key = live.take()
    one = data(live.call(key, "getPrices", service="wa", country="187"))
    country = data(live.call(key, "getPrices", country="187"))
    assert set(one) == {"187"} and set(one["187"]) == {"wa"}
    assert country["187"]["wa"] == one["187"]["wa"] and set(country["187"]) > {"wa", "tg", "go", "ds"}
    countries = data(live.call(key, "getCountries"))
    assert countries["187"]["eng"] == "United States" and countries["16"]["id"] == 16
    services = data(live.call(key, "getServicesList"))
    assert services["status"] == "success" and {"code": "wa", "name": "WhatsApp"} in services["services"]


def test_the_server_logged_no_traceback(live):
    # runs after the others of this module: the server's log holds whatever went wrong in any request
    assert "Traceback" not in live.log(), live.log()[-3000:]
