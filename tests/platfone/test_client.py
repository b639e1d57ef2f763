"""PlatfoneClient against mocked HTTP (`responses`): requests sent, parsing, error mapping, retries, budget."""

from __future__ import annotations

import base64
import json

import pytest
import requests
import responses
from responses import matchers

from platfone.budget import MemoryCache
from platfone.client import PlatfoneClient
from platfone.errors import (
    AccountOnHold,
    BadRequest,
    BudgetExhausted,
    Conflict,
    InvalidKey,
    LowSuccessRate,
    MaxPriceExceeded,
    NoNumbersAvailable,
    NotFound,
    PaymentRequired,
    PlatfoneError,
    RateLimited,
    TooManyActivations,
    UpstreamUnavailable,
)
from platfone.types import Activation, Country, Service

from .conftest import API_KEY, T0, FakeClock, Sleeps

BASE = "https://temp-number-api.com/api/v1"
ACTIVATION = {
    "activation_id": "64a1c0e8d2a1f9b7e45d3b8e",
    "price": 20,
    "phone": "14155552671",
    "country_id": "us",
    "service_id": "netflix",
    "sms_status": "smsRequested",
    "activation_status": "active",
    "billing_status": "reserved",
    "report_status": None,
    "sms_code": None,
    "sms_text": None,
    "expire_at": 1729088539,
    "updated_at": 1729087939,
    "created_at": 1729087339,
    "is_retriable": False,
    "cancelable_after": None,
}
PRICE = {"price": {"min": 210, "max": 510, "suggested": 310}, "quality": {"avg": 0.3}, "count": 143}
REPORT = {
    "reason_id": 1,
    "reason_name": "SMS is not coming",
    "message": "Test message",
    "activation_state_snapshot": '{"activation_status":"active","sms_status":"smsRequested"}',
    "updated_at": 1679061001,
    "created_at": 1679061001,
    "activation": ACTIVATION,
}
AID = ACTIVATION["activation_id"]


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def api(clock, sleeps):
    return PlatfoneClient(base_url=BASE, api_key=API_KEY, cache=MemoryCache(), clock=clock, sleep=sleeps)


def error(name, message="nope"):
    return {"errorName": name, "errorMessage": message}


# --- requests and parsing, one test per method --------------------------------------------------------


