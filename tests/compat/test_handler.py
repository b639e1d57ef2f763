"""``/stubs/handler_api.php`` in-process: every action and error, and what each does to the money.

The same behaviours are driven over real HTTP in ``test_live_server.py``; here the tests also look inside
(ledger entries, holds, upstream calls, queries), which a client cannot.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command

from accounts.models import Tenant
from accounts.services import api_key_revoke
from activations.models import Activation
from compat.models import CodeMapping
from tests.compat.conftest import HANDLER, Handler
from tests.factories import issue_api_key
from wallet import selectors as wallet_selectors
from wallet.models import JournalEntry

pytestmark = pytest.mark.django_db

TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def available(user) -> int:
    return wallet_selectors.wallet_summary(user=user).available_cents


def entries(activation_id: int, kind: str) -> int:
    return JournalEntry.objects.filter(reference=f"activation:{activation_id}", kind=kind).count()


def upstream_id(activation_id: int) -> str:
    return Activation.objects.get(pk=activation_id).upstream_id


def order(handler, **params) -> int:
    response = handler("getNumber", service="wa", country="187", **params)
    assert response.text.startswith("ACCESS_NUMBER:"), response.text
    return int(response.text.split(":")[1])


def assert_text(response, expected: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.text == expected


def assert_json(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.text)


# --- keys and actions -----------------------------------------------------------------------------------


def test_get_balance_answers_the_available_dollars_with_a_decimal_point(synced, handler, alice, fund):
    fund(alice, 1234)
    assert_text(handler("getBalance"), "ACCESS_BALANCE:12.34")


def test_get_balance_of_an_empty_wallet_still_has_a_decimal_point(synced, handler):
    assert_text(handler("getBalance"), "ACCESS_BALANCE:0.00")


def test_the_key_may_come_as_a_header_and_the_parameters_as_a_form_body(synced, alice, alice_key, fund):
    fund(alice, 500)
    response = Handler(None).client.post(HANDLER, {"action": "getBalance"}, HTTP_X_API_KEY=alice_key)
    response.text = response.content.decode()
    assert_text(response, "ACCESS_BALANCE:5.00")


def test_a_form_body_parameter_wins_over_the_query_string(synced, alice, alice_key, fund):
    fund(alice, 500)
    response = Handler(None).client.post(f"{HANDLER}?action=getNumber", {"action": "getBalance", "api_key": alice_key})
    response.text = response.content.decode()
    assert_text(response, "ACCESS_BALANCE:5.00")


@pytest.mark.parametrize("key", [None, "", "nonsense", "abcdefgh.not-the-secret"])
def test_a_missing_or_invalid_key_is_bad_key_with_http_200(synced, handler, key):
    assert_text(handler("getBalance", key=key), "BAD_KEY")


def test_a_revoked_key_is_bad_key(synced, alice):
    issued = issue_api_key(alice, "old")
    api_key_revoke(api_key=issued.api_key)
    assert_text(Handler(issued.raw_key)("getBalance"), "BAD_KEY")


def test_a_suspended_storefronts_key_is_bad_key(synced, handler, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)
    assert_text(handler("getBalance"), "BAD_KEY")


@pytest.mark.parametrize("action", [None, "", "getBalanceX", "getbalance", "getRentNumber"])
def test_an_unknown_action_is_bad_action(synced, handler, action):
    assert_text(handler(action), "BAD_ACTION")


def test_an_unknown_action_without_a_key_is_bad_key_first(synced, handler):
    assert_text(handler("whatever", key=None), "BAD_KEY")


# --- ordering -------------------------------------------------------------------------------------------


def sell_cents(tenant, service_id="whatsapp", country_id="us") -> int:
    from catalog.services import price_quote

    return price_quote(tenant=tenant, service_id=service_id, country_id=country_id).sell_price_cents


def test_get_number_answers_our_activation_id_and_the_phone_digits(synced, handler, api, alice, alice_key, fund):
    fund(alice, 5000)
    # when
    response = handler("getNumber", service="wa", country="187", operator="tele2")
    # then: the id is the JSON API's id of the same activation
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    prefix, activation_id, digits = response.text.split(":")
    assert prefix == "ACCESS_NUMBER" and digits.isdigit()
    detail = api.get(f"/api/v1/activations/{activation_id}", HTTP_X_API_KEY=alice_key).json()["data"]
    assert detail["phone"] == f"+{digits}"
    assert (detail["service_id"], detail["country_id"]) == ("whatsapp", "us")
    # the sell price is held, not charged
    assert available(alice) == 5000 - detail["sell_price_cents"]
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == 5000


def test_get_number_v2_answers_the_protocols_json(synced, handler, alice, tenant, fund):
    fund(alice, 5000)
    response = handler("getNumberV2", service="tg", country="16")
    body = assert_json(response)
    assert set(body) == {
        "activationId",
        "phoneNumber",
        "activationCost",
        "currency",
        "countryCode",
        "canGetAnotherSms",
        "activationTime",
        "activationEndTime",
        "activationOperator",
    }
    activation = Activation.objects.get(pk=body["activationId"])
    assert activation.user == alice and (activation.service_id, activation.country_id) == ("telegram", "uk")
    assert body["phoneNumber"] == activation.phone.lstrip("+") and isinstance(body["phoneNumber"], str)
    assert body["countryCode"] == "16"
    assert body["activationCost"] == sell_cents(tenant, "telegram", "uk") / 100
    assert body["currency"] == 840 and body["canGetAnotherSms"] is True
    assert TIME.match(body["activationTime"]) and TIME.match(body["activationEndTime"])
    assert body["activationEndTime"] > body["activationTime"]


def test_the_same_order_id_again_is_order_already_exists_and_never_a_second_number(synced, handler, alice, fund):
    fund(alice, 5000)
    first = assert_json(handler("getNumberV2", service="wa", country="187", orderId="bot-42"))
    held = available(alice)
    # when
    again = handler("getNumberV2", service="wa", country="187", orderId="bot-42")
    other_pair = handler("getNumberV2", service="tg", country="16", orderId="bot-42")
    # then
    assert_text(again, "ORDER_ALREADY_EXISTS")
    assert_text(other_pair, "ORDER_ALREADY_EXISTS")
    assert Activation.objects.filter(user=alice).count() == 1
    assert available(alice) == held
    # a new orderId is a new order
    second = assert_json(handler("getNumberV2", service="wa", country="187", orderId="bot-43"))
    assert second["activationId"] != first["activationId"]


def test_a_malformed_order_id_is_bad_data(synced, handler, alice, fund):
    fund(alice, 5000)
    assert_text(handler("getNumberV2", service="wa", country="187", orderId="x" * 200), "BAD_DATA")
    assert not Activation.objects.exists()


@pytest.mark.parametrize("service", [None, "", "zz", "whatsapp"])
def test_a_missing_or_unknown_service_code_is_bad_service(synced, handler, alice, fund, service):
    fund(alice, 5000)
    assert_text(handler("getNumber", service=service, country="187"), "BAD_SERVICE")
    assert not Activation.objects.exists()


@pytest.mark.parametrize("country", ["9999", "abc", "-1", "us"])
def test_an_unknown_country_code_is_bad_country(synced, handler, alice, fund, country):
    fund(alice, 5000)
    assert_text(handler("getNumber", service="wa", country=country), "BAD_COUNTRY")
    assert not Activation.objects.exists()


def test_without_a_country_the_protocols_default_russia_is_ordered(synced, handler, alice, fund):
    # the emulator's catalog has no Russia: the storefront does not sell it
    fund(alice, 5000)
    assert_text(handler("getNumber", service="wa"), "NO_NUMBERS")
    assert available(alice) == 5000


def test_a_pair_out_of_stock_is_no_numbers_and_holds_nothing(synced, handler, alice, fund):
    fund(alice, 5000)
    assert_text(handler("getNumber", service="wa", country="12"), "NO_NUMBERS")  # whatsapp in us_v
    assert available(alice) == 5000


def test_an_empty_wallet_is_no_balance_and_orders_nothing(synced, handler, alice):
    assert_text(handler("getNumber", service="wa", country="187"), "NO_BALANCE")
    assert not Activation.objects.filter(order_status=Activation.OrderStatus.PLACED).exists()
    assert synced.activations() == []


def test_a_max_price_below_ours_is_wrong_max_price_with_our_price(synced, handler, alice, tenant, fund):
    fund(alice, 5000)
    price = sell_cents(tenant)
    expected = f"WRONG_MAX_PRICE:{price // 100}.{price % 100:02d}"
    assert_text(handler("getNumber", service="wa", country="187", maxPrice="0.01"), expected)
    assert_text(handler("getNumber", service="wa", country="187", maxPrice="not-a-price"), expected)
    assert available(alice) == 5000


def test_a_max_price_at_or_above_ours_orders_at_our_price(synced, handler, alice, tenant, fund):
    fund(alice, 5000)
    price = sell_cents(tenant)
    activation_id = order(handler, maxPrice=f"{price / 100:.2f}")
    assert Activation.objects.get(pk=activation_id).sell_price_cents == price


def test_too_many_open_activations_is_channels_limit(synced, handler, alice, tenant, fund):
    fund(alice, 50_000)
    Tenant.objects.filter(pk=tenant.pk).update(max_active_activations_per_user=1)
    order(handler)
    assert_text(handler("getNumber", service="tg", country="187"), "CHANNELS_LIMIT")
    assert Activation.objects.filter(user=alice, order_status=Activation.OrderStatus.PLACED).count() == 1


# --- status: settles like the poll ------------------------------------------------------------------------


def test_get_status_waits_then_shows_the_code_and_charges_once(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    sell = Activation.objects.get(pk=activation_id).sell_price_cents
    assert_text(handler("getStatus", id=activation_id), "STATUS_WAIT_CODE")
    assert_json(handler("getStatusV2", id=activation_id)) == {"verificationType": 0, "sms": None, "call": None}
    # when the SMS arrives (the emulator posts its webhook to us)
    synced.deliver_sms(upstream_id(activation_id), code="123456", text="Your code is 123456")
    # then, however often the client asks
    for _ in range(3):
        assert_text(handler("getStatus", id=activation_id), "STATUS_OK:123456")
        body = assert_json(handler("getStatusV2", id=activation_id))
        assert body["verificationType"] == 0 and body["call"] is None
        assert body["sms"]["code"] == "123456" and body["sms"]["text"] == "Your code is 123456"
        assert TIME.match(body["sms"]["dateTime"])
    assert entries(activation_id, "charge") == 1
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == 5000 - sell
    assert available(alice) == 5000 - sell
    call_command("verify_ledger")


def test_get_status_reaches_the_upstream_when_the_webhook_is_lost(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    synced.webhooks_paused = True
    synced.deliver_sms(upstream_id(activation_id), code="777111")
    Activation.objects.filter(pk=activation_id).update(last_synced_at=None, next_sync_at=None)
    assert_text(handler("getStatus", id=activation_id), "STATUS_OK:777111")
    assert entries(activation_id, "charge") == 1


def test_another_sms_is_asked_with_status_3_and_shown_when_it_comes(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    synced.deliver_sms(upstream_id(activation_id), code="111111")
    assert_text(handler("getStatus", id=activation_id), "STATUS_OK:111111")
    # when
    assert_text(handler("setStatus", id=activation_id, status="3"), "ACCESS_RETRY_GET")
    # then
    assert_text(handler("getStatus", id=activation_id), "STATUS_WAIT_RETRY:111111")
    assert assert_json(handler("getStatusV2", id=activation_id))["sms"] is None
    synced.deliver_sms(upstream_id(activation_id), code="222222")
    assert_text(handler("getStatus", id=activation_id), "STATUS_OK:222222")
    assert entries(activation_id, "charge") == 1  # the second SMS is free


def test_status_3_before_any_sms_is_bad_status(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    assert_text(handler("setStatus", id=activation_id, status="3"), "BAD_STATUS")


def test_status_6_completes_an_activation_whose_sms_arrived(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    synced.deliver_sms(upstream_id(activation_id), code="123456")
    # when
    assert_text(handler("setStatus", id=activation_id, status="6"), "ACCESS_ACTIVATION")
    # then
    assert Activation.objects.get(pk=activation_id).activation_status == "finalized"
    assert_text(handler("getStatus", id=activation_id), "STATUS_OK:123456")
    assert_text(handler("getActiveActivations"), "NO_ACTIVATIONS")
    assert_text(handler("setStatus", id=activation_id, status="6"), "ACCESS_ACTIVATION")  # again: harmless
    assert entries(activation_id, "charge") == 1


def test_status_6_before_the_sms_is_bad_status(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    assert_text(handler("setStatus", id=activation_id, status="6"), "BAD_STATUS")
    assert Activation.objects.get(pk=activation_id).activation_status == "active"


def test_status_8_cancels_releases_the_hold_and_twice_is_harmless(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    # when
    assert_text(handler("setStatus", id=activation_id, status="8"), "ACCESS_CANCEL")
    assert_text(handler("setStatus", id=activation_id, status="8"), "ACCESS_CANCEL")
    # then
    assert available(alice) == 5000 and wallet_selectors.wallet_summary(user=alice).balance_cents == 5000
    assert_text(handler("getStatus", id=activation_id), "STATUS_CANCEL")
    assert_text(handler("getStatusV2", id=activation_id), "STATUS_CANCEL")
    assert entries(activation_id, "charge") == 0 and entries(activation_id, "refund") == 0
    call_command("verify_ledger")


def test_status_8_after_the_sms_refunds_once(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    synced.deliver_sms(upstream_id(activation_id), code="123456")
    assert_text(handler("getStatus", id=activation_id), "STATUS_OK:123456")
    # when
    assert_text(handler("setStatus", id=activation_id, status="8"), "ACCESS_CANCEL")
    assert_text(handler("setStatus", id=activation_id, status="8"), "ACCESS_CANCEL")
    # then
    assert entries(activation_id, "charge") == 1 and entries(activation_id, "refund") == 1
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == 5000
    assert_text(handler("getStatus", id=activation_id), "STATUS_CANCEL")


def test_status_8_before_the_supplier_allows_it_is_early_cancel_denied(synced, handler, alice, fund):
    fund(alice, 5000)
    synced.configure(cancel_delay=120)
    activation_id = order(handler)
    # when
    assert_text(handler("setStatus", id=activation_id, status="8"), "EARLY_CANCEL_DENIED")
    # then nothing changed
    activation = Activation.objects.get(pk=activation_id)
    assert activation.activation_status == "active" and activation.billing_status == "held"
    assert_text(handler("getStatus", id=activation_id), "STATUS_WAIT_CODE")


def test_status_1_is_access_ready_and_changes_nothing(synced, handler, alice, fund):
    fund(alice, 5000)
    activation_id = order(handler)
    assert_text(handler("setStatus", id=activation_id, status="1"), "ACCESS_READY")
    assert_text(handler("getStatus", id=activation_id), "STATUS_WAIT_CODE")


@pytest.mark.parametrize("status", [None, "", "-1", "2", "99", "eight"])
def test_other_statuses_are_bad_status(synced, handler, alice, fund, status):
    fund(alice, 5000)
    activation_id = order(handler)
    assert_text(handler("setStatus", id=activation_id, status=status), "BAD_STATUS")
    assert Activation.objects.get(pk=activation_id).activation_status == "active"


@pytest.mark.parametrize("activation_id", [None, "", "0", "abc", "12.5", str(2**70)])
def test_a_missing_or_malformed_id_is_no_activation(synced, handler, activation_id):
    assert_text(handler("getStatus", id=activation_id), "NO_ACTIVATION")
    assert_text(handler("getStatusV2", id=activation_id), "NO_ACTIVATION")
    assert_text(handler("setStatus", id=activation_id, status="8"), "NO_ACTIVATION")


def test_another_users_or_storefronts_activation_is_no_activation(
    synced, handler, alice, bob, bob_key, charlie, charlie_key, fund
):
    fund(bob, 5000)
    fund(charlie, 5000)
    bobs = order(Handler(bob_key))
    charlies = order(Handler(charlie_key))
    for activation_id in (bobs, charlies):
        assert_text(handler("getStatus", id=activation_id), "NO_ACTIVATION")
        assert_text(handler("getStatusV2", id=activation_id), "NO_ACTIVATION")
        assert_text(handler("setStatus", id=activation_id, status="8"), "NO_ACTIVATION")
        assert Activation.objects.get(pk=activation_id).activation_status == "active"
    assert_text(handler("getActiveActivations"), "NO_ACTIVATIONS")


# --- lists ------------------------------------------------------------------------------------------------


def test_get_active_activations_lists_the_running_ones_in_the_protocols_fields(synced, handler, alice, fund):
    fund(alice, 5000)
    waiting = order(handler)
    with_sms = int(handler("getNumber", service="tg", country="16").text.split(":")[1])
    finished = order(handler)
    synced.deliver_sms(upstream_id(with_sms), code="424242", text="Code 424242")
    assert_text(handler("setStatus", id=finished, status="8"), "ACCESS_CANCEL")
    # when
    body = assert_json(handler("getActiveActivations"))
    # then
    assert body["status"] == "success"
    listed = {item["activationId"]: item for item in body["activeActivations"]}
    assert set(listed) == {str(waiting), str(with_sms)}
    item = listed[str(with_sms)]
    activation = Activation.objects.get(pk=with_sms)
    assert item == {
        "activationId": str(with_sms),
        "serviceCode": "tg",
        "phoneNumber": activation.phone.lstrip("+"),
        "activationCost": activation.sell_price_cents / 100,
        "activationStatus": "4",
        "smsCode": ["424242"],
        "smsText": ["Code 424242"],
        "activationTime": activation.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "discount": "0.00",
        "repeated": "0",
        "countryCode": "16",
        "countryName": "United Kingdom",
        "canGetAnotherSms": "1",
    }
    assert listed[str(waiting)]["activationStatus"] == "1" and listed[str(waiting)]["smsCode"] is None
    assert listed[str(waiting)]["countryCode"] == "187" and listed[str(waiting)]["serviceCode"] == "wa"


def test_get_active_activations_without_any_is_no_activations(synced, handler):
    assert_text(handler("getActiveActivations"), "NO_ACTIVATIONS")


def test_get_active_activations_costs_the_same_queries_for_many(
    synced, handler, alice, tenant, fund, django_assert_max_num_queries
):
    fund(alice, 50_000)
    Tenant.objects.filter(pk=tenant.pk).update(max_active_activations_per_user=50, success_guard_percent=0)
    for _ in range(12):
        order(handler)
    with django_assert_max_num_queries(8):
        body = assert_json(handler("getActiveActivations"))
    assert len(body["activeActivations"]) == 12


def test_get_countries_lists_the_codes_of_the_countries_we_sell(synced, handler):
    body = assert_json(handler("getCountries"))
    assert body["187"] == {
        "id": 187,
        "rus": "United States",
        "eng": "United States",
        "chn": "United States",
        "visible": 1,
        "retry": 1,
        "rent": 0,
        "multiService": 0,
    }
    assert body["12"]["eng"] == "United States (Virtual)" and body["16"]["eng"] == "United Kingdom"
    assert body["6"]["eng"] == "Indonesia" and body["22"]["eng"] == "India"
    assert "0" not in body  # the emulator's catalog has no Russia
    assert list(body) == sorted(body, key=int)


def test_get_services_list_lists_the_codes_of_the_services_we_sell(synced, handler):
    body = assert_json(handler("getServicesList", country="187", lang="en"))
    assert body["status"] == "success"
    services = {item["code"]: item["name"] for item in body["services"]}
    assert services["wa"] == "WhatsApp" and services["tg"] == "Telegram" and services["ot"] == "Other"
    assert services["go"] == "Google" and services["ds"] == "Discord" and services["tw"] == "X (Twitter)"
    assert all(set(item) == {"code", "name"} for item in body["services"])


# --- prices: our sell prices, and the upstream's price budget spared ----------------------------------------


def test_get_prices_of_one_pair_is_the_quote_an_order_pays(synced, handler, api, alice_key, tenant):
    body = assert_json(handler("getPrices", service="wa", country="187"))
    price = api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key).json()["data"]
    assert body == {"187": {"wa": {"cost": price["sell_price_cents"] / 100, "count": price["count"]}}}
    assert synced.request_count("get_price") == 1  # the JSON API's price came from the same cache


def test_get_prices_of_a_pair_without_stock_is_empty(synced, handler):
    assert assert_json(handler("getPrices", service="wa", country="12")) == {}


def test_get_prices_of_a_country_uses_one_bulk_list_and_no_price_call_per_pair(synced, handler, tenant):
    # when, three times
    for _ in range(3):
        body = assert_json(handler("getPrices", country="187"))
    # then
    assert list(body) == ["187"]
    assert body["187"]["wa"]["cost"] == sell_cents(tenant) / 100
    assert body["187"]["ds"]["count"] > 0
    assert synced.request_count("prices_by_country") == 1
    assert synced.request_count("get_price") == 1  # sell_cents' own quote above, none for the list


def test_get_prices_of_everything_is_one_bulk_call_and_then_serves_every_narrower_list(synced, handler):
    everything = assert_json(handler("getPrices"))
    one_service = assert_json(handler("getPrices", service="tg"))
    one_country = assert_json(handler("getPrices", country="16"))
    assert set(everything) >= {"187", "12", "16", "6", "22"}
    assert one_service == {code: {"tg": prices["tg"]} for code, prices in everything.items() if "tg" in prices}
    assert one_country == {"16": everything["16"]}
    assert everything["12"]["wa"]["count"] == 0  # out of stock, still listed with its price
    assert synced.request_count("prices_by_country") == 1
    assert synced.request_count("prices_by_service") == 0 and synced.request_count("get_price") == 0


def test_get_prices_with_an_unknown_code_is_bad_service_or_bad_country(synced, handler):
    assert_text(handler("getPrices", service="zz"), "BAD_SERVICE")
    assert_text(handler("getPrices", country="9999"), "BAD_COUNTRY")


def test_get_prices_when_the_supplier_is_down_and_nothing_is_cached_is_a_protocol_error(synced, handler):
    synced.add_fault(endpoint="prices_by_country", kind="error", status=503, count=100)
    response = handler("getPrices", country="187")
    assert_text(response, "SERVER_ERROR")


# --- the same per-key rate limit as the JSON API ------------------------------------------------------------


@pytest.fixture
def one_minute(monkeypatch):
    """django-ratelimit's windows are calendar minutes: the test's requests all fall in the same one."""
    import time
    import types

    import django_ratelimit.core

    frozen = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: frozen))


def test_the_rate_limit_is_the_json_apis_counter_per_key_answered_in_the_protocol(
    synced, handler, api, alice_key, bob_key, tenant, one_minute
):
    Tenant.objects.filter(pk=tenant.pk).update(rate_limit_per_minute=3)
    # given two of alice's three requests this minute spent on the JSON API
    assert api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key).status_code == 200
    assert api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key).status_code == 200
    # when
    third = handler("getBalance")
    fourth = handler("getBalance")
    # then
    assert third.text.startswith("ACCESS_BALANCE:")
    assert_text(fourth, "TOO_MANY_REQUESTS")
    assert fourth["Retry-After"] == "60"
    assert api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key).status_code == 429
    # another key has its own budget
    assert Handler(bob_key)("getBalance").text.startswith("ACCESS_BALANCE:")


def test_a_rate_limited_order_orders_nothing(synced, handler, alice, tenant, fund, one_minute):
    fund(alice, 5000)
    Tenant.objects.filter(pk=tenant.pk).update(rate_limit_per_minute=1)
    handler("getBalance")
    assert_text(handler("getNumber", service="wa", country="187"), "TOO_MANY_REQUESTS")
    assert not Activation.objects.exists() and available(alice) == 5000


# --- whatever fails: a protocol error string, nothing half-written --------------------------------------------


def test_an_unexpected_failure_while_ordering_is_server_error_and_the_hold_is_released(
    synced, handler, alice, fund, monkeypatch, compat_log
):
    fund(alice, 5000)

    def broken(*args, **kwargs):
        raise RuntimeError("the supplier's client blew up")

    monkeypatch.setattr(synced, "create_activation", broken)
    # when
    response = handler("getNumber", service="wa", country="187")
    # then
    assert_text(response, "SERVER_ERROR")
    assert "ERROR_SQL" not in response.text and "Traceback" not in response.text
    assert any("unexpected failure" in record.getMessage() for record in compat_log)
    assert available(alice) == 5000
    assert not Activation.objects.filter(order_status=Activation.OrderStatus.PLACED).exists()
    call_command("verify_ledger")


def test_a_database_failure_is_server_error_not_a_500_page(synced, handler, monkeypatch):
    from django.db import OperationalError

    from compat import actions

    def broken(*, user):
        raise OperationalError("the database went away")

    monkeypatch.setattr(actions.wallet_selectors, "wallet_summary", broken)
    assert_text(handler("getBalance"), "SERVER_ERROR")


def test_an_error_code_the_table_does_not_know_is_server_error(synced, handler, monkeypatch, compat_log):
    from compat import actions
    from core.errors import DomainError

    def raises(*, user):
        error = DomainError("something the services learned to say after this table was written")
        error.code = "brand_new_code"  # on the instance: a subclass would stay in DomainError's registry
        raise error

    monkeypatch.setattr(actions.wallet_selectors, "wallet_summary", raises)
    assert_text(handler("getBalance"), "SERVER_ERROR")
    assert any("brand_new_code" in record.getMessage() for record in compat_log)


def test_a_supplier_outage_while_ordering_is_server_error_and_nothing_is_charged(synced, handler, alice, fund):
    fund(alice, 5000)
    synced.add_fault(endpoint="create_activation", kind="error", status=503, count=1)
    assert_text(handler("getNumber", service="wa", country="187"), "SERVER_ERROR")
    assert available(alice) == 5000
    call_command("verify_ledger")


def test_a_body_larger_than_the_api_limit_is_bad_data(synced, alice_key, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = Handler(None).client.post(HANDLER, {"api_key": alice_key, "action": "getBalance", "pad": "x" * 200})
    assert response.status_code == 200 and response.content == b"BAD_DATA"


def test_other_http_methods_are_answered_in_the_protocol_too(synced, handler, alice_key):
    response = handler.client.put(f"{HANDLER}?api_key={alice_key}&action=getBalance")
    assert response.status_code == 200 and response.content == b"BAD_ACTION"


def test_a_head_request_orders_nothing(synced, handler, alice, alice_key, fund):
    fund(alice, 5000)
    response = handler.client.head(f"{HANDLER}?api_key={alice_key}&action=getNumber&service=wa&country=187")
    assert response.status_code == 200
    assert not Activation.objects.exists() and available(alice) == 5000


@pytest.mark.parametrize("max_price", ["1e999999", "100000000", "Infinity", "NaN", "sNaN", "-5", "²"])
def test_absurd_max_prices_are_capped_or_refused_without_a_server_error(synced, handler, alice, fund, max_price):
    fund(alice, 5000)
    answer = handler("getNumber", service="wa", country="187", maxPrice=max_price).text
    assert answer.startswith(("ACCESS_NUMBER:", "WRONG_MAX_PRICE:")), answer


@pytest.mark.parametrize("country", ["²", "١٨٧", "1" * 50])
def test_exotic_country_digits_are_bad_country(synced, handler, alice, fund, country):
    fund(alice, 5000)
    assert_text(handler("getNumber", service="wa", country=country), "BAD_COUNTRY")


def test_get_balance_costs_a_handful_of_queries(synced, handler, alice, fund, django_assert_max_num_queries):
    fund(alice, 100)
    handler("getBalance")  # the key's last use is recorded once a minute
    with django_assert_max_num_queries(3):
        assert handler("getBalance").text == "ACCESS_BALANCE:1.00"


# --- operators' code mappings apply at once -----------------------------------------------------------------


def test_an_operators_mapping_adds_a_code_for_every_storefront(synced, handler, charlie_key, alice, charlie, fund):
    fund(alice, 5000)
    fund(charlie, 5000)
    CodeMapping.objects.create(kind="service", code="bk", our_id="booking")  # not in the shipped table
    activation_id = int(handler("getNumber", service="bk", country="187").text.split(":")[1])
    assert Activation.objects.get(pk=activation_id).service_id == "booking"
    assert Handler(charlie_key)("getNumber", service="bk", country="187").text.startswith("ACCESS_NUMBER:")
    assert "bk" in {item["code"] for item in assert_json(handler("getServicesList"))["services"]}


def test_a_storefronts_own_mapping_wins_and_concerns_only_it(synced, handler, charlie_key, alice, tenant, fund):
    fund(alice, 5000)
    CodeMapping.objects.create(kind="service", code="wa", our_id="telegram")  # global: wrong, fixed below
    CodeMapping.objects.create(tenant=tenant, kind="service", code="wa", our_id="")  # acme does not offer wa
    CodeMapping.objects.create(tenant=tenant, kind="country", code="1000", our_id="us")
    assert_text(handler("getNumber", service="wa", country="187"), "BAD_SERVICE")
    assert "wa" not in {item["code"] for item in assert_json(handler("getServicesList"))["services"]}
    activation_id = int(handler("getNumber", service="tg", country="1000").text.split(":")[1])
    assert Activation.objects.get(pk=activation_id).country_id == "us"
    # globex gets the global row, not acme's
    assert "1000" not in assert_json(Handler(charlie_key)("getCountries"))
    assert "Telegram" in {
        item["name"]
        for item in assert_json(Handler(charlie_key)("getServicesList"))["services"]
        if item["code"] == "wa"
    }


def test_lists_cost_a_handful_of_queries_whatever_their_length(synced, handler, django_assert_max_num_queries):
    handler("getPrices")  # the bulk list is cached, and the key's last use recorded, before counting
    with django_assert_max_num_queries(7):
        everything = assert_json(handler("getPrices"))
    with django_assert_max_num_queries(7):
        one_country = assert_json(handler("getPrices", country="16"))
    with django_assert_max_num_queries(4):
        countries = assert_json(handler("getCountries"))
    with django_assert_max_num_queries(4):
        services = assert_json(handler("getServicesList"))["services"]
    assert sum(len(prices) for prices in everything.values()) > 1000
    assert len(one_country["16"]) > 40 and len(countries) > 40 and len(services) > 40
