"""The emulator's state machine, checked against the doc's rules and examples."""

from __future__ import annotations

import base64
import json
import re
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platfone.emulator import Emulator, EmulatorError
from platfone.emulator.catalog import COUNTRIES, COUNTRIES_BY_ID, OUT_OF_STOCK, SERVICES, SERVICES_BY_ID, seeded_price
from platfone.emulator.delivery import DeliveryWorker
from platfone.webhooks import parse_event, verify

from .conftest import API_KEY, OTHER_KEY, FakeClock


def order(emulator, service_id="whatsapp", country_id="uk", key=API_KEY, **kwargs):
    return emulator.create_activation(key, service_id=service_id, country_id=country_id, **kwargs)


def balance(emulator, key=API_KEY):
    return emulator.balance(key)


def fails(status, error_name):
    """pytest.raises for an EmulatorError with this status and errorName."""

    class Matcher:
        def __enter__(self):
            self.ctx = pytest.raises(EmulatorError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            result = self.ctx.__exit__(*exc)
            assert (self.info.value.status, self.info.value.error_name) == (status, error_name), self.info.value
            return result

    return Matcher()


# --- catalog --------------------------------------------------------------------------------------------


def test_the_catalog_is_big_enough_and_has_the_doc_examples():
    service_ids = {s.service_id for s in SERVICES}
    country_ids = {c.country_id for c in COUNTRIES}

    assert len(service_ids) >= 40 and len(country_ids) >= 30
    assert {"whatsapp", "telegram", "7eleven", "netflix", "other"} <= service_ids
    assert {"us", "uk", "us_v"} <= country_ids


def test_prices_are_deterministic_and_ordered():
    for service in SERVICES[:10]:
        for country in COUNTRIES[:10]:
            info = seeded_price(service, country)
            assert info == seeded_price(service, country)
            assert 1 <= info.min <= info.suggested < info.max
            assert 0 < info.quality_avg <= 1


def test_etags_are_stable_and_304_friendly(emulator):
    items, etag = emulator.countries(API_KEY)
    again, same = emulator.countries(API_KEY)

    assert items == again and etag == same and re.fullmatch(r"[0-9a-f]{40}", etag)
    assert emulator.services(API_KEY)[1] != etag
    assert all(s["service_id"] != "" for s in emulator.popular_services(API_KEY)[0])


# --- ordering -------------------------------------------------------------------------------------------


def test_it_creates_an_activation_shaped_like_the_doc(emulator, clock):
    activation = order(emulator, "netflix", "us")

    assert re.fullmatch(r"[0-9a-f]{24}", activation["activation_id"])
    assert re.fullmatch(r"1\d{10}", activation["phone"])  # digits, no "+"
    assert (activation["sms_status"], activation["activation_status"], activation["billing_status"]) == (
        "smsRequested",
        "active",
        "reserved",
    )
    assert activation["report_status"] is None and activation["sms_code"] is None and activation["sms_text"] is None
    assert activation["created_at"] == int(clock.now)
    assert activation["expire_at"] == activation["created_at"] + 1200
    assert activation["cancelable_after"] == activation["created_at"]
    assert activation["is_retriable"] is False  # netflix, as in the doc's example
    assert set(activation) == {
        "activation_id", "price", "phone", "country_id", "service_id", "sms_status", "activation_status",
        "billing_status", "report_status", "sms_code", "sms_text", "expire_at", "updated_at", "created_at",
        "is_retriable", "cancelable_after",
    }  # fmt: skip


def test_it_reserves_the_price_on_create(emulator):
    activation = order(emulator)

    assert balance(emulator) == {"total": 10_000, "reserved": activation["price"]}


def test_it_refuses_an_order_the_balance_cannot_cover(emulator):
    emulator.set_balance(API_KEY, 10)

    with fails(402, "PaymentRequiredException"):
        order(emulator)


def test_reservations_count_against_the_available_balance(emulator):
    # given a balance that covers exactly one order
    price = seeded_price(SERVICES[0], COUNTRIES[2]).suggested
    emulator.set_balance(API_KEY, price)
    order(emulator, SERVICES[0].service_id, COUNTRIES[2].country_id)

    # when / then
    with fails(402, "PaymentRequiredException"):
        order(emulator, SERVICES[0].service_id, COUNTRIES[2].country_id)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"service_id": "nope"},
        {"country_id": "zz"},
        {"service_id": ""},
        {"country_id": "x"},
        {"max_price": 0},
        {"max_price": 10_001},
        {"max_price": "90"},
        {"quality_factor": 101},
        {"quality_factor": True},
        {"order_id": "unknown-order"},
    ],
)
def test_it_validates_the_order(emulator, kwargs):
    with fails(400, "BadRequestException"):
        order(emulator, **{"service_id": "whatsapp", "country_id": "uk", **kwargs})


