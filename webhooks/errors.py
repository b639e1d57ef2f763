"""What can go wrong with a customer's webhook endpoints: domain errors with stable codes, no HTTP.

An invalid URL or event list is ``core.errors.InvalidInput`` (``invalid_params``) with a message saying why.
"""

from __future__ import annotations

from core.errors import DomainError


class WebhookError(DomainError):
    code = "webhook_error"


class EndpointLimitReached(WebhookError):
    code = "webhook_limit"
    default_message = "You have the maximum number of webhook endpoints; delete one first."


class EndpointDisabled(WebhookError):
    code = "webhook_disabled"
    default_message = "This webhook endpoint is disabled; enable it first."
