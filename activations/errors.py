"""What can go wrong with an activation, in domain terms, with the HTTP status the API answers it with."""

from __future__ import annotations


class ActivationError(Exception):
    code = "activation_error"
    status = 409

    def __init__(self, message: str, **extra) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class ActiveLimitReached(ActivationError):
    code, status = "active_limit", 429


class MaxPriceTooLow(ActivationError):
    code, status = "max_price_exceeded", 409


class NoNumbers(ActivationError):
    code, status = "no_numbers", 404


class UnknownServiceOrCountry(ActivationError):
    code, status = "not_found", 404


class UpstreamDown(ActivationError):
    code, status = "upstream_unavailable", 503


class OrderInProgress(ActivationError):
    code, status = "order_in_progress", 409


class IdempotencyKeyReused(ActivationError):
    code, status = "idempotency_key_reused", 409


class NotCancelable(ActivationError):
    code, status = "not_cancelable", 409


class NotCancelableYet(ActivationError):
    code, status = "not_cancelable_yet", 409


class NotRetriable(ActivationError):
    code, status = "not_retriable", 409


class NotFinalizable(ActivationError):
    code, status = "not_finalizable", 409


class NotReportable(ActivationError):
    code, status = "not_reportable", 409
