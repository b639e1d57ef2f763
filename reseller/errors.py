"""The API's error envelope: ``{"ok": false, "error": "<friendly sentence>", "code": "<code>"}``.

Every error the API returns, whether raised by our code, by DRF or by Django, leaves through
``exception_handler`` (DRF views) or ``reseller.middleware.ApiErrorMiddleware`` (everything else).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger("reseller.api")


class ApiError(Exception):
    """An error with its HTTP status, machine code, friendly message and optional extra fields."""

    status = 400
    code = "invalid_params"
    message = "The request is not valid."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict:
        return {"ok": False, "error": self.message, "code": self.code, **self.extra}


class InvalidParams(ApiError):
    status, code, message = 400, "invalid_params", "Invalid or missing parameters."


class InvalidKey(ApiError):
    status, code, message = 401, "invalid_key", "Missing or invalid API key."


class InsufficientBalance(ApiError):
    status, code, message = 402, "insufficient_balance", "Your wallet balance is too low for this order."


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "conflict"


class RateLimited(ApiError):
    status, code, message = 429, "rate_limit", "Too many requests. The limit resets every minute; try again shortly."


class UpstreamUnavailable(ApiError):
    status, code, message = (
        503,
        "upstream_unavailable",
        "Our number supplier is not reachable right now. Try again shortly.",
    )


class ServerError(ApiError):
    status, code, message = 500, "server_error", "Something went wrong on our side. Please try again later."


def error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def to_api_error(exc: BaseException) -> ApiError:
    """Translate any exception into the ApiError the client sees. Unknown exceptions become a bare 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return InvalidKey()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed("This HTTP method is not allowed for this path; see the Allow header.")
    if isinstance(exc, drf.NotFound | Http404):
        return NotFound()
    if isinstance(exc, drf.Throttled):
        return RateLimited(headers={"Retry-After": "60"})
    if isinstance(exc, drf.UnsupportedMediaType):
        return InvalidParams("Unsupported content type: send JSON (application/json) or a form.")
    if isinstance(exc, drf.ParseError):
        return InvalidParams("The request body could not be parsed: send valid JSON or form data.")
    if isinstance(exc, RequestDataTooBig):
        return InvalidParams("The request body is too large.")
    if isinstance(exc, drf.ValidationError):
        return InvalidParams(_validation_message(exc.detail))
    if isinstance(exc, drf.PermissionDenied | PermissionDenied):
        return InvalidKey()
    if isinstance(exc, SuspiciousOperation):
        return InvalidParams("The request was rejected as malformed.")
    if isinstance(exc, drf.APIException) and 400 <= exc.status_code < 500:
        return ApiError(str(exc.detail), code="invalid_params", status=400)
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
    error = to_api_error(exc)
    if isinstance(error, ServerError) and not isinstance(exc, ServerError):
        request = context.get("request")
        logger.exception("Unhandled API error on %s", getattr(request, "path", "?"), exc_info=exc)
    response = Response(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    if isinstance(exc, drf.MethodNotAllowed):
        view = context.get("view")
        if view is not None:
            response["Allow"] = ", ".join(view.allowed_methods)
    return response
