"""The JSON API's one error table: every code a service can raise on purpose has an HTTP status there, and
an error whose code is missing (a bug) is answered as a plain 500 without its internals."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from core.api.errors import HTTP_STATUS, render
from core.errors import DomainError, UpstreamUnavailable

# Internal codes: a caller asked for something impossible (a bug or an operator's typo). They must never be
# answered with their own message to an API client.
INTERNAL_CODES = {"error", "wallet_error", "activation_error", "webhook_error"}


def all_domain_errors() -> set[type[DomainError]]:
    for app in apps.get_app_configs():
        for module in ("errors", "services"):
            try:
                importlib.import_module(f"{app.name}.{module}")
            except ModuleNotFoundError:
                continue
    found, todo = set(), [DomainError]
    while todo:
        for subclass in todo.pop().__subclasses__():
            found.add(subclass)
            todo.append(subclass)
    return found


def test_every_public_code_has_an_http_status():
    codes = {error.code for error in all_domain_errors()} - INTERNAL_CODES
    assert codes, "no domain errors found"
    assert codes <= set(HTTP_STATUS), sorted(codes - set(HTTP_STATUS))


def test_an_internal_code_is_a_bare_500():
    from wallet.errors import IdempotencyConflict

    status, body, headers = render(IdempotencyConflict("Key 'x' was used for another request (charge #4)."))
    assert status == 500
    assert body == {
        "ok": False,
        "error": "Something went wrong on our side. Please try again later.",
        "code": "server_error",
    }
    assert headers == {}


def test_retry_after_becomes_a_header_and_none_details_are_left_out():
    status, body, headers = render(UpstreamUnavailable(retry_after=12, hint=None))
    assert (status, headers) == (503, {"Retry-After": "12"})
    assert body == {"ok": False, "error": UpstreamUnavailable.default_message, "code": "upstream_unavailable"}


@pytest.mark.parametrize("code", sorted(HTTP_STATUS))
def test_every_status_in_the_table_is_an_error_status(code):
    assert 400 <= HTTP_STATUS[code] <= 599
