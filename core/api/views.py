"""Base classes for the API's views: the success envelope, authentication order, rate limits, body size."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions as drf
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ratelimit
from core.api.clientip import client_ip
from core.api.errors import RETRY_AFTER_SECONDS
from core.errors import InvalidInput, InvalidKey, RateLimited


def ok(data: dict, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response({"ok": True, "data": data}, status=status, headers=headers)


def _check_body_size(request, limit: int) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise InvalidInput("Invalid Content-Length header.") from exc
    if length > limit:
        raise InvalidInput(f"The request body is too large (at most {limit} bytes).")


def _count(request, group: str, key: str, limit: int) -> dict | None:
    """Count the request in its one-minute window of the shared cache (one round trip); returns the usage."""
    return ratelimit.count(group=group, key=key, limit=limit)


def _over(usage: dict | None) -> bool:
    return usage is not None and bool(usage["should_limit"])


class _RateLimitedView(APIView):
    """Counts every request in a one-minute window of the shared cache (``core.api.ratelimit``)."""

    # Subclasses define the group, rate_limit_key(request) and rate_limit_per_minute(request).
    rate_limit_group: str = ""
    # Bodies above this are refused before parsing; None means settings.API_MAX_BODY_BYTES. Views that take
    # uploads raise it.
    max_body_bytes: int | None = None

    def rate_limit_key(self, request) -> str:
        raise ImproperlyConfigured(f"{type(self).__name__} must say whom it rate-limits (rate_limit_key).")

    def rate_limit_per_minute(self, request) -> int:
        raise ImproperlyConfigured(f"{type(self).__name__} must say its limit (rate_limit_per_minute).")

    def initial(self, request, *args, **kwargs):
        try:
            super().initial(request, *args, **kwargs)  # authentication and permissions: 401 comes first
        except (InvalidKey, drf.NotAuthenticated, drf.AuthenticationFailed):
            # Guessing keys is limited per client IP too: past the limit, 429 instead of 401.
            limit = settings.UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE
            if _over(_count(request, "api:unauthenticated", client_ip(request), limit)):
                raise RateLimited(retry_after=RETRY_AFTER_SECONDS) from None
            raise
        usage = _count(
            request, self.rate_limit_group, self.rate_limit_key(request), self.rate_limit_per_minute(request)
        )
        request.rate_limit_usage = usage  # the X-RateLimit headers, on the 429 too
        if _over(usage):
            raise RateLimited(retry_after=RETRY_AFTER_SECONDS)
        _check_body_size(request, self.max_body_bytes or settings.API_MAX_BODY_BYTES)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        usage = getattr(request, "rate_limit_usage", None)
        if usage is not None:
            response["X-RateLimit-Limit"] = str(usage["limit"])
            response["X-RateLimit-Remaining"] = str(max(0, usage["limit"] - usage["count"]))
        return response


class KeyedApiView(_RateLimitedView):
    """A view that needs an API key: ``request.user`` is the key's user, ``request.tenant`` its tenant.

    Limited per key to the tenant's ``rate_limit_per_minute``.
    """

    rate_limit_group = "api:key"

    def rate_limit_key(self, request) -> str:
        return str(request.auth.pk)

    def rate_limit_per_minute(self, request) -> int:
        return request.user.tenant.rate_limit_per_minute


class PublicApiView(_RateLimitedView):
    """A view anyone may call (the catalog): limited per client IP; the tenant comes from the Host."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    rate_limit_group = "api:ip"

    def rate_limit_key(self, request) -> str:
        return client_ip(request)

    def rate_limit_per_minute(self, request) -> int:
        return settings.CATALOG_RATE_LIMIT_PER_MINUTE
