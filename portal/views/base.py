"""What every storefront view shares: a storefront must exist on the host, errors are worded by the one table."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render

from core.errors import DomainError
from portal.errors import page_error


def storefront_view(view):
    """404 on a host that is no tenant's storefront (an unknown host, a suspended tenant)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.tenant:
            raise Http404("No storefront on this host.")
        return view(request, *args, **kwargs)

    return wrapper


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