def test_it_has_no_numbers_for_out_of_stock_pairs(emulator):
    service_id, country_id = sorted(OUT_OF_STOCK)[0]

    with fails(404, "NoNumbersAvailableException"):
        order(emulator, service_id, country_id)
    assert balance(emulator)["reserved"] == 0


def test_max_price_below_the_price_answers_409_with_suggested_price_and_order_id(emulator):
    # given
    price = seeded_price(SERVICES[0], COUNTRIES[2]).suggested

    # when
    with fails(409, "MaxPriceExceededException") as raised:
        order(emulator, max_price=price - 1)

    # then
    assert raised.value.extra["suggestedPrice"] == price
    assert re.fullmatch(r"[0-9a-f]{24}", raised.value.extra["order_id"])
    assert balance(emulator)["reserved"] == 0


def test_the_order_id_continues_the_attempt_at_the_suggested_price(emulator):
    # given a 409 and a price rise after it
    with pytest.raises(EmulatorError) as raised:
        order(emulator, max_price=1)
    suggested, order_id = raised.value.extra["suggestedPrice"], raised.value.extra["order_id"]
    emulator.set_price("whatsapp", "uk", min=suggested, max=suggested * 3, suggested=suggested * 2, count=5)

    # when
    activation = order(emulator, max_price=suggested, order_id=order_id)

    # then
    assert activation["price"] == suggested
    with fails(400, "BadRequestException"):
        order(emulator, max_price=suggested, order_id=order_id)  # used up


def test_an_order_id_only_works_for_its_own_key_and_pair(emulator):
    with pytest.raises(EmulatorError) as raised:
        order(emulator, max_price=1)
    order_id = raised.value.extra["order_id"]

    with fails(400, "BadRequestException"):
        order(emulator, key=OTHER_KEY, max_price=10_000, order_id=order_id)
    with fails(400, "BadRequestException"):
        order(emulator, country_id="us", max_price=10_000, order_id=order_id)


def test_a_too_low_max_price_with_an_order_id_answers_the_same_order(emulator):
    with pytest.raises(EmulatorError) as raised:
        order(emulator, max_price=1)
    order_id = raised.value.extra["order_id"]

    with fails(409, "MaxPriceExceededException") as again:
        order(emulator, max_price=2, order_id=order_id)

    assert again.value.extra["order_id"] == order_id


def test_quality_factor_moves_the_price_between_min_and_max(emulator):
    info = seeded_price(SERVICES[0], COUNTRIES[2])

    cheap = order(emulator, quality_factor=0)
    best = order(emulator, quality_factor=100)

    assert (cheap["price"], best["price"]) == (info.min, info.max)


def test_it_allows_at_most_20_active_activations(emulator):
    # given
    activations = [order(emulator, "other", "id") for _ in range(20)]

    # when / then
    with fails(429, "TooManyActivationsException") as raised:
        order(emulator, "other", "id")
    assert int(raised.value.headers["x-ratelimit-reset"]) > 0
    emulator.cancel_activation(API_KEY, activations[0]["activation_id"])
    order(emulator, "other", "id")
    order(emulator, "other", "id", key=OTHER_KEY)  # the limit is per account


def test_concurrent_orders_respect_the_active_limit_and_the_balance(emulator):
    # given 8 threads ordering 5 numbers each
    results, errors = [], []

    def worker():
        for _ in range(5):
            try:
                results.append(order(emulator, "other", "id"))
            except EmulatorError as exc:
                errors.append(exc.error_name)

    # when
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then
    assert len(results) == 20 and set(errors) == {"TooManyActivationsException"}
    assert balance(emulator)["reserved"] == sum(a["price"] for a in results)
    assert len({a["activation_id"] for a in results}) == 20


