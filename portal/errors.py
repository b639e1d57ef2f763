"""The portal's one error table: a domain error's code → the message a page shows, and what it offers next.

Services raise ``core.errors.DomainError`` subclasses with a stable ``code`` and ``details``; every page maps
them here and nowhere else. A code missing from the table shows the error's own message (services word them
for users), so a code added later (the lead hardens the services in parallel) is shown sensibly at once.
Codes that only a bug or an operator mistake can cause (``wallet_error``, ``server_error``) never show their
internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import DomainError
from portal.money import format_cents

logger = logging.getLogger("portal")


class EmailNotVerified(DomainError):
    """The storefront asks a user to prove their e-mail address before a first order or API key."""

    code = "email_unverified"
    default_message = gettext_lazy("Please confirm your e-mail address first: we sent you a link.")


@dataclass(frozen=True)
class PageError:
    """What a page shows for an error: a sentence, and the next step it offers (``action``: "add_funds",
    "confirm_price", "verify_email", "retry_later" or "")."""

    code: str
    message: str
    action: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _when(details: dict[str, Any], name: str) -> str:
    value = details.get(name)
    if not isinstance(value, int):
        return ""
    return datetime.fromtimestamp(value, tz=UTC).strftime("%H:%M:%S UTC")


def _insufficient_balance(error: DomainError) -> PageError:
    available = int(error.details.get("balance_cents", 0))
    required = int(error.details.get("required_cents", 0))
    message = _(
        "Your available balance is %(available)s and this number costs %(required)s. "
        "Add at least %(missing)s to your wallet to buy it."
    ) % {
        "available": format_cents(available),
        "required": format_cents(required),
        "missing": format_cents(max(required - available, 0)),
    }
    return PageError(error.code, message, "add_funds", error.details)


def _max_price_exceeded(error: DomainError) -> PageError:
    suggested = error.details.get("suggested_cents")
    if not isinstance(suggested, int):
        return PageError(error.code, str(error.message), "", error.details)
    message = _("The price has changed: it is now %(price)s. Continue at this price?") % {
        "price": format_cents(suggested)
    }
    return PageError(error.code, message, "confirm_price", error.details)


def _upstream_unavailable(error: DomainError) -> PageError:
    retry = error.details.get("retry_after")
    if isinstance(retry, int) and retry > 0:
        message = _(
            "Our number supplier is not reachable right now; nothing was charged. Try again in %(seconds)s seconds."
        ) % {"seconds": retry}
    else:
        message = _("Our number supplier is not reachable right now; nothing was charged. Try again shortly.")
    return PageError(error.code, message, "retry_later", error.details)


def _not_cancelable_yet(error: DomainError) -> PageError:
    when = _when(error.details, "cancelable_at")
    message = (
        _("This number cannot be canceled yet: the supplier allows it from %(time)s.") % {"time": when}
        if when
        else _("This number cannot be canceled yet.")
    )
    return PageError(error.code, message, "", error.details)


def _active_limit(error: DomainError) -> PageError:
    limit = error.details.get("limit")
    message = (
        _("You already have %(limit)s active numbers, the most you can have at once. Finish or cancel one first.")
        % {"limit": limit}
        if isinstance(limit, int)
        else _("You have too many active numbers. Finish or cancel one first.")
    )
    return PageError(error.code, message, "", error.details)


def _refund_limit(error: DomainError) -> PageError:
    limit = error.details.get("limit")
    message = (
        _(
            "This number can no longer be refunded: you already canceled %(limit)s numbers after their SMS in the "
            "last 24 hours, the most this store allows."
        )
        % {"limit": limit}
        if isinstance(limit, int)
        else str(error.message)
    )
    return PageError(error.code, message, "", error.details)


def _topup_amount(error: DomainError) -> PageError:
    low, high = error.details.get("min_cents"), error.details.get("max_cents")
    if not isinstance(low, int) or not isinstance(high, int):
        return PageError(error.code, str(error.message), "", error.details)
    message = _("A top-up must be between %(min)s and %(max)s.") % {"min": format_cents(low), "max": format_cents(high)}
    return PageError(error.code, message, "", error.details)


def _topup_daily_cap(error: DomainError) -> PageError:
    cap, left = error.details.get("cap_cents"), error.details.get("remaining_cents")
    if not isinstance(cap, int) or not isinstance(left, int):
        return PageError(error.code, str(error.message), "", error.details)
    message = _(
        "This would take you over your limit of %(cap)s of top-ups in 24 hours; you can still add %(left)s."
    ) % {"cap": format_cents(cap), "left": format_cents(left)}
    return PageError(error.code, message, "", error.details)


def _fixed(text: Any, action: str = "") -> Callable[[DomainError], PageError]:
    """A fixed sentence (a lazy translation: it is translated when shown, in the request's language)."""

    def build(error: DomainError) -> PageError:
        return PageError(error.code, str(text), action, error.details)

    return build


_INTERNAL = gettext_lazy("Something went wrong on our side. Nothing was charged; please try again later.")

# code → how a page words it.

TABLE: dict[str, Callable[[DomainError], PageError]] = {
    "insufficient_balance": _insufficient_balance,
    "max_price_exceeded": _max_price_exceeded,
    "upstream_unavailable": _upstream_unavailable,
    "not_cancelable_yet": _not_cancelable_yet,
    "active_limit": _active_limit,
    "refund_limit": _refund_limit,
    "no_numbers": _fixed(
        gettext_lazy(
            "No numbers are available for this service in this country right now. "
            "Try another country, or come back in a few minutes."
        )
    ),
    "not_found": _fixed(gettext_lazy("This service or country is not sold in this store.")),
    "not_cancelable": _fixed(gettext_lazy("This number can no longer be canceled.")),
    "not_retriable": _fixed(gettext_lazy("Another SMS cannot be requested for this number now.")),
    "not_finalizable": _fixed(gettext_lazy("This activation cannot be marked as done now.")),
    "not_reportable": _fixed(gettext_lazy("This activation cannot be reported.")),
    "order_in_progress": _fixed(
        gettext_lazy("Your order is still being placed. Wait a moment and try again."), "retry_later"
    ),
    "idempotency_key_reused": _fixed(
        gettext_lazy("This order form was already used for another order. Please start again.")
    ),
    "rate_limit": _fixed(gettext_lazy("Too many requests. Wait a minute and try again."), "retry_later"),
    "invalid_params": lambda error: PageError(error.code, str(error.message), "", error.details),
    "email_unverified": _fixed(
        gettext_lazy("Please confirm your e-mail address first: open the link we sent you, or send a new one below."),
        "verify_email",
    ),
    "topup_amount_out_of_range": _topup_amount,
    "topup_daily_cap": _topup_daily_cap,
    "topup_unavailable": _fixed(gettext_lazy("This way of adding funds is not offered by this store.")),
    "payment_provider_unavailable": _fixed(
        gettext_lazy("The payment provider is not reachable right now; nothing was charged. Try again shortly."),
        "retry_later",
    ),
    "payment_error": lambda error: PageError(error.code, str(error.message), "", error.details),
    "not_configured": _fixed(
        gettext_lazy("This store cannot sell numbers yet: it is still being set up. Please contact its support.")
    ),
    "wallet_error": _fixed(_INTERNAL),
    "server_error": _fixed(_INTERNAL),
}


def page_error(error: DomainError) -> PageError:
    """The page's wording of ``error``; the error's own message for a code the table does not know."""
    build = TABLE.get(error.code)
    if build is None:
        logger.info("portal: no page message for error code %r; showing the service's message", error.code)
        return PageError(error.code, str(error.message), "", error.details)
    return build(error)


class AccountHasFunds(DomainError):
    """Deleting an account that still has money in its wallet would lose it."""

    code = "account_has_funds"
    default_message = gettext_lazy("Your wallet still has money in it.")


class AccountHasActiveNumbers(DomainError):
    """Deleting an account while a number is active or money is held for an order."""

    code = "account_has_active_numbers"
    default_message = gettext_lazy("You still have active numbers.")


def _account_has_funds(error: DomainError) -> PageError:
    balance = error.details.get("balance_cents")
    amount = format_cents(balance) if isinstance(balance, int) else ""
    message = _(
        "Your account cannot be deleted while your wallet holds %(amount)s: spend it or ask support for a payout first."
    ) % {"amount": amount}
    return PageError(error.code, message, "", error.details)


def _account_has_active_numbers(error: DomainError) -> PageError:
    message = _(
        "Your account cannot be deleted while a number is active or money is held for an order: finish or cancel "
        "your active numbers first."
    )
    return PageError(error.code, message, "", error.details)


TABLE["account_has_funds"] = _account_has_funds
TABLE["account_has_active_numbers"] = _account_has_active_numbers
