"""The admin site of the operator console: django-unfold's site, closed to the staff of a suspended tenant."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from unfold.sites import UnfoldAdminSite


class ConsoleAdminSite(UnfoldAdminSite):
    site_title = site_header = "Reseller console"
    index_title = "Dashboard"
    index_template = "console/dashboard.html"

    def has_permission(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        tenant = getattr(user, "tenant", None)
        return tenant is None or tenant.is_active

    def login(self, request, extra_context=None):
        # unfold's login form posts to the page's own URL and carries no hidden "next" field: without one in the
        # URL, a successful log-in would land on LOGIN_REDIRECT_URL instead of the dashboard.
        if request.method == "GET" and REDIRECT_FIELD_NAME not in request.GET:
            query = urlencode({REDIRECT_FIELD_NAME: reverse("admin:index", current_app=self.name)})
            return HttpResponseRedirect(f"{request.path}?{query}")
        return super().login(request, extra_context)
