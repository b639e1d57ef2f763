"""What can go wrong with an activation, in domain terms. ``activations.api`` maps these to HTTP."""

from __future__ import annotations


class ActivationError(Exception):
    code = "activation_error"

    def __init__(self, message: str, **extra) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class ActiveLimitReached(ActivationError):
    code = "active_limit"


class MaxPriceTooLow(ActivationError):
    code = "max_price_exceeded"


class NoNumbers(ActivationError):
    code = "no_numbers"


class UnknownServiceOrCountry(ActivationError):
    code = "not_found"


class UpstreamDown(ActivationError):
    code = "upstream_unavailable"


class OrderInProgress(ActivationError):
    code = "order_in_progress"


class NotCancelable(ActivationError):
    code = "not_cancelable"


class NotCancelableYet(ActivationError):
    code = "not_cancelable_yet"


class NotRetriable(ActivationError):
    code = "not_retriable"


class NotFinalizable(ActivationError):
    code = "not_finalizable"


class NotReportable(ActivationError):
    code = "not_reportable"