def test_it_sends_the_api_key_json_content_type_and_timeouts_on_every_call(mock, api):
    mock.get(f"{BASE}/user/balance", json={"total": 2301, "reserved": 210})

    api.balance()

    request = mock.calls[0].request
    assert request.headers["X-Api-Key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.req_kwargs["timeout"] == (3.05, 10.0)


def test_it_joins_the_base_url_with_or_without_a_trailing_slash(mock):
    mock.get(f"{BASE}/user/balance", json={"total": 1, "reserved": 0})
    api = PlatfoneClient(base_url=BASE + "/", api_key=API_KEY, cache=MemoryCache())

    api.balance()

    assert mock.calls[0].request.url == f"{BASE}/user/balance"


def test_create_activation_posts_only_the_given_fields(mock, api):
    mock.post(
        f"{BASE}/activation",
        json=ACTIVATION,
        match=[matchers.json_params_matcher({"service_id": "netflix", "country_id": "us"})],
    )

    activation = api.create_activation(service_id="netflix", country_id="us")

    assert activation == Activation.from_json(ACTIVATION)
    assert activation.phone == "14155552671"
    assert activation.cancelable_after is None
    assert activation.report_status is None


def test_create_activation_posts_max_price_order_id_and_quality_factor(mock, api):
    expected = {"service_id": "7eleven", "country_id": "us", "max_price": 90, "order_id": "682b", "quality_factor": 10}
    mock.post(f"{BASE}/activation", json=ACTIVATION, match=[matchers.json_params_matcher(expected)])

    api.create_activation(service_id="7eleven", country_id="us", max_price=90, order_id="682b", quality_factor=10)

    assert len(mock.calls) == 1


def test_get_activation_parses_every_field_of_the_doc_example(mock, api):
    mock.get(f"{BASE}/activation/{AID}", json=ACTIVATION)

    activation = api.get_activation(AID)

    assert activation.activation_id == AID
    assert (activation.price, activation.expire_at, activation.updated_at, activation.created_at) == (
        20,
        1729088539,
        1729087939,
        1729087339,
    )
    assert (activation.sms_status, activation.activation_status, activation.billing_status) == (
        "smsRequested",
        "active",
        "reserved",
    )
    assert activation.is_retriable is False


@pytest.mark.parametrize(
    ("method", "verb"),
    [("retry_activation", "retry"), ("cancel_activation", "cancel"), ("finalize_activation", "finalize")],
)
def test_activation_actions_put_to_their_paths(mock, api, method, verb):
    mock.put(f"{BASE}/activation/{AID}/{verb}", json={"result": "success"})

    assert getattr(api, method)(AID) is None

    assert mock.calls[0].request.method == "PUT"


def test_an_action_answered_without_success_is_upstream_unavailable(mock, api):
    mock.put(f"{BASE}/activation/{AID}/cancel", json={"result": "maybe"})

    with pytest.raises(UpstreamUnavailable):
        api.cancel_activation(AID)


def test_activation_history_sends_page_and_limit(mock, api):
    mock.get(
        f"{BASE}/activation/history",
        json={"activations": [ACTIVATION], "page": 2, "limit": 5, "pages": 5, "total": 48},
        match=[matchers.query_param_matcher({"page": "2", "limit": "5"})],
    )

    page = api.activation_history(page=2, limit=5)

    assert (page.page, page.limit, page.pages, page.total) == (2, 5, 5, 48)
    assert page.activations[0].activation_id == AID


def test_get_price_parses_the_price_range(mock, api):
    mock.get(f"{BASE}/activation/prices/services/7eleven/countries/uk", json=PRICE)

    price = api.get_price(service_id="7eleven", country_id="uk")

    assert (price.min, price.max, price.suggested, price.quality_avg, price.count) == (210, 510, 310, 0.3, 143)
    assert (price.service_id, price.country_id) == ("7eleven", "uk")


def test_prices_by_country_fills_both_ids(mock, api):
    mock.get(
        f"{BASE}/activation/prices/countries",
        json=[{"country_id": "uk", "services": [{"service_id": "7eleven", **PRICE}]}],
        match=[matchers.query_param_matcher({"country_id": "uk"})],
    )

    [uk] = api.prices_by_country(country_id="uk")

    assert uk.country_id == "uk"
    assert (uk.services[0].service_id, uk.services[0].country_id, uk.services[0].suggested) == ("7eleven", "uk", 310)


def test_prices_by_service_fills_both_ids(mock, api):
    mock.get(
        f"{BASE}/activation/prices/services",
        json=[{"service_id": "7eleven", "countries": [{"country_id": "uk", **PRICE}]}],
        match=[matchers.query_param_matcher({})],
    )

    [seven] = api.prices_by_service()

    assert (seven.countries[0].service_id, seven.countries[0].country_id, seven.countries[0].count) == (
        "7eleven",
        "uk",
        143,
    )


def test_countries_returns_items_and_the_x_etag(mock, api):
    country = {"country_id": "uk", "name": "United Kingdom", "alt_name": "gb", "codes": ["44"]}
    mock.get(f"{BASE}/activation/countries", json=[country], headers={"x-etag": "2a7d00a6"})

    result = api.countries()

    assert result.items == (Country("uk", "United Kingdom", "gb", ("44",)),)
    assert (result.etag, result.not_modified) == ("2a7d00a6", False)


def test_countries_sends_if_none_match_and_handles_304(mock, api):
    mock.get(
        f"{BASE}/activation/countries",
        status=304,
        headers={"x-etag": "2a7d00a6"},
        match=[matchers.header_matcher({"If-None-Match": "2a7d00a6"})],
    )

    result = api.countries(etag="2a7d00a6")

    assert (result.items, result.etag, result.not_modified) == (None, "2a7d00a6", True)


def test_a_304_without_an_etag_header_keeps_the_etag_we_sent(mock, api):
    mock.get(f"{BASE}/activation/services", status=304)

    result = api.services(etag="abc")

    assert (result.not_modified, result.etag) == (True, "abc")


def test_services_parses_flags(mock, api):
    service = {"service_id": "7eleven", "name": "7-Eleven", "alt_name": "7-Eleven", "has_description": True}
    mock.get(f"{BASE}/activation/services", json=[service], headers={"ETag": '"e1"'})

    result = api.services()

    assert result.items == (Service("7eleven", "7-Eleven", "7-Eleven", True, False),)
    assert result.etag == '"e1"'


def test_popular_services_uses_the_popular_path_not_the_docs_curl(mock, api):
    mock.get(f"{BASE}/activation/services/popular", json=[{"service_id": "other", "name": "Other"}])

    result = api.popular_services()

    assert result.items[0].service_id == "other"


def test_balance_has_total_reserved_and_available(mock, api):
    mock.get(f"{BASE}/user/balance", json={"total": 2301, "reserved": 210})

    balance = api.balance()

    assert (balance.total, balance.reserved, balance.available) == (2301, 210, 2091)


def test_report_reasons_parses_the_list(mock, api):
    mock.get(
        f"{BASE}/activation/{AID}/report/reasons",
        json=[
            {"reason_id": 1, "reason_name": "SMS is not coming", "evidence_required": True},
            {"reason_id": 2, "reason_name": "Wrong SMS received", "evidence_required": False},
        ],
    )

    reasons = api.report_reasons(AID)

    assert [(r.reason_id, r.evidence_required) for r in reasons] == [(1, True), (2, False)]


def test_create_report_sends_evidence_base64_encoded(mock, api):
    evidence = b"\x89PNG fake screenshot"
    expected = {"reason_id": 4, "message": "2FA enabled here", "evidence": base64.b64encode(evidence).decode()}
    mock.post(
        f"{BASE}/activation/{AID}/report",
        json={"status": "accepted", "decline_id": None},
        match=[matchers.json_params_matcher(expected)],
    )

    result = api.create_report(AID, reason_id=4, message="2FA enabled here", evidence=evidence)

    assert result.accepted and result.decline_id is None


def test_get_report_keeps_the_snapshot_as_text(mock, api):
    mock.get(f"{BASE}/activation/{AID}/report", json=REPORT)

    report = api.get_report(AID)

    assert json.loads(report.activation_state_snapshot)["sms_status"] == "smsRequested"
    assert report.activation.activation_id == AID


def test_list_reports_parses_the_page(mock, api):
    mock.get(
        f"{BASE}/activation/reports",
        json={"reports": [REPORT], "page": 1, "limit": 10, "pages": 1, "total": 1},
        match=[matchers.query_param_matcher({"page": "1", "limit": "10"})],
    )

    page = api.list_reports()

    assert page.total == 1 and page.reports[0].reason_id == 1


def test_it_quotes_ids_in_paths_and_refuses_dot_segments(mock, api):
    mock.get(f"{BASE}/activation/a%2Fb", json=ACTIVATION)

    api.get_activation("a/b")
    with pytest.raises(ValueError):
        api.get_activation("..")

    assert mock.calls[0].request.url == f"{BASE}/activation/a%2Fb"


# --- error mapping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        (400, "BadRequestException", BadRequest),
        (422, "UnprocessableEntityException", BadRequest),
        (401, "UnauthorizedException", InvalidKey),
        (402, "PaymentRequiredException", PaymentRequired),
        (403, "ForbiddenException", AccountOnHold),
        (404, "NotFoundException", NotFound),
        (404, "NoNumbersAvailableException", NoNumbersAvailable),
        (400, "NoNumbersAvailableException", NoNumbersAvailable),
        (409, "InvalidActivationStateException", Conflict),
        (500, "InternalServerErrorException", UpstreamUnavailable),
        (503, "ServiceUnavailableException", UpstreamUnavailable),
    ],
)
def test_it_maps_error_responses(mock, api, status, name, expected):
    mock.post(f"{BASE}/activation", status=status, json=error(name, "upstream says no"))

    with pytest.raises(expected) as raised:
        api.create_activation(service_id="netflix", country_id="us")

    assert type(raised.value) is expected
    assert (raised.value.status, raised.value.error_name, raised.value.error_message) == (
        status,
        name,
        "upstream says no",
    )


