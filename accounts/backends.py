"""Log-in by e-mail, scoped to the tenant of the request's host; operators have no tenant."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts.middleware import resolve_tenant
from accounts.models import User


class TenantEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        email = (username or kwargs.get("email") or "").strip().lower()
        if not email or password is None:
            return None
        tenant = resolve_tenant(request) if request is not None else None
        candidates = User.objects.filter(email__iexact=email)
        user = candidates.filter(tenant=tenant).first() if tenant else None
        if user is None:
            user = candidates.filter(tenant__isnull=True).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing hint that the e-mail is unknown
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
