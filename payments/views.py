"""Two interfaces: the endpoint providers post their notifications to, and the demo provider's checkout page.

The notification endpoint answers in the API envelope: 200 for anything verified (a replay, an event we do not
act on, an unknown payment included: the provider must not retry those), 400 ``invalid_notification`` for
anything forged or tampered, 404 for a store or provider that is not set up, 409 ``payment_not_ready`` for a
refund that arrived before its payment (the provider retries it later).
"""

from __future__ import annotations

from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as accounts_selectors
from core.api.errors import error_response
from core.errors import DomainError, NotFound
from payments import selectors, services
from payments.errors import TopupUnavailable
from payments.models import Provider
from payments.providers import Incoming

MAX_BODY_BYTES = 256 * 1024


@csrf_exempt
@require_POST
def notify(request, tenant_slug: str, provider: str):
    tenant = accounts_selectors.tenant_get(slug=tenant_slug)
    if tenant is None or provider not in Provider.values:
        return error_response(NotFound())
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return error_response(NotFound())
    try:
        outcome = services.notification_receive(
            tenant=tenant, provider_name=provider, incoming=Incoming(body=body, headers=dict(request.headers))
        )
    except TopupUnavailable:
        return error_response(NotFound())
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse({"ok": True, "data": {"outcome": outcome}})


@require_http_methods(["GET", "POST"])
def demo_checkout(request, public_id):
    """The demo "provider's" checkout page: the amount, a Pay and a Cancel button. Pay signs a notification and
    delivers it (``services.demo_pay``); the page then sends the user back to the store, which credits nothing
    on its own."""
    payment = selectors.demo_payment_get(public_id=public_id)
    if payment is None:
        raise Http404("No such checkout.")
    back = request.GET.get("return") or "/"
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False):
        back = "/"
    if request.method == "POST":
        if not payment.is_open:
            raise Http404("This checkout is closed.")
        try:
            services.demo_pay(payment=payment, succeed=request.POST.get("action") == "pay")
        except TopupUnavailable:
            raise Http404("The demo provider is off.") from None
        return HttpResponseRedirect(back)
    return render(request, "payments/demo_checkout.html", {"payment": payment, "back": back})
