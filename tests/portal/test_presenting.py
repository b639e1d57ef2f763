"""How pages word errors and show an activation's state: one table, a sensible fallback for any new code."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from activations.errors import MaxPriceTooLow, NotCancelableYet
from catalog.errors import NoNumbers
from core.errors import DomainError, UpstreamUnavailable
from portal.errors import TABLE, page_error
from portal.presenters import phone_parts, state_of
from wallet.errors import IdempotencyConflict, InsufficientBalance

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_insufficient_balance_says_how_much_to_add():
    error = page_error(InsufficientBalance(balance_cents=300, required_cents=179, available_cents=120))
    assert error.action == "add_funds"
    assert "$1.20" in error.message and "$1.79" in error.message and "$0.59" in error.message


def test_a_price_that_moved_offers_to_continue_at_the_new_price():
    error = page_error(MaxPriceTooLow("too low", suggested_cents=205))
    assert error.action == "confirm_price" and "$2.05" in error.message


def test_when_to_retry_is_said_when_known():
    assert "30 seconds" in page_error(UpstreamUnavailable(retry_after=30)).message
    when = int(datetime(2026, 12, 1, 12, 5, tzinfo=UTC).timestamp())
    assert "12:05:00 UTC" in page_error(NotCancelableYet(cancelable_at=when)).message


def test_an_unknown_code_shows_the_services_own_message():
    class RefundLimitReached(DomainError):  # e.g. a code the lead adds while hardening the services
        code = "refund_limit"

    error = page_error(RefundLimitReached("Only one refund after the SMS per day."))
    assert error.code == "refund_limit" and error.message == "Only one refund after the SMS per day."


def test_internal_errors_never_show_their_internals():
    error = page_error(IdempotencyConflict("Key 'charge:activation:4' was used for another request"))
    assert "charge:activation" not in error.message and "Nothing was charged" in error.message


@pytest.mark.parametrize("code", sorted(TABLE))
def test_every_code_of_the_table_words_a_bare_error(code):
    error = DomainError("fallback")
    error.code = code  # type: ignore[misc]
    assert page_error(error).message


def test_the_daily_refund_limit_is_explained():
    from activations.errors import RefundLimitReached

    error = page_error(RefundLimitReached("limit", limit=3))
    assert "3 numbers" in error.message and "24 hours" in error.message


def test_no_numbers_has_its_sentence():
    assert "No numbers are available" in page_error(NoNumbers()).message


def activation(**fields):
    base = {
        "billing_status": "held",
        "activation_status": "active",
        "sms_status": "smsRequested",
        "sms_code": None,
        "sms_text": None,
        "expire_at": NOW + timedelta(minutes=10),
    }
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({}, "waiting"),
        ({"sms_status": "smsReceived", "sms_code": "1", "billing_status": "billed"}, "received"),
        ({"sms_status": "retryRequested", "sms_code": "1", "billing_status": "billed"}, "retry"),
        ({"sms_status": "retryReceived", "sms_code": "2", "billing_status": "billed"}, "received"),
        ({"activation_status": "expired", "billing_status": "released"}, "expired"),
        ({"expire_at": NOW - timedelta(seconds=1)}, "expired"),
        ({"activation_status": "canceled", "billing_status": "released"}, "canceled"),
        ({"activation_status": "canceled", "billing_status": "refunded", "sms_code": "1"}, "refunded"),
        ({"activation_status": "finalized", "billing_status": "billed", "sms_code": "1"}, "done"),
        ({"activation_status": "expired", "billing_status": "billed", "sms_code": "1"}, "done"),
    ],
)
def test_each_state_has_its_view(fields, state):
    assert state_of(activation(**fields), NOW) == state


def test_a_phone_number_splits_into_country_code_and_national_number():
    assert phone_parts("+18048764759", ["1"]) == ("1", "8048764759")
    assert phone_parts("447700900123", ["44"]) == ("44", "7700900123")
    assert phone_parts("+99912345", []) == ("", "99912345")
