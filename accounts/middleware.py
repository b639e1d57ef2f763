"""Resolve the tenant of a browser request from its Host header."""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts import selectors


def resolve_tenant(request):
    tenant = selectors.tenant_for_host(host=request.get_host() if request.META.get("HTTP_HOST") else "")
    if tenant is None and settings.DEFAULT_TENANT_SLUG:
        tenant = selectors.tenant_get(slug=settings.DEFAULT_TENANT_SLUG)
    if tenant is not None and not tenant.is_active:
        return None
    return tenant


class TenantMiddleware:
    """Sets ``request.tenant`` (lazily: API requests find their tenant through the key instead)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = SimpleLazyObject(lambda: resolve_tenant(request))
        return self.get_response(request)
