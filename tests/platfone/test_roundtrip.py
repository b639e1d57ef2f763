"""PlatfoneClient against the in-process emulator: every method, every error, every fault kind."""

from __future__ import annotations

import pytest

from platfone.errors import (
    AccountOnHold,
    BudgetExhausted,
    Conflict,
    InvalidKey,
    LowSuccessRate,
    MaxPriceExceeded,
    NoNumbersAvailable,
    NotFound,
    PaymentRequired,
    RateLimited,
    TooManyActivations,
    UpstreamUnavailable,
)
from platfone.types import Country, Service

from .conftest import API_KEY


@pytest.fixture
def ordered(client):
    return client.create_activation(service_id="whatsapp", country_id="uk")


# --- every method ---------------------------------------------------------------------------------------


def test_the_full_activation_lifecycle(client, emulator):
    # given
    activation = client.create_activation(service_id="whatsapp", country_id="uk")
    assert client.balance().reserved == activation.price

    # when
    emulator.deliver_sms(activation.activation_id, code="1111")
    received = client.get_activation(activation.activation_id)
    client.retry_activation(activation.activation_id)
    emulator.deliver_sms(activation.activation_id, code="2222")
    retried = client.get_activation(activation.activation_id)
    client.finalize_activation(activation.activation_id)

    # then
    assert (received.sms_status, received.billing_status, received.sms_code) == ("smsReceived", "billed", "1111")
    assert (retried.sms_status, retried.sms_code) == ("retryReceived", "2222")
    final = client.get_activation(activation.activation_id)
    assert final.activation_status == "finalized"
    assert client.balance().total == 10_000 - activation.price


def test_cancel_releases_through_the_client(client, ordered):
    client.cancel_activation(ordered.activation_id)

    canceled = client.get_activation(ordered.activation_id)
    assert (canceled.activation_status, canceled.billing_status) == ("canceled", "released")
    assert client.balance().available == 10_000


def test_history_pages(client):
    ids = [client.create_activation(service_id="other", country_id="id").activation_id for _ in range(3)]

    page = client.activation_history(page=1, limit=2)

    assert [a.activation_id for a in page.activations] == ids[::-1][:2]
    assert (page.pages, page.total) == (2, 3)


def test_prices(client):
    price = client.get_price(service_id="whatsapp", country_id="uk")
    by_country = client.prices_by_country(country_id="uk")
    by_service = client.prices_by_service(service_id="whatsapp")

    [uk] = by_country
    [whatsapp] = by_service
    assert price.min <= price.suggested <= price.max and price.count > 0
    assert next(p for p in uk.services if p.service_id == "whatsapp") == price
    assert next(p for p in whatsapp.countries if p.country_id == "uk") == price
    assert len(client.prices_by_country()) >= 30


def test_catalog_with_etags_costs_one_call_each_and_304s_after(client, emulator):
    # given
    countries, services, popular = client.countries(), client.services(), client.popular_services()

    # when
    again = [
        client.countries(etag=countries.etag),
        client.services(etag=services.etag),
        client.popular_services(etag=popular.etag),
    ]

    # then
    assert isinstance(countries.items[0], Country) and isinstance(services.items[0], Service)
    assert len(popular.items) < len(services.items)
    assert all(r.not_modified and r.items is None for r in again)
    assert [r.etag for r in again] == [countries.etag, services.etag, popular.etag]
    assert emulator.request_counts() == {"countries": 2, "services": 2, "popular_services": 2}


def test_reports(client, emulator, ordered):
    # given
    emulator.deliver_sms(ordered.activation_id)
    reasons = client.report_reasons(ordered.activation_id)
    reason = next(r for r in reasons if r.evidence_required)

    # when
    result = client.create_report(ordered.activation_id, reason_id=reason.reason_id, message="used", evidence=b"png")
    emulator.decide_report(ordered.activation_id, approve=True)

    # then
    assert result.accepted
    report = client.get_report(ordered.activation_id)
    assert (report.reason_id, report.message) == (reason.reason_id, "used")
    assert (report.activation.report_status, report.activation.billing_status) == ("approved", "refunded")
    listed = client.list_reports(page=1, limit=10)
    assert listed.total == 1 and listed.reports[0].activation.activation_id == ordered.activation_id
    assert client.balance().total == 10_000


# --- upstream errors as typed exceptions ----------------------------------------------------------------


def test_max_price_exceeded_and_continuing_with_the_order_id(client):
    with pytest.raises(MaxPriceExceeded) as raised:
        client.create_activation(service_id="whatsapp", country_id="uk", max_price=1)

    activation = client.create_activation(
        service_id="whatsapp", country_id="uk", max_price=raised.value.suggested_price, order_id=raised.value.order_id
    )

    assert activation.price == raised.value.suggested_price


def test_no_numbers_available(client):
    with pytest.raises(NoNumbersAvailable):
        client.create_activation(service_id="whatsapp", country_id="us_v")


def test_payment_required(client, emulator):
    emulator.set_balance(API_KEY, 1)

    with pytest.raises(PaymentRequired):
        client.create_activation(service_id="whatsapp", country_id="uk")