def test_a_conflict_is_also_a_bad_request():
    assert issubclass(Conflict, BadRequest)


def test_only_rate_limits_and_unavailability_are_retryable():
    assert RateLimited.retryable and UpstreamUnavailable.retryable and BudgetExhausted.retryable
    assert not any(cls.retryable for cls in (BadRequest, InvalidKey, PaymentRequired, NotFound, NoNumbersAvailable))


@pytest.mark.parametrize(
    "body",
    [
        {"errorName": "MaxPriceExceededException", "errorMessage": "m", "suggestedPrice": 95, "order_id": "682b"},
        {"errorName": "MaxPriceExceededException", "errorMessage": "m", "suggested_price": 95, "orderId": "682b"},
        {
            "errorName": "MaxPriceExceededException",
            "errorMessage": "m",
            "data": {"suggestedPrice": 95, "orderId": "682b"},
        },
    ],
)
def test_it_reads_suggested_price_and_order_id_of_max_price_exceeded(mock, api, body):
    mock.post(f"{BASE}/activation", status=409, json=body)

    with pytest.raises(MaxPriceExceeded) as raised:
        api.create_activation(service_id="7eleven", country_id="us", max_price=90)

    assert (raised.value.suggested_price, raised.value.order_id) == (95, "682b")


def test_max_price_exceeded_without_an_order_id_still_carries_the_price(mock, api):
    mock.post(f"{BASE}/activation", status=409, json={**error("MaxPriceExceededException"), "suggestedPrice": 95})

    with pytest.raises(MaxPriceExceeded) as raised:
        api.create_activation(service_id="7eleven", country_id="us", max_price=90)

    assert (raised.value.suggested_price, raised.value.order_id) == (95, None)


