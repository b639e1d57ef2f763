"""The SMS-Activate protocol's dialect: answers, money and time formats, and the one error table.

Every answer is HTTP 200, errors included (the protocol's clients treat a 4xx as a broken server): a plain-text
body without a trailing newline (``ACCESS_BALANCE:12.34``, ``NO_BALANCE``) or a JSON body with
``Content-Type: application/json``. Domain errors (``core.errors.DomainError``) are answered through
``PROTOCOL_ERRORS``, the one table from our stable codes to the protocol's words; a code missing from it (a new
one, or a bug) is answered ``SERVER_ERROR`` and logged — never a 500, never ``ERROR_SQL``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse

from core.errors import DomainError

logger = logging.getLogger("compat")

# Our domain error code -> (the protocol's answer, the detail appended after a colon, if any).
PROTOCOL_ERRORS: dict[str, tuple[str, str | None]] = {
    "invalid_params": ("BAD_DATA", None),
    "invalid_key": ("BAD_KEY", None),
    "email_unverified": ("BAD_KEY", None),  # a storefront-only gate: keys are issued to verified users only
    "method_not_allowed": ("BAD_ACTION", None),
    "insufficient_balance": ("NO_BALANCE", None),
    # The one not_found a handler action can meet is the catalog's "this storefront's supplier does not sell the
    # pair" (an unknown code is BAD_SERVICE / BAD_COUNTRY and an unknown id NO_ACTIVATION before any service
    # is called); for the protocol a pair that is not sold has no numbers.
    "not_found": ("NO_NUMBERS", None),
    "no_numbers": ("NO_NUMBERS", None),
    # WRONG_MAX_PRICE:<the lowest price we sell this number for now, in dollars>
    "max_price_exceeded": ("WRONG_MAX_PRICE", "suggested_cents"),
    "order_in_progress": ("ORDER_ALREADY_EXISTS", None),
    "idempotency_key_reused": ("ORDER_ALREADY_EXISTS", None),
    "not_cancelable_yet": ("EARLY_CANCEL_DENIED", None),
    "not_cancelable": ("BAD_STATUS", None),
    "not_retriable": ("BAD_STATUS", None),
    "not_finalizable": ("BAD_STATUS", None),
    "not_reportable": ("BAD_STATUS", None),
    "refund_limit": ("BAD_STATUS", None),
    "active_limit": ("CHANNELS_LIMIT", None),
    "rate_limit": ("TOO_MANY_REQUESTS", None),
    "success_rate_guard": ("TOO_MANY_REQUESTS", None),
    "upstream_unavailable": ("SERVER_ERROR", None),
    "server_error": ("SERVER_ERROR", None),
    # No supplier configured for the storefront: the protocol has no word for it; nothing can be sold.
    "not_configured": ("NO_NUMBERS", None),
    # Customer webhooks are managed through the JSON API only; no handler action meets these two.
    "webhook_limit": ("BAD_DATA", None),
    "webhook_disabled": ("BAD_STATUS", None),
    # Top-ups happen on the storefront; no handler action meets these (mapped so that none can leak as a 500).
    "payment_error": ("BAD_DATA", None),
    "topup_amount_out_of_range": ("BAD_DATA", None),
    "invalid_notification": ("BAD_DATA", None),
    "topup_unavailable": ("BAD_STATUS", None),
    "topup_daily_cap": ("BAD_STATUS", None),
    "payment_not_reviewable": ("BAD_STATUS", None),
    "payment_not_ready": ("BAD_STATUS", None),
    "payment_provider_unavailable": ("SERVER_ERROR", None),
    # Closing an account is a storefront page; no handler action meets these.
    "account_has_funds": ("BAD_STATUS", None),
    "account_has_active_numbers": ("BAD_STATUS", None),
}
GENERIC_ERROR = "SERVER_ERROR"

# Details carrying an amount of cents are shown in dollars, like every amount of the protocol.
CENTS_DETAILS = frozenset({"suggested_cents"})

CURRENCY_USD = 840  # ISO 4217, the protocol's "currency" field
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # the protocol's timestamps; ours are UTC


class ProtocolError(Exception):
    """An answer of the protocol's own (BAD_ACTION, BAD_SERVICE, NO_ACTIVATION ...) raised while parsing a request:
    nothing was called, nothing changed."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


@dataclass(frozen=True)
class Answer:
    """One protocol answer: plain text (``str``) or JSON (anything else)."""

    body: Any
    retry_after: int | None = None

    def response(self) -> HttpResponse:
        if isinstance(self.body, str):
            response = HttpResponse(self.body, content_type="text/plain; charset=utf-8")
        else:
            text = json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))
            response = HttpResponse(text, content_type="application/json")
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


def error_answer(error: DomainError) -> Answer:
    """The protocol's answer to a domain error, by its code."""
    entry = PROTOCOL_ERRORS.get(error.code)
    if entry is None:
        logger.error("error code %r has no protocol answer; answered %s", error.code, GENERIC_ERROR, exc_info=error)
        return Answer(GENERIC_ERROR)
    answer, detail = entry
    if detail is not None and detail in error.details:
        value = error.details[detail]
        answer = f"{answer}:{dollars(value) if detail in CENTS_DETAILS else value}"
    retry_after = error.details.get("retry_after")
    return Answer(answer, retry_after=int(retry_after) if isinstance(retry_after, int | float) else None)


def dollars(cents: int) -> str:
    """Cents as the protocol's dollar amount, always with a decimal point: 1234 -> "12.34", 5 -> "0.05"."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{rest:02d}"


def dollars_number(cents: int) -> float:
    """Cents as a JSON number of dollars (0.9 for 90 cents: JSON numbers carry no trailing zeros)."""
    return float(dollars(cents))


def protocol_time(value: datetime | None) -> str:
    """A timestamp as the protocol writes it, ``YYYY-MM-DD HH:MM:SS`` (UTC); "" when unknown."""
    return "" if value is None else value.astimezone(UTC).strftime(TIME_FORMAT)
