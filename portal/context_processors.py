"""What every storefront page shows around its content: the tenant's look and the user's wallet.

Lazy: nothing is queried unless a template uses it (the admin's templates never do).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from portal.branding import palette
from wallet import selectors as wallet_selectors

THEME_COOKIE = "storefront_theme"


class Storefront:
    def __init__(self, request):
        self.request = request
        self.tenant = request.tenant if getattr(request, "tenant", None) else None

    @property
    def name(self) -> str:
        return self.tenant.name if self.tenant else ""

    @property
    def palette(self):
        return palette(self.tenant.brand_color if self.tenant else None)

    @property
    def theme_version(self) -> str:
        return self.palette.brand.lstrip("#")

    @property
    def has_logo(self) -> bool:
        return bool(self.tenant and self.tenant.brand_logo)

    @property
    def logo_version(self) -> str:
        return hashlib.sha256(self.tenant.brand_logo.name.encode()).hexdigest()[:12] if self.has_logo else ""

    @property
    def theme(self) -> str:
        """ "light", "dark", or "" (follow the system): the user's choice, else the toggle's cookie."""
        user = self.request.user
        chosen = user.theme if user.is_authenticated else self.request.COOKIES.get(THEME_COOKIE, "")
        return chosen if chosen in ("light", "dark") else ""

    @property
    def languages(self):
        return settings.LANGUAGES

    @property
    def wallet(self):
        user = self.request.user
        if not user.is_authenticated:
            return None
        if not hasattr(self, "_wallet"):
            self._wallet = wallet_selectors.wallet_summary(user=user)
        return self._wallet


def storefront(request):
    return {"storefront": SimpleLazyObject(lambda: Storefront(request))}
