"""Everything about the upstream Platfone Activation API: a typed client and an offline emulator.

This package imports no app of ours: credentials, settings and the cache are passed in by the caller.
"""

from platfone.client import PlatfoneClient
from platfone.errors import (
    AccountOnHold,
    BadRequest,
    BudgetExhausted,
    Conflict,
    InvalidKey,
    InvalidUpstreamData,
    LowSuccessRate,
    MaxPriceExceeded,
    NoNumbersAvailable,
    NotFound,
    PaymentRequired,
    PlatfoneError,
    RateLimited,
    TooManyActivations,
    UpstreamUnavailable,
)

__all__ = [
    "AccountOnHold",
    "BadRequest",
    "BudgetExhausted",
    "Conflict",
    "InvalidKey",
    "InvalidUpstreamData",
    "LowSuccessRate",
    "MaxPriceExceeded",
    "NoNumbersAvailable",
    "NotFound",
    "PaymentRequired",
    "PlatfoneClient",
    "PlatfoneError",
    "RateLimited",
    "TooManyActivations",
    "UpstreamUnavailable",
]
