"""A storefront session counts only on its own storefront.

Browsers keep cookies per host, so A's session cookie never reaches B's host by itself; this makes a copied
one worthless too. On a storefront page, a signed-in user of another tenant (or an operator signed in to the
admin on the same host) is anonymous. The admin and the JSON API are left alone: they authenticate their own
way.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import translation
from django.utils.cache import patch_vary_headers
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


class StorefrontLanguageMiddleware:
    """The storefront speaks the signed-in user's language (kept on their account), else the language cookie
    the switcher sets, else the browser's (``Accept-Language``), else English. Other paths (the admin, the
    API) are left in the default language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        user = request.user
        chosen = getattr(user, "language", "") if user.is_authenticated else ""
        supported = dict(settings.LANGUAGES)
        language = chosen if chosen in supported else translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        translation.deactivate()
        return response