# --- SMS, billing, retry, finalize ----------------------------------------------------------------------


def test_it_bills_on_first_sms(emulator):
    activation = order(emulator)

    received = emulator.deliver_sms(activation["activation_id"], code="6363", text="Your code is 6363")

    assert (received["sms_status"], received["billing_status"]) == ("smsReceived", "billed")
    assert (received["sms_code"], received["sms_text"]) == ("6363", "Your code is 6363")
    assert balance(emulator) == {"total": 10_000 - activation["price"], "reserved": 0}


def test_a_retry_sms_is_free_and_overwrites_code_and_text(emulator):
    # given
    activation = order(emulator)
    aid = activation["activation_id"]
    emulator.deliver_sms(aid, code="1111")

    # when
    assert emulator.retry_activation(API_KEY, aid) == {"result": "success"}
    retried = emulator.get_activation(API_KEY, aid)
    received = emulator.deliver_sms(aid, code="2222", text="second")

    # then
    assert retried["sms_status"] == "retryRequested"
    assert (received["sms_status"], received["sms_code"], received["sms_text"]) == ("retryReceived", "2222", "second")
    assert balance(emulator)["total"] == 10_000 - activation["price"]
    emulator.retry_activation(API_KEY, aid)  # retry again from retryReceived


def test_an_sms_nobody_asked_for_is_refused(emulator):
    aid = order(emulator)["activation_id"]
    emulator.deliver_sms(aid)

    with fails(409, "InvalidActivationStateException"):
        emulator.deliver_sms(aid)


@pytest.mark.parametrize("state", ["no_sms", "not_retriable", "finalized", "expired", "retry_requested"])
def test_retry_needs_an_sms_an_active_activation_and_is_retriable(emulator, state):
    # given
    service_id = "netflix" if state == "not_retriable" else "whatsapp"
    aid = order(emulator, service_id, "uk")["activation_id"]
    if state != "no_sms":
        emulator.deliver_sms(aid)
    if state == "finalized":
        emulator.finalize_activation(API_KEY, aid)
    if state == "expired":
        emulator.expire_activation(aid)
    if state == "retry_requested":
        emulator.retry_activation(API_KEY, aid)

    # when / then
    with fails(409, "InvalidActivationStateException"):
        emulator.retry_activation(API_KEY, aid)


def test_finalize_needs_a_billed_active_activation_with_an_sms(emulator):
    aid = order(emulator)["activation_id"]
    with fails(409, "InvalidActivationStateException"):
        emulator.finalize_activation(API_KEY, aid)

    emulator.deliver_sms(aid)
    emulator.retry_activation(API_KEY, aid)
    emulator.finalize_activation(API_KEY, aid)  # retryRequested may be finalized

    finalized = emulator.get_activation(API_KEY, aid)
    assert (finalized["activation_status"], finalized["billing_status"]) == ("finalized", "billed")
    with fails(409, "InvalidActivationStateException"):
        emulator.finalize_activation(API_KEY, aid)


def test_finalized_activations_free_an_active_slot(emulator):
    activations = [order(emulator, "other", "id") for _ in range(20)]
    emulator.deliver_sms(activations[0]["activation_id"])

    emulator.finalize_activation(API_KEY, activations[0]["activation_id"])

    order(emulator, "other", "id")


# --- cancel and expiry ----------------------------------------------------------------------------------


def test_cancel_releases_the_reservation(emulator):
    aid = order(emulator)["activation_id"]

    emulator.cancel_activation(API_KEY, aid)

    canceled = emulator.get_activation(API_KEY, aid)
    assert (canceled["activation_status"], canceled["billing_status"]) == ("canceled", "released")
    assert balance(emulator) == {"total": 10_000, "reserved": 0}


def test_cancel_is_refused_after_an_sms(emulator):
    aid = order(emulator)["activation_id"]
    emulator.deliver_sms(aid)

    with fails(409, "InvalidActivationStateException"):
        emulator.cancel_activation(API_KEY, aid)


def test_cancel_waits_for_cancelable_after(emulator, clock):
    emulator.configure(cancel_delay=120)
    activation = order(emulator)
    assert activation["cancelable_after"] == activation["created_at"] + 120

    with fails(409, "InvalidActivationStateException"):
        emulator.cancel_activation(API_KEY, activation["activation_id"])
    clock.advance(120)
    emulator.cancel_activation(API_KEY, activation["activation_id"])