def test_max_price_exceeded_without_a_suggested_price_is_garbage(mock, api):
    mock.post(f"{BASE}/activation", status=409, json=error("MaxPriceExceededException"))

    with pytest.raises(UpstreamUnavailable):
        api.create_activation(service_id="7eleven", country_id="us", max_price=90)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TooManyRequestsException", RateLimited),
        ("TooManyActivationsException", TooManyActivations),
        ("LowSuccessRateException", LowSuccessRate),
    ],
)
def test_429s_carry_retry_after_from_the_reset_header(mock, api, name, expected):
    mock.post(f"{BASE}/activation", status=429, json=error(name), headers={"x-ratelimit-reset": str(T0 + 42)})

    with pytest.raises(expected) as raised:
        api.create_activation(service_id="netflix", country_id="us")

    assert type(raised.value) is expected
    assert (raised.value.retry_after, raised.value.reset_at, raised.value.reason) == (42, T0 + 42, name)


def test_a_429_without_headers_waits_a_minute(mock, api):
    mock.get(f"{BASE}/user/balance", status=429, json=error("TooManyRequestsException"))

    with pytest.raises(RateLimited) as raised:
        api.balance()

    assert (raised.value.retry_after, raised.value.reset_at) == (60, None)


def test_every_429_is_counted_for_the_operators(mock, api):
    mock.get(f"{BASE}/user/balance", status=429, json=error("TooManyRequestsException"))
    mock.post(f"{BASE}/activation", status=429, json=error("LowSuccessRateException"))

    with pytest.raises(RateLimited):
        api.balance()
    with pytest.raises(LowSuccessRate):
        api.create_activation(service_id="netflix", country_id="us")

    assert (api.budget.rejections("balance"), api.budget.rejections("create_activation")) == (1, 1)


