"""The protocol's dialect: the one error table, money and answers."""

from __future__ import annotations

import pytest

from activations.errors import MaxPriceTooLow, NotCancelableYet
from compat.protocol import GENERIC_ERROR, PROTOCOL_ERRORS, Answer, dollars, dollars_number, error_answer
from core.errors import DomainError, RateLimited, UpstreamUnavailable
from tests.core.test_error_table import INTERNAL_CODES, all_domain_errors
from wallet.errors import IdempotencyConflict, InsufficientBalance


def test_every_public_domain_code_has_a_protocol_answer():
    codes = {error.code for error in all_domain_errors()} - INTERNAL_CODES
    assert codes, "no domain errors found"
    assert codes <= set(PROTOCOL_ERRORS), sorted(codes - set(PROTOCOL_ERRORS))


def test_no_answer_is_error_sql_and_every_answer_is_a_protocol_word():
    for answer, _detail in PROTOCOL_ERRORS.values():
        assert answer != "ERROR_SQL"
        assert answer.isupper() and " " not in answer


def test_an_internal_code_is_the_generic_error():
    assert error_answer(IdempotencyConflict("key reused for charge #4")).body == GENERIC_ERROR == "SERVER_ERROR"


@pytest.mark.parametrize(
    ("error", "answer"),
    [
        (InsufficientBalance(balance_cents=100, required_cents=250, available_cents=100), "NO_BALANCE"),
        (MaxPriceTooLow(suggested_cents=123), "WRONG_MAX_PRICE:1.23"),
        (MaxPriceTooLow(suggested_cents=5), "WRONG_MAX_PRICE:0.05"),
        (NotCancelableYet(cancelable_at=1_700_000_000), "EARLY_CANCEL_DENIED"),
        (UpstreamUnavailable(), "SERVER_ERROR"),
    ],
)
def test_domain_errors_become_the_protocols_words(error, answer):
    assert error_answer(error).body == answer


def test_a_retry_after_becomes_a_header_of_the_200_answer():
    response = error_answer(RateLimited(retry_after=60)).response()
    assert response.status_code == 200 and response["Retry-After"] == "60"
    assert response.content == b"TOO_MANY_REQUESTS"


def test_an_unknown_code_is_logged_and_answered_generically(compat_log):
    novel = DomainError("a code the services learned after this table was written")
    novel.code = "novel"  # on the instance: a subclass would stay in DomainError's registry for other tests
    assert error_answer(novel).body == "SERVER_ERROR"
    assert compat_log and "novel" in compat_log[0].getMessage()


@pytest.mark.parametrize(
    ("cents", "text"), [(0, "0.00"), (5, "0.05"), (99, "0.99"), (100, "1.00"), (123456, "1234.56")]
)
def test_dollars_always_have_a_decimal_point_and_two_places(cents, text):
    assert dollars(cents) == text
    assert dollars_number(cents) == cents / 100


def test_text_answers_have_no_trailing_newline_and_json_answers_say_so():
    text = Answer("ACCESS_BALANCE:1.00").response()
    assert text.content == b"ACCESS_BALANCE:1.00" and text["Content-Type"] == "text/plain; charset=utf-8"
    data = Answer({"status": "success", "name": "Россия"}).response()
    assert data["Content-Type"] == "application/json"
    assert data.content == '{"status":"success","name":"Россия"}'.encode()