def test_virtual_numbers_are_never_cancelable(emulator):
    activation = order(emulator, "viber", "us_v")

    assert activation["cancelable_after"] is None
    with fails(409, "InvalidActivationStateException"):
        emulator.cancel_activation(API_KEY, activation["activation_id"])


def test_it_expires_lazily_and_releases_an_unbilled_reservation(emulator, clock):
    # given
    activation = order(emulator)
    clock.advance(1199)
    assert emulator.get_activation(API_KEY, activation["activation_id"])["activation_status"] == "active"

    # when
    clock.advance(1)
    expired = emulator.get_activation(API_KEY, activation["activation_id"])

    # then
    assert (expired["activation_status"], expired["billing_status"]) == ("expired", "released")
    assert expired["updated_at"] >= activation["expire_at"]
    assert balance(emulator) == {"total": 10_000, "reserved": 0}


def test_an_expired_activation_that_got_an_sms_stays_billed(emulator, clock):
    activation = order(emulator)
    emulator.deliver_sms(activation["activation_id"])

    clock.advance(1200)

    expired = emulator.get_activation(API_KEY, activation["activation_id"])
    assert (expired["activation_status"], expired["billing_status"]) == ("expired", "billed")
    assert balance(emulator)["total"] == 10_000 - activation["price"]


def test_expire_now_and_clock_offset(emulator):
    activation = order(emulator)

    assert emulator.expire_activation(activation["activation_id"])["activation_status"] == "expired"
    second = order(emulator)
    emulator.advance_clock(1200)
    assert emulator.get_activation(API_KEY, second["activation_id"])["activation_status"] == "expired"


def test_updated_at_moves_on_every_change(emulator):
    aid = order(emulator)["activation_id"]
    stamps = [emulator.get_activation(API_KEY, aid)["updated_at"]]

    for change in (
        lambda: emulator.deliver_sms(aid),
        lambda: emulator.retry_activation(API_KEY, aid),
        lambda: emulator.deliver_sms(aid),
        lambda: emulator.finalize_activation(API_KEY, aid),
    ):
        change()
        stamps.append(emulator.get_activation(API_KEY, aid)["updated_at"])

    assert stamps == sorted(set(stamps))


def test_another_accounts_activation_is_not_found(emulator):
    aid = order(emulator)["activation_id"]

    with fails(404, "NotFoundException"):
        emulator.get_activation(OTHER_KEY, aid)
    with fails(404, "NotFoundException"):
        emulator.cancel_activation(OTHER_KEY, aid)


def test_an_unknown_key_is_unauthorized(emulator):
    with fails(401, "UnauthorizedException"):
        emulator.balance("not-a-key")


# --- history --------------------------------------------------------------------------------------------


def test_history_is_paginated_newest_first(emulator):
    ids = [order(emulator, "other", "id")["activation_id"] for _ in range(12)]

    first = emulator.activation_history(API_KEY, page=1, limit=5)
    last = emulator.activation_history(API_KEY, page="3", limit="5")

    assert [a["activation_id"] for a in first["activations"]] == ids[::-1][:5]
    assert (first["page"], first["limit"], first["pages"], first["total"]) == (1, 5, 3, 12)
    assert [a["activation_id"] for a in last["activations"]] == ids[::-1][10:]
    assert emulator.activation_history(OTHER_KEY)["total"] == 0


@pytest.mark.parametrize(("page", "limit"), [(0, 10), (1, 0), (1, 51), ("x", 10)])
def test_history_validates_page_and_limit(emulator, page, limit):
    with fails(400, "BadRequestException"):
        emulator.activation_history(API_KEY, page=page, limit=limit)


# --- success rate ---------------------------------------------------------------------------------------


def expire_orders(emulator, count):
    for _ in range(count):
        emulator.expire_activation(order(emulator, "other", "id")["activation_id"])


