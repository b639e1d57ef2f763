"""Adding funds from the wallet page: a checkout with the store's provider, or a transfer reported for review.

The page back from the provider credits nothing: it shows the payment's state, which only the provider's
verified notification (or an operator) changes, and refreshes itself while the payment is open.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from payments import selectors as payment_selectors
from payments import services as payment_services
from portal.errors import page_error
from portal.forms import TopupForm
from portal.views.account import topup_methods, wallet_page
from portal.views.base import fragment_or_page, login_required, storefront_view


@storefront_view
@login_required
@require_POST
def topup(request):
    config = payment_selectors.payment_settings_for(tenant=request.tenant)
    form = TopupForm(request.POST, methods=topup_methods(config) or ("checkout",))
    if not form.is_valid():
        return wallet_page(request, topup_form=form, status=400)
    try:
        if form.cleaned_data["method"] == "manual":
            payment_services.manual_topup_submit(
                user=request.user, amount_cents=form.amount_cents(), reference=form.cleaned_data["reference"]
            )
            messages.success(request, _("Thank you: your transfer is reported. We credit it once we have checked it."))
            return redirect("portal:wallet")
        payment = payment_services.payment_start(
            user=request.user,
            amount_cents=form.amount_cents(),
            return_url=lambda p: request.build_absolute_uri(reverse("portal:topup-status", args=[p.public_id])),
            notify_url=lambda provider: request.build_absolute_uri(
                reverse("payments:notify", args=[request.tenant.slug, provider])
            ),
        )
    except DomainError as exc:
        return wallet_page(request, topup_form=form, topup_error=page_error(exc), status=400)
    return redirect(payment.checkout_url)


@storefront_view
@login_required
def topup_status(request, public_id: str):
    payment = payment_selectors.payment_get_for_user(user=request.user, public_id=public_id)
    if payment is None:
        raise Http404("No such top-up.")
    context = {"payment": payment, "canceled": request.GET.get("canceled") == "1"}
    return fragment_or_page(
        request, page="portal/topup/status.html", fragment="portal/topup/_status.html", context=context
    )
