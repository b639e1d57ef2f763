"""The JSON API's one error table, and the envelope every error leaves in.

``{"ok": false, "error": "<friendly sentence>", "code": "<code>", **details}``: the status comes from
``HTTP_STATUS`` by the error's code; a ``retry_after`` detail becomes the ``Retry-After`` header. Whatever is
raised (a domain error, a DRF or Django exception, a bug) leaves through ``exception_handler`` (DRF views) or
``core.api.middleware.ApiErrorMiddleware`` (everything else). A code missing from the table is a bug: it is
logged and answered as a 500, never with its internals.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from core.errors import (
    DomainError,
    InvalidInput,
    InvalidKey,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    ServerError,
)

logger = logging.getLogger("core.api")

RETRY_AFTER_SECONDS = 60

# The public codes and their HTTP statuses (the public API document plus the codes it leaves to us).
HTTP_STATUS: dict[str, int] = {
    "invalid_params": 400,
    "invalid_key": 401,
    "insufficient_balance": 402,
    "email_unverified": 403,  # raised by the storefront's gates (portal), never by the JSON API today
    "not_found": 404,
    "no_numbers": 404,
    "method_not_allowed": 405,
    "max_price_exceeded": 409,
    "order_in_progress": 409,
    "idempotency_key_reused": 409,
    "not_cancelable": 409,
    "not_cancelable_yet": 409,
    "refund_limit": 409,
    "not_retriable": 409,
    "not_finalizable": 409,
    "not_reportable": 409,
    "webhook_limit": 409,
    "webhook_disabled": 409,
    "account_has_funds": 409,  # the storefront refuses to delete an account with money or numbers left (portal)
    "account_has_active_numbers": 409,
    "active_limit": 429,
    "success_rate_guard": 429,
    "rate_limit": 429,
    "server_error": 500,
    "upstream_unavailable": 503,
    # top-ups (payments)
    "payment_error": 400,
    "topup_amount_out_of_range": 400,
    "invalid_notification": 400,
    "topup_unavailable": 409,
    "topup_daily_cap": 409,
    "payment_not_reviewable": 409,
    "payment_not_ready": 409,
    "payment_provider_unavailable": 503,
    # The storefront has no supplier configured: a 4xx, as retrying cannot help until an operator acts (a 503 asks
    # clients to retry).
    "not_configured": 409,
}


def render(error: DomainError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, body and headers the JSON API answers ``error`` with."""
    status = HTTP_STATUS.get(error.code)
    if status is None:
        logger.error("error code %r has no HTTP status; answered as a server error", error.code, exc_info=error)
        error, status = ServerError(), HTTP_STATUS[ServerError.code]
    details = dict(error.details)
    headers = {}
    if "retry_after" in details:
        headers["Retry-After"] = str(details.pop("retry_after"))
    return status, {"ok": False, "error": error.message, "code": error.code, **details}, headers


def error_response(error: DomainError) -> JsonResponse:
    status, body, headers = render(error)
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def as_domain_error(exc: BaseException) -> DomainError:
    """Any exception as the error the client sees. Unknown exceptions become a bare server error."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return InvalidKey()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exc, drf.NotFound | Http404):
        return NotFound()
    if isinstance(exc, drf.Throttled):
        return RateLimited(retry_after=RETRY_AFTER_SECONDS)
    if isinstance(exc, drf.UnsupportedMediaType):
        return InvalidInput("Unsupported content type: send JSON (application/json) or a form.")
    if isinstance(exc, drf.ParseError):
        return InvalidInput("The request body could not be parsed: send valid JSON or form data.")
    if isinstance(exc, RequestDataTooBig):
        return InvalidInput("The request body is too large.")
    if isinstance(exc, drf.ValidationError):
        return InvalidInput(_validation_message(exc.detail))
    if isinstance(exc, drf.PermissionDenied | PermissionDenied):
        return InvalidKey()
    if isinstance(exc, SuspiciousOperation):
        return InvalidInput("The request was rejected as malformed.")
    if isinstance(exc, drf.APIException) and 400 <= exc.status_code < 500:
        return InvalidInput(str(exc.detail))
    return ServerError()


def _validation_message(detail) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, errors in detail.items():
            text = _validation_message(errors)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return "; ".join(parts) or "Invalid parameters."
    if isinstance(detail, list):
        return " ".join(_validation_message(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    """DRF's exception handler: every error becomes the envelope; internals are logged, never returned."""
    error = as_domain_error(exc)
    if isinstance(error, ServerError) and not isinstance(exc, ServerError):
        request = context.get("request")
        logger.exception("Unhandled API error on %s", getattr(request, "path", "?"), exc_info=exc)
    status, body, headers = render(error)
    response = Response(body, status=status, headers=headers)
    if isinstance(exc, drf.MethodNotAllowed):
        view = context.get("view")
        if view is not None:
            response["Allow"] = ", ".join(view.allowed_methods)
    return response