def test_too_many_activations(client, emulator):
    emulator.configure(max_active=1)
    client.create_activation(service_id="other", country_id="id")

    with pytest.raises(TooManyActivations) as raised:
        client.create_activation(service_id="other", country_id="id")

    assert raised.value.retry_after == 60


def test_low_success_rate(client, emulator):
    for _ in range(10):
        emulator.expire_activation(client.create_activation(service_id="other", country_id="id").activation_id)

    with pytest.raises(LowSuccessRate) as raised:
        client.create_activation(service_id="other", country_id="id")

    assert raised.value.retry_after == 24 * 3600


def test_invalid_key(make_client):
    with pytest.raises(InvalidKey):
        make_client(api_key="wrong-key").balance()


def test_not_found_for_another_accounts_activation(client, make_client):
    from .conftest import OTHER_KEY

    aid = client.create_activation(service_id="whatsapp", country_id="uk").activation_id

    with pytest.raises(NotFound):
        make_client(api_key=OTHER_KEY).get_activation(aid)


def test_state_conflicts(client, emulator, ordered):
    emulator.deliver_sms(ordered.activation_id)

    with pytest.raises(Conflict):
        client.cancel_activation(ordered.activation_id)


def test_the_upstream_rate_limit_and_our_budget(make_client, emulator):
    # given: without a budget, the 7th history call in a minute reaches the emulator and is refused
    unbudgeted = make_client(budget=False)
    for _ in range(6):
        unbudgeted.activation_history()
    with pytest.raises(RateLimited):
        unbudgeted.activation_history()
    emulator.reset()

    # when: with the budget (6 x 0.9 = 5 per minute) the 6th call never leaves the process
    budgeted = make_client()
    for _ in range(5):
        budgeted.activation_history()
    with pytest.raises(BudgetExhausted):
        budgeted.activation_history()

    # then
    assert emulator.request_count("activation_history") == 5


# --- fault injection ------------------------------------------------------------------------------------


def test_a_timeout_on_a_get_is_retried(client, emulator, sleeps):
    emulator.add_fault(kind="timeout", endpoint="balance", count=1)

    assert client.balance().total == 10_000
    assert emulator.request_count("balance") == 2
    assert sleeps == [0.1]


def test_a_timeout_after_the_order_leaves_an_activation_to_reconcile(client, emulator):
    # given the response of a create is lost after the upstream executed it
    emulator.add_fault(kind="timeout", endpoint="create_activation", when="after")

    # when
    with pytest.raises(UpstreamUnavailable):
        client.create_activation(service_id="whatsapp", country_id="uk")

    # then: it was sent once, and history shows the order
    assert emulator.request_count("create_activation") == 1
    assert client.activation_history().total == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "timeout"},
        {"kind": "error"},
        {"kind": "error", "status": 503},
        {"kind": "garbage"},
        {"kind": "garbage", "variant": "json"},
    ],
)
def test_each_fault_kind_surfaces_as_upstream_unavailable(client, emulator, fault):
    emulator.add_fault(**fault, endpoint="get_activation", count=3)
    aid = client.create_activation(service_id="whatsapp", country_id="uk").activation_id

    with pytest.raises(UpstreamUnavailable):
        client.get_activation(aid)

    assert emulator.request_count("get_activation") == 3  # the first try and two retries


@pytest.mark.parametrize("fault", [{"kind": "timeout"}, {"kind": "error"}, {"kind": "garbage"}])
def test_faults_on_writes_are_not_retried(client, emulator, fault):
    emulator.add_fault(**fault, endpoint="create_activation")

    with pytest.raises(UpstreamUnavailable):
        client.create_activation(service_id="whatsapp", country_id="uk")

    assert emulator.request_count("create_activation") == 1


def test_a_ratelimit_fault_is_rate_limited_and_closes_the_budget(client, emulator, clock):
    emulator.add_fault(kind="ratelimit", endpoint="balance", retry_after=30)

    with pytest.raises(RateLimited) as raised:
        client.balance()
    with pytest.raises(BudgetExhausted):
        client.balance()

    assert raised.value.retry_after == 30 and type(raised.value) is RateLimited
    assert emulator.request_count("balance") == 1


def test_an_error_fault_with_a_custom_status_maps_like_the_real_one(client, emulator):
    emulator.add_fault(kind="error", status=403, error_name="AccountOnHoldException", endpoint="*")

    with pytest.raises(AccountOnHold):
        client.balance()


def test_fractional_faults_are_seeded_and_reproducible(make_client, emulator):
    def outcomes():
        emulator.reset()
        emulator.add_fault(kind="error", endpoint="get_price", probability=0.5, seed=7)
        client = make_client(max_retries=0, budget=False)
        results = []
        for _ in range(20):
            try:
                client.get_price(service_id="whatsapp", country_id="uk")
                results.append("ok")
            except UpstreamUnavailable:
                results.append("fail")
        return results

    first, second = outcomes(), outcomes()

    assert first == second and 0 < first.count("fail") < 20


def test_latency_is_applied_per_call(client, emulator, sleeps):
    emulator.configure(latency_ms=25)

    client.balance()

    assert sleeps == [0.025]