def test_a_small_reset_header_is_read_as_seconds_from_now(mock, api):
    mock.get(
        f"{BASE}/user/balance", status=429, json=error("TooManyRequestsException"), headers={"x-ratelimit-reset": "7"}
    )

    with pytest.raises(RateLimited) as raised:
        api.balance()

    assert (raised.value.retry_after, raised.value.reset_at) == (7, T0 + 7)


def test_a_bare_404_from_a_proxy_is_not_a_not_found(mock, api):
    mock.get(f"{BASE}/activation/{AID}", status=404, body="<html>Not Found</html>")

    with pytest.raises(UpstreamUnavailable):
        api.get_activation(AID)


def test_it_does_not_follow_redirects_with_the_api_key(mock, api):
    mock.get(f"{BASE}/user/balance", status=302, headers={"Location": "https://elsewhere.example/steal"})

    with pytest.raises(UpstreamUnavailable):
        api.balance()

    assert all("elsewhere" not in call.request.url for call in mock.calls)


def test_errors_never_carry_the_api_key(mock, api):
    mock.post(f"{BASE}/activation", status=401, json=error("UnauthorizedException", f"bad key {API_KEY}"))

    with pytest.raises(InvalidKey) as raised:
        api.create_activation(service_id="netflix", country_id="us")

    assert API_KEY not in str(raised.value)
    assert API_KEY not in repr(raised.value)
    assert API_KEY not in (raised.value.error_message or "")
    assert API_KEY not in repr(api)


# --- garbage and transport failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "<html>502 Bad Gateway</html>",
        json.dumps({"activation_id": AID}),
        json.dumps({**ACTIVATION, "price": "20"}),
        json.dumps({**ACTIVATION, "price": True}),
        json.dumps({**ACTIVATION, "sms_status": "smsTeleported"}),
        json.dumps({**ACTIVATION, "phone": None}),
        json.dumps([ACTIVATION]),
        "",
    ],
)
def test_a_garbage_body_is_upstream_unavailable_never_a_crash(mock, api, body):
    mock.post(f"{BASE}/activation", status=200, body=body)

    with pytest.raises(UpstreamUnavailable) as raised:
        api.create_activation(service_id="netflix", country_id="us")

    assert "malformed" in str(raised.value)


def test_integral_floats_are_accepted_as_integers(mock, api):
    mock.get(f"{BASE}/activation/{AID}", json={**ACTIVATION, "price": 20.0, "phone": 14155552671})

    activation = api.get_activation(AID)

    assert (activation.price, activation.phone) == (20, "14155552671")


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ConnectTimeout("slow"),
        requests.ConnectionError("refused"),
    ],
)
def test_timeouts_and_connection_errors_are_upstream_unavailable(mock, api, exc):
    mock.post(f"{BASE}/activation", body=exc)

    with pytest.raises(UpstreamUnavailable):
        api.create_activation(service_id="netflix", country_id="us")


# --- retries ------------------------------------------------------------------------------------------


def test_it_retries_a_get_on_upstream_unavailable_with_backoff(mock, api, sleeps):
    mock.get(f"{BASE}/activation/{AID}", status=502, body="bad gateway")
    mock.get(f"{BASE}/activation/{AID}", body=requests.exceptions.ReadTimeout("slow"))
    mock.get(f"{BASE}/activation/{AID}", json=ACTIVATION)

    activation = api.get_activation(AID)

    assert activation.activation_id == AID
    assert len(mock.calls) == 3
    assert sleeps == [0.1, 0.2]