def test_a_success_rate_below_7_percent_blocks_the_account_for_24_hours(emulator, clock):
    # given 10 numbers ordered that never got an SMS
    expire_orders(emulator, 10)

    # when
    with fails(429, "LowSuccessRateException") as raised:
        order(emulator, "other", "id")

    # then
    assert int(raised.value.headers["x-ratelimit-reset"]) == int(clock.now) + 24 * 3600
    clock.advance(24 * 3600 - 1)
    with fails(429, "LowSuccessRateException"):
        order(emulator, "other", "id")
    clock.advance(1)
    order(emulator, "other", "id")


def test_one_success_in_ten_keeps_the_account_open(emulator):
    emulator.deliver_sms(order(emulator, "other", "id")["activation_id"])
    expire_orders(emulator, 9)

    order(emulator, "other", "id")


def test_pending_orders_do_not_count_as_failures(emulator):
    for _ in range(15):
        order(emulator, "other", "id")

    order(emulator, "other", "id")


def test_the_success_rate_block_can_be_switched_off_and_lifted(emulator):
    expire_orders(emulator, 10)
    with fails(429, "LowSuccessRateException"):
        order(emulator, "other", "id")

    emulator.unblock(API_KEY)
    order(emulator, "other", "id")
    emulator.configure(success_rate_block=False)
    expire_orders(emulator, 20)


# --- reports --------------------------------------------------------------------------------------------


def test_report_reasons_depend_on_whether_an_sms_arrived(emulator):
    aid = order(emulator)["activation_id"]
    before = [r["reason_id"] for r in emulator.report_reasons(API_KEY, aid)]

    emulator.deliver_sms(aid)
    after = emulator.report_reasons(API_KEY, aid)

    assert before == [1, 7]
    assert [r["reason_id"] for r in after] == [2, 3, 4, 5, 6, 7]
    assert after[0] == {"reason_id": 2, "reason_name": "Wrong SMS received", "evidence_required": False}


def test_an_approved_report_refunds_a_billed_activation(emulator, webhooks):
    # given a billed activation and an accepted report
    activation = order(emulator)
    aid = activation["activation_id"]
    emulator.deliver_sms(aid)
    evidence = base64.b64encode(b"screenshot").decode()
    result = emulator.create_report(API_KEY, aid, reason_id=4, message="2FA enabled here", evidence=evidence)
    assert result == {"status": "accepted", "decline_id": None}
    assert emulator.get_activation(API_KEY, aid)["report_status"] == "inReview"

    # when
    decided = emulator.decide_report(aid, approve=True)

    # then
    assert (decided["report_status"], decided["billing_status"]) == ("approved", "refunded")
    assert balance(emulator)["total"] == 10_000
    assert parse_event(webhooks[-1][2]).type == "activation_report.updated"
    report = emulator.get_report(API_KEY, aid)
    assert report["reason_name"] == "Number has been used before" and report["message"] == "2FA enabled here"
    assert json.loads(report["activation_state_snapshot"])["billing_status"] == "billed"


def test_a_declined_report_keeps_the_charge(emulator):
    aid = order(emulator)["activation_id"]
    emulator.deliver_sms(aid)
    emulator.create_report(API_KEY, aid, reason_id=2)

    decided = emulator.decide_report(aid, approve=False)

    assert (decided["report_status"], decided["billing_status"]) == ("declined", "billed")
    with fails(409, "InvalidActivationStateException"):
        emulator.decide_report(aid, approve=True)


def test_only_one_report_per_activation(emulator):
    aid = order(emulator)["activation_id"]
    emulator.deliver_sms(aid)
    emulator.create_report(API_KEY, aid, reason_id=7)

    with fails(409, "ReportAlreadyExistsException"):
        emulator.create_report(API_KEY, aid, reason_id=7)
    assert emulator.report_reasons(API_KEY, aid) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reason_id": 4},  # evidence required
        {"reason_id": 1},  # not offered once an SMS arrived
        {"reason_id": 0},
        {"reason_id": 7, "message": "x" * 1001},
        {"reason_id": 4, "evidence": "not base64!"},
    ],
)
def test_it_validates_reports(emulator, kwargs):
    aid = order(emulator)["activation_id"]
    emulator.deliver_sms(aid)

    with fails(400, "BadRequestException"):
        emulator.create_report(API_KEY, aid, **kwargs)


