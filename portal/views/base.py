"""What every storefront view shares: a storefront must exist on the host, errors are worded by the one table."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from core.errors import DomainError
from portal.errors import page_error
from portal.throttling import storefront_usage


def storefront_view(view):
    """404 on a host that is no tenant's storefront (an unknown host, a suspended tenant)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.tenant:
            raise Http404("No storefront on this host.")
        if request.method == "POST":
            retry_after = storefront_usage(request)
            if retry_after is not None:
                return rate_limited(request, retry_after=retry_after)
        return view(request, *args, **kwargs)

    return wrapper


def rate_limited(request, *, retry_after: int):
    """The guard screen of too many requests: when to try again, and a 429 with ``Retry-After``."""
    retry_at = timezone.now() + timedelta(seconds=retry_after)
    response = render(
        request, "portal/guards/rate_limited.html", {"retry_after": retry_after, "retry_at": retry_at}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response


def login_required(view):
    """Django's login_required, after the storefront check (a user of this storefront only)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def fragment_or_page(request, *, page: str, fragment: str, context: dict, status: int = 200):
    """The same markup either way: the page template includes the fragment template."""
    template = fragment if request.htmx and not request.htmx.boosted else page
    return render(request, template, context, status=status)


def with_error(context: dict, error: DomainError) -> dict:
    return {**context, "error": page_error(error)}