def test_it_gives_up_after_max_retries(mock, clock, sleeps):
    api = PlatfoneClient(base_url=BASE, api_key=API_KEY, cache=MemoryCache(), clock=clock, sleep=sleeps, max_retries=1)
    mock.get(f"{BASE}/user/balance", status=500, json=error("InternalServerErrorException"))

    with pytest.raises(UpstreamUnavailable):
        api.balance()

    assert len(mock.calls) == 2


def test_it_retries_a_get_answered_with_garbage(mock, api):
    mock.get(f"{BASE}/user/balance", body="not json")
    mock.get(f"{BASE}/user/balance", json={"total": 5, "reserved": 0})

    assert api.balance().total == 5
    assert len(mock.calls) == 2


def test_it_never_resends_a_post(mock, api, sleeps):
    mock.post(f"{BASE}/activation", body=requests.exceptions.ReadTimeout("slow"))

    with pytest.raises(UpstreamUnavailable):
        api.create_activation(service_id="netflix", country_id="us")

    assert len(mock.calls) == 1
    assert sleeps == []


def test_it_never_resends_a_put(mock, api):
    mock.put(f"{BASE}/activation/{AID}/cancel", status=500, json=error("InternalServerErrorException"))

    with pytest.raises(UpstreamUnavailable):
        api.cancel_activation(AID)

    assert len(mock.calls) == 1


def test_it_does_not_retry_a_permanent_error(mock, api):
    mock.get(f"{BASE}/activation/{AID}", status=404, json=error("NotFoundException"))

    with pytest.raises(NotFound):
        api.get_activation(AID)

    assert len(mock.calls) == 1


# --- request budget -----------------------------------------------------------------------------------


def budgeted(clock, cache=None, **limits):
    return PlatfoneClient(
        base_url=BASE,
        api_key=API_KEY,
        cache=cache or MemoryCache(),
        clock=clock,
        sleep=lambda s: None,
        budget_safety=1.0,
        budget_limits=limits,
    )


def test_budget_exhaustion_makes_no_network_call(mock, clock):
    # given
    clock.now = T0 - T0 % 60 + 10  # 50 s before the next window
    api = budgeted(clock, get_activation=2)
    mock.get(f"{BASE}/activation/{AID}", json=ACTIVATION)
    api.get_activation(AID)
    api.get_activation(AID)

    # when
    with pytest.raises(BudgetExhausted) as raised:
        api.get_activation(AID)

    # then
    assert len(mock.calls) == 2
    assert raised.value.retry_after == 50
    assert isinstance(raised.value, RateLimited) and raised.value.reason == "budget"


def test_the_budget_refills_in_the_next_minute(mock, clock):
    api = budgeted(clock, get_activation=1)
    mock.get(f"{BASE}/activation/{AID}", json=ACTIVATION)
    api.get_activation(AID)

    clock.advance(60)
    api.get_activation(AID)

    assert len(mock.calls) == 2


def test_retries_spend_budget_and_surface_the_upstream_failure(mock, clock):
    api = budgeted(clock, balance=2)
    mock.get(f"{BASE}/user/balance", status=503, json=error("ServiceUnavailableException"))

    with pytest.raises(UpstreamUnavailable):
        api.balance()

    assert len(mock.calls) == 2
    assert api.budget_remaining("balance") == 0


def test_remaining_and_allows_do_not_spend(mock, clock):
    api = budgeted(clock, get_price=3)

    assert api.budget_remaining("get_price") == 3
    assert api.budget_allows("get_price", 3)
    assert not api.budget_allows("get_price", 4)
    assert api.budget_remaining("get_price") == 3


def test_the_safety_fraction_lowers_the_documented_limits(clock):
    api = PlatfoneClient(base_url=BASE, api_key=API_KEY, cache=MemoryCache(), clock=clock)

    assert api.budget_remaining("activation_history") == 5  # 6/min x 0.9
    assert api.budget_remaining("get_activation") == 270  # 300/min x 0.9
    assert api.budget_remaining("finalize_activation") == 54  # undocumented: 60/min x 0.9