def test_reports_are_listed_and_missing_ones_not_found(emulator):
    aid = order(emulator)["activation_id"]
    with fails(404, "NotFoundException"):
        emulator.get_report(API_KEY, aid)

    emulator.create_report(API_KEY, aid, reason_id=7)

    listed = emulator.list_reports(API_KEY, page=1, limit=100)
    assert (listed["total"], listed["reports"][0]["activation"]["activation_id"]) == (1, aid)


# --- webhooks -------------------------------------------------------------------------------------------


def test_it_sends_a_signed_activation_updated_webhook_on_each_sms(emulator, webhooks, clock):
    # given
    aid = order(emulator)["activation_id"]
    assert webhooks == []

    # when
    emulator.deliver_sms(aid, code="1")
    emulator.retry_activation(API_KEY, aid)
    emulator.deliver_sms(aid, code="2")

    # then
    assert len(webhooks) == 2
    for (url, headers, body), status in zip(webhooks, ("smsReceived", "retryReceived"), strict=True):
        assert url == "http://reseller.test/webhooks/platfone"
        assert verify(
            "whsec-test", headers["x-webhook-id"], headers["x-timestamp"], headers["x-signature"], body, now=clock.now
        )
        event = parse_event(body)
        assert (event.type, event.api_version, event.id) == ("activation.updated", "1.0", headers["x-webhook-id"])
        assert event.activation.sms_status == status


def test_it_warns_once_when_the_balance_drops_below_the_threshold(emulator, webhooks):
    # given a balance one cent short of the 500-cent threshold after the first charge
    price = seeded_price(SERVICES_BY_ID["other"], COUNTRIES_BY_ID["id"]).suggested
    emulator.set_balance(API_KEY, 499 + price)

    # when two activations are charged
    emulator.deliver_sms(order(emulator, "other", "id")["activation_id"])
    emulator.deliver_sms(order(emulator, "other", "id")["activation_id"])

    # then
    low = [event for event in (parse_event(body) for _, _, body in webhooks) if event.type == "account.low_balance"]
    assert [event.balance for event in low] == [499]


def test_a_failed_webhook_is_recorded_and_can_be_redelivered_with_the_same_id(clock):
    # given a receiver that fails once
    answers, received = [500, 204], []

    def sender(url, headers, body):
        received.append(headers["x-webhook-id"])
        return answers.pop(0)

    emulator = Emulator(
        api_keys={API_KEY: 1000}, clock=clock, webhook_url="http://r", webhook_secret="s", webhook_sender=sender
    )
    aid = order(emulator, "other", "id")["activation_id"]
    emulator.deliver_sms(aid)
    [record] = emulator.webhook_deliveries()
    assert (record["delivered"], record["last_status"]) == (False, 500)

    # when
    redelivered = emulator.redeliver(record["id"])

    # then
    assert (redelivered["delivered"], redelivered["attempts"]) == (True, 2)
    assert received == [record["id"], record["id"]]


def test_a_receiver_calling_back_into_the_emulator_does_not_deadlock(clock):
    seen = []
    emulator = None

    def sender(url, headers, body):
        seen.append(emulator.get_activation(API_KEY, parse_event(body).activation.activation_id)["sms_status"])
        return 200

    emulator = Emulator(
        api_keys={API_KEY: 1000}, clock=clock, webhook_url="http://r", webhook_secret="s", webhook_sender=sender
    )

    emulator.deliver_sms(order(emulator, "other", "id")["activation_id"])

    assert seen == ["smsReceived"]


def test_no_webhooks_without_url_and_secret(clock):
    sent = []
    emulator = Emulator(api_keys={API_KEY: 1000}, clock=clock, webhook_sender=lambda *a: sent.append(a) or 200)

    emulator.deliver_sms(order(emulator, "other", "id")["activation_id"])

    assert sent == [] and emulator.webhook_deliveries() == []


def test_background_delivery_retries_with_backoff_until_delivered():
    # given a sender that fails twice, with tiny delays so the test stays fast
    answers = [503, 503, 200]
    done = threading.Event()

    def sender(url, headers, body):
        status = answers.pop(0)
        if status == 200:
            done.set()
        return status

    emulator = Emulator(
        api_keys={API_KEY: 1000},
        webhook_url="http://r",
        webhook_secret="s",
        webhook_sender=sender,
        webhook_background=True,
        webhook_delays=(0.01, 0.02, 0.04),
    )

    # when
    emulator.deliver_sms(order(emulator, "other", "id")["activation_id"])

    # then
    assert done.wait(2)
    emulator.close()
    [record] = emulator.webhook_deliveries()
    assert (record["attempts"], record["delivered"]) == (3, True)


