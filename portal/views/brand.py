"""The tenant's look as files: its colours as a stylesheet (no inline style under the CSP) and its logo."""

from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from portal.branding import palette
from portal.views.base import storefront_view

CACHE = "public, max-age=3600"


@storefront_view
@require_GET
def theme_css(request):
    response = HttpResponse(palette(request.tenant.brand_color).css(), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = CACHE
    return response


@storefront_view
@require_GET
def logo(request):
    logo_file = request.tenant.brand_logo
    if not logo_file:
        raise Http404("No logo.")
    content_type = mimetypes.guess_type(logo_file.name)[0] or "application/octet-stream"
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        raise Http404("No logo.")
    try:
        with default_storage.open(logo_file.name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Http404("No logo.") from exc
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = CACHE
    response["X-Content-Type-Options"] = "nosniff"
    return response
