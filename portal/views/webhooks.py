"""Webhook endpoints on the storefront: the JSON API's ``webhooks`` pages for people.

Register an endpoint (its signing secret shown once), change it, rotate the secret (shown once), disable,
enable, send a test event, delete; read its delivery log and redeliver; set the low-balance alert level.
Every page finds the endpoint through the owner-scoped selector (anyone else's is a 404) and calls one
service of ``webhooks`` or ``wallet``; nothing here decides a rule.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from core.errors import DomainError
from core.events import EVENT_TYPES
from portal import services
from portal.errors import page_error
from portal.forms import LowBalanceForm, WebhookEndpointForm
from portal.money import format_cents
from portal.views.base import login_required, storefront_view
from wallet import selectors as wallet_selectors
from wallet import services as wallet_services
from webhooks import selectors as webhook_selectors
from webhooks import services as webhook_services

ALL_EVENTS = webhook_services.ALL_EVENTS
EVENT_LABELS = {
    ALL_EVENTS: gettext_lazy("All events"),
    "activation.sms_received": gettext_lazy("a code arrived"),
    "activation.retry_received": gettext_lazy("another code arrived after “another SMS”"),
    "activation.expired": gettext_lazy("a number expired without a code"),
    "activation.canceled": gettext_lazy("a number was canceled"),
    "activation.refunded": gettext_lazy("a number's price was refunded"),
    "wallet.low_balance": gettext_lazy("your balance fell below your alert level"),
    "wallet.credited": gettext_lazy("money was added to your wallet"),
}
DELIVERIES_PER_PAGE = 20
MAX_PAGE = 10_000
ACTIONS = ("rotate", "disable", "enable", "test")


def _event_choices() -> list[tuple[str, str]]:
    choices = [(ALL_EVENTS, str(EVENT_LABELS[ALL_EVENTS]))]
    choices += [(event, f"{event} — {EVENT_LABELS.get(event, '')}".rstrip(" —")) for event in EVENT_TYPES]
    return choices


def _endpoint_form(data=None, endpoint=None) -> WebhookEndpointForm:
    initial = (
        {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}
        if endpoint is not None
        else {"events": [ALL_EVENTS]}
    )
    return WebhookEndpointForm(data, initial=initial, event_choices=_event_choices())


def _get_endpoint(request, endpoint_id: str):
    endpoint = webhook_selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _index_context(request, **extra) -> dict:
    threshold = wallet_selectors.low_balance_threshold(user=request.user)
    return {
        "endpoints": webhook_selectors.endpoints_for_user(user=request.user),
        "event_labels": EVENT_LABELS,
        "verified": request.user.email_verified_at is not None,
        "threshold_cents": threshold,
        "low_balance_form": LowBalanceForm(
            initial={"threshold": None if threshold is None else Decimal(threshold) / 100}
        ),
        **extra,
    }


@storefront_view
@login_required
@never_cache  # the page that shows a new signing secret must not be kept by any cache
def webhooks_index(request):
    if request.method == "POST":
        form = _endpoint_form(request.POST)
        if form.is_valid():
            try:
                issued = services.webhook_endpoint_register(
                    user=request.user,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                )
            except DomainError as exc:
                return render(
                    request, "portal/webhooks/index.html", _index_context(request, form=form, error=page_error(exc))
                )
            # Shown in this response only: never stored in the session, a message or a log.
            return render(
                request,
                "portal/webhooks/index.html",
                _index_context(request, form=_endpoint_form(), new_secret=issued.secret, new_endpoint=issued.endpoint),
            )
    else:
        form = _endpoint_form()
    return render(request, "portal/webhooks/index.html", _index_context(request, form=form))


@storefront_view
@login_required
def low_balance(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = LowBalanceForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "portal/webhooks/index.html",
            _index_context(request, form=_endpoint_form(), low_balance_form=form),
            status=400,
        )
    try:
        wallet = wallet_services.low_balance_threshold_set(user=request.user, threshold_cents=form.threshold_cents())
    except DomainError as exc:
        return render(
            request, "portal/webhooks/index.html", _index_context(request, form=_endpoint_form(), error=page_error(exc))
        )
    if wallet.low_balance_threshold_cents is None:
        messages.success(request, _("The low-balance alert is off."))
    else:
        messages.success(
            request,
            _("You will hear wallet.low_balance when your balance falls below %(amount)s.")
            % {"amount": format_cents(wallet.low_balance_threshold_cents)},
        )
    return redirect("portal:webhooks")


def _detail_context(request, endpoint, **extra) -> dict:
    status = request.GET.get("status", "")
    if status not in ("", "pending", "succeeded", "failed"):
        status = ""
    try:
        page = min(max(int(request.GET.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        page = 1
    deliveries, total = webhook_selectors.deliveries_for_endpoint(
        endpoint=endpoint, page=page, limit=DELIVERIES_PER_PAGE, status=status or None
    )
    signing = endpoint.signing_secrets()
    return {
        "endpoint": endpoint,
        "event_labels": EVENT_LABELS,
        "form": extra.pop("form", None) or _endpoint_form(endpoint=endpoint),
        "deliveries": deliveries,
        "total": total,
        "page": page,
        "status": status,
        "has_previous": page > 1,
        "has_next": page * DELIVERIES_PER_PAGE < total,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at if len(signing) > 1 else None,
        **extra,
    }


@storefront_view
@login_required
@never_cache  # a rotation shows the new secret on this page
def webhook_detail(request, endpoint_id: str):
    endpoint = _get_endpoint(request, endpoint_id)
    if request.method == "POST":
        form = _endpoint_form(request.POST, endpoint=endpoint)
        if form.is_valid():
            try:
                webhook_services.endpoint_update(
                    endpoint=endpoint,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                )
            except DomainError as exc:
                context = _detail_context(request, endpoint, form=form, error=page_error(exc))
                return render(request, "portal/webhooks/detail.html", context, status=400)
            messages.success(request, _("The endpoint is saved."))
            return redirect("portal:webhook", endpoint_id=endpoint.pk)
        return render(request, "portal/webhooks/detail.html", _detail_context(request, endpoint, form=form), status=400)
    return render(request, "portal/webhooks/detail.html", _detail_context(request, endpoint))


@storefront_view
@login_required
@never_cache
def webhook_action(request, endpoint_id: str, action: str):
    endpoint = _get_endpoint(request, endpoint_id)
    if action not in ACTIONS:
        raise Http404("No such action.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        if action == "rotate":
            issued = webhook_services.endpoint_rotate_secret(endpoint=endpoint)
            # The new secret in this response only, like at registration.
            context = _detail_context(request, issued.endpoint, new_secret=issued.secret)
            return render(request, "portal/webhooks/detail.html", context)
        if action == "disable":
            webhook_services.endpoint_disable(endpoint=endpoint)
            messages.success(request, _("The endpoint is disabled: nothing is sent to it until you enable it."))
        elif action == "enable":
            webhook_services.endpoint_enable(endpoint=endpoint)
            messages.success(request, _("The endpoint is enabled again."))
        else:
            webhook_services.endpoint_send_test(endpoint=endpoint)
            messages.success(request, _("A test event is on its way; its delivery appears in the log below."))
    except DomainError as exc:
        context = _detail_context(request, endpoint, error=page_error(exc))
        return render(request, "portal/webhooks/detail.html", context, status=409)
    return redirect("portal:webhook", endpoint_id=endpoint.pk)


@storefront_view
@login_required
def webhook_delete(request, endpoint_id: str):
    endpoint = _get_endpoint(request, endpoint_id)
    if request.method == "POST":
        webhook_services.endpoint_delete(endpoint=endpoint)
        messages.success(request, _("The endpoint %(url)s is deleted.") % {"url": endpoint.url})
        return redirect("portal:webhooks")
    return render(request, "portal/webhooks/delete.html", {"endpoint": endpoint})


@storefront_view
@login_required
def webhook_redeliver(request, endpoint_id: str, delivery_id: str):
    endpoint = _get_endpoint(request, endpoint_id)
    delivery = webhook_selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        webhook_services.delivery_redeliver(endpoint=endpoint, delivery=delivery)
    except DomainError as exc:
        context = _detail_context(request, endpoint, error=page_error(exc))
        return render(request, "portal/webhooks/detail.html", context, status=409)
    messages.success(request, _("The event is being sent again; the attempt appears in the log."))
    return redirect("portal:webhook", endpoint_id=endpoint.pk)