def test_the_delivery_worker_gives_up_after_its_delays():
    attempts = []
    gave_up = threading.Event()

    def attempt(event_id):
        attempts.append(event_id)
        if len(attempts) == 3:
            gave_up.set()
        return False

    worker = DeliveryWorker(attempt, delays=(0.01, 0.01))
    worker.submit("e1")

    assert gave_up.wait(2)
    worker.close()
    assert attempts == ["e1", "e1", "e1"]


# --- control helpers ------------------------------------------------------------------------------------


def test_reset_forgets_everything_and_restores_balances(emulator):
    order(emulator)
    emulator.count_request("balance")
    emulator.add_fault(kind="error")

    emulator.reset()

    assert emulator.activations() == [] and emulator.request_counts() == {} and emulator.list_faults() == []
    assert balance(emulator) == {"total": 10_000, "reserved": 0}


def test_configure_refuses_unknown_or_mistyped_settings(emulator):
    with fails(400, "BadRequestException"):
        emulator.configure(bogus=1)
    with fails(400, "BadRequestException"):
        emulator.configure(rate_limits="no")

    assert emulator.configure(latency_ms=5)["latency_ms"] == 5


def test_set_price_overrides_the_seeded_price(emulator):
    emulator.set_price("whatsapp", "uk", min=10, max=30, suggested=20, count=0)

    assert emulator.get_price(API_KEY, service_id="whatsapp", country_id="uk")["count"] == 0
    with fails(404, "NoNumbersAvailableException"):
        order(emulator)
    with fails(400, "BadRequestException"):
        emulator.set_price("whatsapp", "uk", min=30, max=10, suggested=20, count=1)


def test_the_clock_only_moves_when_told(clock):
    emulator = Emulator(clock=FakeClock(1000))

    assert emulator.now() == 1000
    assert emulator.advance_clock(60) == 1060


# --- money invariant under any sequence of operations ---------------------------------------------------

OPERATIONS = ("order", "sms", "retry", "cancel", "finalize", "expire", "wait", "report", "approve", "decline")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 40)), max_size=60))
def test_balances_always_match_the_activations_billing_states(steps):
    # given
    clock = FakeClock()
    emulator = Emulator(api_keys={API_KEY: 3_000}, clock=clock, success_rate_block=False)
    ids: list[str] = []
    actions = {
        "sms": lambda aid, n: emulator.deliver_sms(aid),
        "retry": lambda aid, n: emulator.retry_activation(API_KEY, aid),
        "cancel": lambda aid, n: emulator.cancel_activation(API_KEY, aid),
        "finalize": lambda aid, n: emulator.finalize_activation(API_KEY, aid),
        "expire": lambda aid, n: emulator.expire_activation(aid),
        "report": lambda aid, n: emulator.create_report(API_KEY, aid, reason_id=7),
        "approve": lambda aid, n: emulator.decide_report(aid, approve=True),
        "decline": lambda aid, n: emulator.decide_report(aid, approve=False),
    }

    for operation, n in steps:
        # when
        try:
            if operation == "order":
                ids.append(order(emulator, SERVICES[n % len(SERVICES)].service_id, "id")["activation_id"])
            elif operation == "wait":
                clock.advance(n * 60)
            elif ids:
                actions[operation](ids[n % len(ids)], n)
        except EmulatorError:
            pass

        # then
        activations = emulator.activations(API_KEY)
        billed = sum(a["price"] for a in activations if a["billing_status"] == "billed")
        reserved = sum(a["price"] for a in activations if a["billing_status"] == "reserved")
        assert balance(emulator) == {"total": 3_000 - billed, "reserved": reserved}
        for a in activations:
            assert (a["billing_status"] == "reserved") == (
                a["activation_status"] == "active" and a["sms_status"] == "smsRequested"
            )
            assert (a["billing_status"] in ("billed", "refunded")) == (a["sms_status"] != "smsRequested")
        assert sum(a["activation_status"] == "active" for a in activations) <= 20
