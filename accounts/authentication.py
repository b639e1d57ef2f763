"""API key authentication: ``X-Api-Key: KEY`` or ``Authorization: Bearer KEY``."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from accounts import selectors, services
from core.errors import InvalidKey


def raw_key_from_request(request) -> str | None:
    key = request.META.get("HTTP_X_API_KEY", "").strip()
    if key:
        return key
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


class ApiKeyAuthentication(BaseAuthentication):
    """Sets ``request.user``, ``request.auth`` (the ApiKey) and ``request.tenant``."""

    def authenticate(self, request):
        raw_key = raw_key_from_request(request)
        if raw_key is None:
            return None  # IsAuthenticated then answers 401 invalid_key
        api_key = selectors.api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise InvalidKey("The API key is invalid, revoked or belongs to a suspended account.")
        services.api_key_seen(api_key=api_key)
        request._request.tenant = api_key.user.tenant
        return api_key.user, api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = ["ApiKeyHeader", "BearerAuth"]

    def get_security_requirement(self, auto_schema):
        return [{"ApiKeyHeader": []}, {"BearerAuth": []}]  # either one, not both

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            {"type": "http", "scheme": "bearer"},
        ]
