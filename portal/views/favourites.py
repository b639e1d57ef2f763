"""Starring services and countries (kept on the server, per user), and the catalog's "buy again"."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.errors import NotFound
from portal import services
from portal.views.base import login_required, storefront_view

KINDS = ("service", "country")


@storefront_view
@login_required
@require_POST
def favourite_toggle(request, kind: str, item_id: str):
    if kind not in KINDS:
        raise Http404("Unknown kind.")
    try:
        starred = services.favourite_toggle(user=request.user, kind=kind, item_id=item_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    if request.htmx:
        return render(request, "portal/catalog/_star.html", {"kind": kind, "item_id": item_id, "starred": starred})
    target = request.POST.get("next", "")
    hosts = {request.get_host()}
    if not url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=request.is_secure()):
        target = "portal:catalog"
    return redirect(target)
