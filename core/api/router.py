"""The ``index.php`` entry point.

``?path=wallet`` and ``index.php/wallet`` reach the same views as ``/api/v1/wallet``: the path is resolved
against ``settings.API_URLCONF``, the URLconf of the clean paths.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

from core.api.errors import error_response
from core.errors import NotFound


@csrf_exempt
def index_php(request, subpath: str = ""):
    path = (subpath or request.GET.get("path", "")).strip().strip("/")
    if not path or len(path) > 200:
        return error_response(
            NotFound("Unknown path. Use path=wallet, price, activations or activations/{id}[/poll|/cancel].")
        )
    try:
        match = resolve("/" + path, urlconf=settings.API_URLCONF)
    except Resolver404:
        return error_response(NotFound())
    return match.func(request, *match.args, **match.kwargs)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    return error_response(NotFound("Unknown path."))
