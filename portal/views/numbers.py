"""Buying a number and watching it: the confirmation, the dashboard of active numbers, one activation live.

Every write is one service call (``portal.services.activation_order``, ``activations.services.*``); a live
fragment reads through ``activations.services.activation_refresh``, the JSON API's budgeted, coalesced sync, so
a page polling every second costs the supplier no more than the API's own poll.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from activations import selectors as activation_selectors
from activations import services as activation_services
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from core.errors import DomainError
from portal import services
from portal.errors import page_error
from portal.forms import BuyForm
from portal.presenters import phone_parts, present
from portal.views.base import fragment_or_page, login_required, storefront_view

RECENT_SHOWN = 10
DONE_MESSAGES = {
    "cancel": _("Canceled. Money held for this number is back in your balance; a charged SMS is refunded."),
    "retry": _("Another SMS was requested on the same number. It is free."),
    "finalize": _("Done. The number is closed."),
}
ACTIONS = {
    "cancel": activation_services.activation_cancel,
    "retry": activation_services.activation_retry,
    "finalize": activation_services.activation_finalize,
}


def _names(tenant, service_id: str, country_id: str):
    service = next((s for s in catalog_selectors.services_available(tenant=tenant) if s.service_id == service_id), None)
    country = next(
        (c for c in catalog_selectors.countries_available(tenant=tenant) if c.country_id == country_id), None
    )
    return service, country


@storefront_view
@login_required
def buy(request, service_id: str, country_id: str):
    tenant, user = request.tenant, request.user
    service, country = _names(tenant, service_id, country_id)
    if service is None or country is None:
        raise Http404("Unknown service or country.")
    context = {"service": service, "country": country, "verified": user.email_verified_at is not None}
    if not context["verified"] and request.method == "GET" and not request.htmx:
        return render(request, "portal/guards/unverified.html", context, status=403)

    if request.method == "POST":
        form = BuyForm(request.POST)
        if form.is_valid():
            try:
                activation = services.activation_order(
                    user=user,
                    service_id=service_id,
                    country_id=country_id,
                    max_price_cents=form.max_price_cents(),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except DomainError as exc:
                error = page_error(exc)
                expected = form.cleaned_data["expected_cents"]
                if error.action == "confirm_price":
                    expected = error.details["suggested_cents"]
                fresh = BuyForm(initial={"expected_cents": expected, "idempotency_key": BuyForm.new_idempotency_key()})
                return fragment_or_page(
                    request,
                    page="portal/buy/confirm.html",
                    fragment="portal/buy/_confirm.html",
                    context={**context, "form": fresh, "price_cents": expected, "error": error},
                )
            target = reverse("portal:activation", kwargs={"activation_id": activation.pk})
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = target
                return response
            return redirect(target)
        price_cents = form.cleaned_data.get("expected_cents") if hasattr(form, "cleaned_data") else None
        return fragment_or_page(
            request,
            page="portal/buy/confirm.html",
            fragment="portal/buy/_confirm.html",
            context={**context, "form": form, "price_cents": price_cents},
        )

    try:
        quote = catalog_services.price_quote(tenant=tenant, service_id=service_id, country_id=country_id)
    except DomainError as exc:
        return fragment_or_page(
            request,
            page="portal/buy/confirm.html",
            fragment="portal/buy/_confirm.html",
            context={**context, "form": None, "error": page_error(exc)},
        )
    form = BuyForm(initial={"expected_cents": quote.sell_price_cents, "idempotency_key": BuyForm.new_idempotency_key()})
    return fragment_or_page(
        request,
        page="portal/buy/confirm.html",
        fragment="portal/buy/_confirm.html",
        context={**context, "form": form, "price_cents": quote.sell_price_cents, "stock": quote.count},
    )


def _cards(request, activations):
    return [present(a, tenant=request.tenant) for a in activations]


def _live_version(views) -> str:
    return "-".join(v.version for v in views) or "none"


@storefront_view
@login_required
def dashboard(request):
    user = request.user
    active = _cards(request, activation_selectors.open_activations_for_user(user=user))
    recent, _total = activation_selectors.activations_for_user(user=user, page=1, limit=RECENT_SHOWN)
    open_ids = {v.activation.pk for v in active}
    return render(
        request,
        "portal/numbers/dashboard.html",
        {
            "active": active,
            "live_version": _live_version(active),
            "recent": [present(a, tenant=request.tenant) for a in recent if a.pk not in open_ids],
        },
    )


@storefront_view
@login_required
def dashboard_live(request):
    """The active cards, refreshed within the upstream budget; 204 (nothing to swap) when nothing changed."""
    user = request.user
    refreshed = [
        activation_services.activation_refresh(activation=a, actor=f"user:{user.pk}")
        for a in activation_selectors.open_activations_for_user(user=user)
    ]
    active = _cards(request, refreshed)
    version = _live_version(active)
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    return render(request, "portal/numbers/_active_cards.html", {"active": active, "live_version": version})


def _activation_or_404(request, activation_id):
    activation = activation_selectors.activation_get_for_user(user=request.user, activation_id=activation_id)
    if activation is None:
        raise Http404("Activation not found.")
    return activation


def _detail_context(request, activation) -> dict:
    view = present(activation, tenant=request.tenant)
    country = next(
        (
            c
            for c in catalog_selectors.countries_available(tenant=request.tenant)
            if c.country_id == activation.country_id
        ),
        None,
    )
    code, national = phone_parts(activation.phone, country.codes if country else ())
    return {"view": view, "a": activation, "country": country, "phone_code": code, "phone_national": national}


@storefront_view
@login_required
def activation_detail(request, activation_id: str):
    activation = _activation_or_404(request, activation_id)
    return render(request, "portal/numbers/activation.html", _detail_context(request, activation))


@storefront_view
@login_required
def activation_status(request, activation_id: str):
    """The live part of an activation page. Reads through the budgeted sync; 204 when nothing shown changed."""
    activation = _activation_or_404(request, activation_id)
    activation = activation_services.activation_refresh(activation=activation, actor=f"user:{request.user.pk}")
    activation.user, activation.tenant = request.user, request.tenant
    context = _detail_context(request, activation)
    if request.GET.get("v") == context["view"].version:
        return HttpResponse(status=204)
    return render(request, "portal/numbers/_live.html", context)


@storefront_view
@login_required
@require_POST
def activation_action(request, activation_id: str, action: str):
    service = ACTIONS.get(action)
    if service is None:
        raise Http404("Unknown action.")
    activation = _activation_or_404(request, activation_id)
    try:
        activation = service(activation=activation, actor=f"user:{request.user.pk}")
    except DomainError as exc:
        activation = _activation_or_404(request, activation_id)
        context = {**_detail_context(request, activation), "error": page_error(exc)}
        return fragment_or_page(
            request, page="portal/numbers/activation.html", fragment="portal/numbers/_live.html", context=context
        )
    messages.success(request, str(DONE_MESSAGES[action]))
    if request.htmx:
        activation = _activation_or_404(request, activation_id)
        return render(request, "portal/numbers/_live.html", _detail_context(request, activation))
    return redirect("portal:activation", activation_id=activation.pk)
