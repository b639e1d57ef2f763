"""A storefront session counts only on its own storefront.

Browsers keep cookies per host, so A's session cookie never reaches B's host by itself; this makes a copied
one worthless too. On a storefront page, a signed-in user of another tenant (or an operator signed in to the
admin on the same host) is anonymous. The admin and the JSON API are left alone: they authenticate their own
way.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject

EXEMPT_PREFIXES = ("/admin/", "/api/", "/webhooks/", "/static/", "/healthz")


def storefront_user(request, user):
    if not user.is_authenticated:
        return user
    tenant = request.tenant
    if not tenant or user.tenant_id != tenant.pk:
        return AnonymousUser()
    return user


class StorefrontUserMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(EXEMPT_PREFIXES):
            user = request.user
            request.user = SimpleLazyObject(lambda: storefront_user(request, user))
        return self.get_response(request)
