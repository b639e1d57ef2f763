"""One error hierarchy for everything that can go wrong talking to Platfone.

`retryable` answers one question for callers (Celery tasks, sync loops): may the *same* call succeed if it
is simply sent again later? It is True for rate limits and for an unavailable upstream, False for
everything that needs a different request or a human.
"""

from __future__ import annotations


class PlatfoneError(Exception):
    """Base of every error raised by `platfone.client.PlatfoneClient`.

    Carries the upstream `errorName`/`errorMessage` (for logs) and the HTTP status when there was one.
    Messages are built by the client with the API key redacted, so they are safe to log.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        error_name: str | None = None,
        error_message: str | None = None,
    ) -> None:
        super().__init__(message or error_message or self.__class__.__name__)
        self.status = status
        self.error_name = error_name
        self.error_message = error_message

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(status={self.status!r}, error_name={self.error_name!r}, message={str(self)!r})"
        )


class BadRequest(PlatfoneError):
    """400 (or an unmapped 4xx): the upstream refused the request as sent."""


class Conflict(BadRequest):
    """409 other than MaxPriceExceeded: the activation is not in a state that allows the operation.

    A subclass of `BadRequest` because the real upstream may answer such refusals with a plain 400;
    callers that catch `BadRequest` handle both.
    """


class InvalidKey(PlatfoneError):
    """401 UnauthorizedException: the API key is wrong or revoked."""


class PaymentRequired(PlatfoneError):
    """402 PaymentRequiredException: the reseller's own upstream balance cannot cover the price."""


class AccountOnHold(PlatfoneError):
    """403: the upstream account is suspended."""


class NotFound(PlatfoneError):
    """404 with a Platfone error body: the activation (or report) does not exist for this key."""


class NoNumbersAvailable(PlatfoneError):
    """NoNumbersAvailableException: no stock for this service and country right now."""


class MaxPriceExceeded(PlatfoneError):
    """409 MaxPriceExceededException: numbers exist, but above `max_price`.

    Re-order with `max_price >= suggested_price` and `order_id=order_id` to continue the same attempt.
    """

    def __init__(self, message: str = "", *, suggested_price: int, order_id: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.suggested_price = suggested_price
        self.order_id = order_id


class RateLimited(PlatfoneError):
    """429: wait `retry_after` seconds (upstream said so via `x-ratelimit-reset`, or our budget did)."""

    retryable = True

    def __init__(self, message: str = "", *, retry_after: int, reset_at: int | None = None, reason: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.reset_at = reset_at
        self.reason = reason


class TooManyActivations(RateLimited):
    """429 TooManyActivationsException: 20 activations are active; finalize or cancel one first."""


class LowSuccessRate(RateLimited):
    """429 LowSuccessRateException: the account is blocked (24 h) for a success rate below 7 %."""


class BudgetExhausted(RateLimited):
    """Our own per-minute request budget for this method is spent; no request was sent."""


class UpstreamUnavailable(PlatfoneError):
    """Timeout, connection error, 5xx, or a response we could not understand."""

    retryable = True


class InvalidUpstreamData(UpstreamUnavailable):
    """The upstream answered with JSON whose shape or values are outside what its document promises (an over-long
    code, a negative price, a timestamp in the year 3000, an unknown status). Nothing of it is used."""