def test_processes_sharing_a_cache_share_one_budget_per_account(mock, clock):
    # given two "processes" of the same account and one of another account, on one shared cache
    cache = MemoryCache()
    first, second = budgeted(clock, cache, balance=2), budgeted(clock, cache, balance=2)
    other = PlatfoneClient(
        base_url=BASE, api_key="another-key", cache=cache, clock=clock, budget_safety=1.0, budget_limits={"balance": 2}
    )
    mock.get(f"{BASE}/user/balance", json={"total": 1, "reserved": 0})

    # when
    first.balance()
    second.balance()

    # then
    with pytest.raises(BudgetExhausted):
        first.balance()
    assert other.balance().total == 1


def test_budget_cache_keys_never_contain_the_api_key(mock, clock):
    cache = MemoryCache()
    api = budgeted(clock, cache)
    mock.get(f"{BASE}/user/balance", json={"total": 1, "reserved": 0})

    api.balance()

    assert cache._data
    assert all(API_KEY not in key for key in cache._data)


def test_an_upstream_429_closes_the_method_until_the_reset(mock, clock):
    # given the upstream rate-limits us, 30 s into a minute, until the end of the next minute
    clock.now = T0 - T0 % 60 + 30
    api = budgeted(clock, get_activation=100)
    reset = int(clock.now) + 90
    mock.get(
        f"{BASE}/activation/{AID}",
        status=429,
        json=error("TooManyRequestsException"),
        headers={"x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(RateLimited):
        api.get_activation(AID)

    # when / then: no further call reaches the upstream before the reset, other methods are unaffected
    with pytest.raises(BudgetExhausted):
        api.get_activation(AID)
    clock.advance(60)
    with pytest.raises(BudgetExhausted):
        api.get_activation(AID)
    assert api.budget_allows("balance")
    assert len(mock.calls) == 1
    clock.advance(30)
    assert api.budget_allows("get_activation")


def test_budget_can_be_disabled(mock, clock):
    api = PlatfoneClient(base_url=BASE, api_key=API_KEY, budget=False, clock=clock)

    assert api.budget_remaining("balance") is None
    assert api.budget_allows("balance", 10_000)


def test_an_unknown_method_name_is_a_programming_error(clock):
    api = budgeted(clock)

    with pytest.raises(ValueError):
        api.budget_remaining("nonexistent")


def test_platfone_errors_share_one_base():
    for cls in (BadRequest, InvalidKey, PaymentRequired, AccountOnHold, NotFound, NoNumbersAvailable, MaxPriceExceeded):
        assert issubclass(cls, PlatfoneError)
    for cls in (TooManyActivations, LowSuccessRate, BudgetExhausted):
        assert issubclass(cls, RateLimited)


# --- activation helpers -------------------------------------------------------------------------------


def test_an_active_activation_past_expire_at_counts_as_expired():
    activation = Activation.from_json(ACTIVATION)

    assert not activation.is_expired(ACTIVATION["expire_at"] - 1)
    assert activation.is_expired(ACTIVATION["expire_at"])


def test_can_cancel_follows_the_docs_preconditions():
    never = Activation.from_json(ACTIVATION)
    later = Activation.from_json({**ACTIVATION, "cancelable_after": ACTIVATION["created_at"] + 60})
    received = Activation.from_json({**ACTIVATION, "cancelable_after": 0, "sms_status": "smsReceived"})

    assert not never.can_cancel(ACTIVATION["created_at"] + 100)
    assert not later.can_cancel(ACTIVATION["created_at"] + 59)
    assert later.can_cancel(ACTIVATION["created_at"] + 60)
    assert not later.can_cancel(ACTIVATION["expire_at"])
    assert not received.can_cancel(ACTIVATION["created_at"] + 100)
