"""Domain errors: what a service raises when a request cannot be carried out.

Every domain error has a stable ``code`` (the public API's codes: ``insufficient_balance``, ``no_numbers``,
``max_price_exceeded`` ...), a friendly ``message`` and ``details`` (figures a client can act on, such as
``required_cents`` or ``retry_after``). They know nothing of HTTP or of any other interface: each interface
(the JSON API, the portal, the SMS-Activate endpoint) maps codes to its own dialect in one table.

A service that raises one has changed nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a service raises on purpose. ``details`` with a ``None`` value are left out."""

    code: ClassVar[str] = "error"
    default_message: ClassVar[str] = "The request cannot be carried out."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = {name: value for name, value in details.items() if value is not None}
        super().__init__(self.message)


class InvalidInput(DomainError):
    code, default_message = "invalid_params", "Invalid or missing parameters."


class InvalidKey(DomainError):
    code, default_message = "invalid_key", "Missing or invalid API key."


class NotFound(DomainError):
    code, default_message = "not_found", "Not found."


class MethodNotAllowed(DomainError):
    code, default_message = "method_not_allowed", "This HTTP method is not allowed for this path; see the Allow header."


class RateLimited(DomainError):
    code = "rate_limit"
    default_message = "Too many requests. The limit resets every minute; try again shortly."


class UpstreamUnavailable(DomainError):
    """The number supplier cannot be asked right now (down, out of budget, not configured); nothing was charged.

    ``retry_after`` (seconds), when known, tells the client when to try again.
    """

    code = "upstream_unavailable"
    default_message = "Our number supplier is not reachable right now. Try again shortly."


class ServerError(DomainError):
    code, default_message = "server_error", "Something went wrong on our side. Please try again later."
