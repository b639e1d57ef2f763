"""Reporting a problem with a number, and the user's reports.

The reasons come from the supplier for the activation's state now (``activation_report_reasons``); filing is
``activation_report``, the JSON API's service. An approved report's refund is settled by the activations app
(webhook, poll or background sync) like any other refund, and shows in the wallet as a refund.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from activations import selectors as activation_selectors
from activations import services as activation_services
from core.errors import DomainError
from portal.errors import page_error
from portal.forms import ReportForm
from portal.presenters import present
from portal.views.base import login_required, storefront_view

PER_PAGE = 25
MAX_PAGE = 10_000
DECLINED = {
    1: gettext_lazy("The supplier declined the report: this number cannot receive the code. Try another number."),
    2: gettext_lazy("The supplier declined the report: request another SMS on the same number."),
}


def _activation_or_404(request, activation_id):
    activation = activation_selectors.activation_get_for_user(user=request.user, activation_id=activation_id)
    if activation is None:
        raise Http404("Activation not found.")
    return activation


@storefront_view
@login_required
@require_http_methods(["GET", "POST"])
def report_problem(request, activation_id: str):
    activation = _activation_or_404(request, activation_id)
    context = {"a": activation, "view": present(activation, tenant=request.tenant)}
    if activation.report_status:
        return render(request, "portal/reports/new.html", context)
    actor = f"user:{request.user.pk}"
    try:
        reasons = activation_services.activation_report_reasons(activation=activation, actor=actor)
    except DomainError as exc:
        return render(request, "portal/reports/new.html", {**context, "error": page_error(exc)}, status=409)
    if not reasons:
        return render(request, "portal/reports/new.html", {**context, "no_reasons": True})
    if request.method != "POST":
        return render(request, "portal/reports/new.html", {**context, "form": ReportForm(reasons=reasons)})

    form = ReportForm(request.POST, request.FILES, reasons=reasons)
    if not form.is_valid():
        return render(request, "portal/reports/new.html", {**context, "form": form}, status=400)
    upload = form.cleaned_data["evidence"]
    try:
        result = activation_services.activation_report(
            activation=activation,
            reason_id=form.cleaned_data["reason"],
            message=form.cleaned_data["message"] or None,
            evidence=upload.read() if upload else None,
            actor=actor,
        )
    except DomainError as exc:
        context = {**context, "form": form, "error": page_error(exc)}
        return render(request, "portal/reports/new.html", context, status=409)
    if result.status == "declined":
        messages.warning(request, str(DECLINED.get(result.decline_id or 0, _("The supplier declined the report."))))
    else:
        messages.success(
            request, _("Report sent. It is in review; if it is approved, the price is refunded to your wallet.")
        )
    return redirect("portal:activation", activation_id=activation.pk)


@storefront_view
@login_required
def my_reports(request):
    try:
        page = min(max(int(request.GET.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        page = 1
    queryset = activation_selectors.activation_history_for_user(user=request.user, reported_only=True)
    offset = (page - 1) * PER_PAGE
    found = list(queryset[offset : offset + PER_PAGE + 1])
    return render(
        request,
        "portal/reports/index.html",
        {
            "rows": [present(a, tenant=request.tenant) for a in found[:PER_PAGE]],
            "page": page,
            "has_next": len(found) > PER_PAGE,
            "has_previous": page > 1,
        },
    )
