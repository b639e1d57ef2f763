"""The admin site of the operator console: django-unfold's site, closed to the staff of a suspended tenant."""

from __future__ import annotations

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
