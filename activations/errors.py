"""What can go wrong with an activation: domain errors with the public API's codes, no HTTP.

Unknown pairs, missing stock and an unreachable supplier are the catalog's and the base layer's errors
(``catalog.errors.UnknownServiceOrCountry`` / ``NoNumbers``, ``core.errors.UpstreamUnavailable``), raised
here too.
"""

from __future__ import annotations

from core.errors import DomainError


class ActivationError(DomainError):
    code = "activation_error"


class ActiveLimitReached(ActivationError):
    code = "active_limit"


class SuccessRateGuard(ActivationError):
    code = "success_rate_guard"


class MaxPriceTooLow(ActivationError):
    code = "max_price_exceeded"


class OrderInProgress(ActivationError):
    code = "order_in_progress"
    default_message = "The order is still being placed; try again in a moment."


class IdempotencyKeyReused(ActivationError):
    code = "idempotency_key_reused"


class NotCancelable(ActivationError):
    code = "not_cancelable"


class RefundLimitReached(ActivationError):
    code = "refund_limit"


class NotCancelableYet(ActivationError):
    code = "not_cancelable_yet"


class NotRetriable(ActivationError):
    code = "not_retriable"


class NotFinalizable(ActivationError):
    code = "not_finalizable"


class NotReportable(ActivationError):
    code = "not_reportable"


class NotRefundable(ActivationError):
    """An operator asked to refund an activation that was never charged (its hold was released, or it is still
    waiting for its SMS). Operator screens only: no public code."""
