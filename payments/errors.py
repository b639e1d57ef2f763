"""What ``payments.services`` raises. Each code is in the JSON API's table (``core.api.errors``) and the portal's."""

from __future__ import annotations

from core.errors import DomainError


class PaymentError(DomainError):
    code = "payment_error"
    default_message = "The top-up cannot be carried out."


class TopupUnavailable(PaymentError):
    """The storefront offers no such way to add funds (no provider configured, manual transfers off)."""

    code = "topup_unavailable"
    default_message = "This way of adding funds is not offered by this store."


class TopupAmountOutOfRange(PaymentError):
    code = "topup_amount_out_of_range"

    def __init__(self, *, min_cents: int, max_cents: int) -> None:
        super().__init__(
            f"A top-up must be between {min_cents} and {max_cents} cents.", min_cents=min_cents, max_cents=max_cents
        )


class TopupDailyCap(PaymentError):
    code = "topup_daily_cap"

    def __init__(self, *, cap_cents: int, remaining_cents: int) -> None:
        super().__init__(
            f"This top-up would exceed your daily limit of {cap_cents} cents; {remaining_cents} cents are left "
            "for the next 24 hours.",
            cap_cents=cap_cents,
            remaining_cents=remaining_cents,
        )


class PaymentProviderUnavailable(PaymentError):
    """The provider could not be asked for a checkout (down, misconfigured); nothing was charged."""

    code = "payment_provider_unavailable"
    default_message = "The payment provider is not reachable right now; nothing was charged. Try again shortly."


class InvalidNotification(PaymentError):
    """A provider notification whose signature, timestamp or shape does not verify: it changes nothing."""

    code = "invalid_notification"
    default_message = "The notification could not be verified."


class PaymentNotReviewable(PaymentError):
    """Only a pending manual top-up can be approved or rejected (once)."""

    code = "payment_not_reviewable"
    default_message = "This top-up is not waiting for a review."
