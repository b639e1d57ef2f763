"""The wallet, API keys and the storefront's API documentation."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from core.errors import DomainError
from portal import services
from portal.errors import page_error
from portal.forms import ApiKeyCreateForm
from portal.views.base import login_required, storefront_view
from wallet import selectors as wallet_selectors

TRANSACTIONS_PER_PAGE = 20
MAX_PAGE = 100_000


@storefront_view
@login_required
def wallet(request):
    try:
        page = min(max(int(request.GET.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        page = 1
    transactions, has_next = wallet_selectors.wallet_transactions_page(
        user=request.user, page=page, per_page=TRANSACTIONS_PER_PAGE
    )
    return render(
        request,
        "portal/wallet.html",
        {
            "transactions": transactions,
            "page": page,
            "has_next": has_next,
            "has_previous": page > 1,
            "topup_instructions": request.tenant.topup_instructions,
        },
    )


def _keys_context(request, **extra) -> dict:
    return {
        "keys": accounts_selectors.api_keys_for_user(user=request.user),
        "rate_limit": request.tenant.rate_limit_per_minute,
        "verified": request.user.email_verified_at is not None,
        **extra,
    }


@storefront_view
@login_required
@never_cache  # the page that shows a new secret must not be kept by any cache
def api_keys(request):
    if request.method == "POST":
        form = ApiKeyCreateForm(request.POST)
        if form.is_valid():
            try:
                issued = services.api_key_issue(user=request.user, name=form.cleaned_data["name"])
            except DomainError as exc:
                return render(
                    request, "portal/keys/index.html", _keys_context(request, form=form, error=page_error(exc))
                )
            # Shown in this response only: never stored in the session, a message or a log.
            return render(
                request,
                "portal/keys/index.html",
                _keys_context(
                    request, form=ApiKeyCreateForm(), new_key=issued.raw_key, new_key_name=issued.api_key.name
                ),
            )
    else:
        form = ApiKeyCreateForm()
    return render(request, "portal/keys/index.html", _keys_context(request, form=form))


@storefront_view
@login_required
def api_key_revoke(request, key_id: str):
    key = accounts_selectors.api_key_get_for_user(user=request.user, key_id=key_id)
    if key is None:
        raise Http404("No such key.")
    if request.method == "POST":
        accounts_services.api_key_revoke(api_key=key)
        messages.success(request, _("The key %(prefix)s… is revoked: it no longer works.") % {"prefix": key.prefix})
        return redirect("portal:api-keys")
    return render(request, "portal/keys/revoke.html", {"key": key})


@cache
def _verify_snippet() -> str:
    """The signature check shown to developers: the very file the suite tests against our signer."""
    return (Path(settings.BASE_DIR) / "docs" / "webhooks" / "verify_signature.py").read_text(encoding="utf-8")


@storefront_view
def api_docs(request):
    prefix = ""
    if request.user.is_authenticated:
        usable = [k for k in accounts_selectors.api_keys_for_user(user=request.user) if not k.is_revoked]
        prefix = usable[0].prefix if usable else ""
    return render(
        request,
        "portal/api_docs.html",
        {
            "base": request.build_absolute_uri("/").rstrip("/"),
            "key_prefix": prefix,
            "rate_limit": request.tenant.rate_limit_per_minute,
            "webhooks_url": reverse("portal:webhooks"),
            "verify_snippet": _verify_snippet(),
        },
    )
