"""Django's last-resort error pages: under /api/ they answer in the API's envelope too.

These cover what happens before a view runs (a disallowed Host, a malformed request line) or outside the
DRF views; errors inside the API's views never get here.
"""

from __future__ import annotations

from django.views import defaults

from core.api.errors import error_response
from core.api.middleware import is_api_path
from core.errors import InvalidInput, NotFound, ServerError


def bad_request(request, exception=None):
    if is_api_path(request.path):
        return error_response(InvalidInput("The request was rejected as malformed."))
    return defaults.bad_request(request, exception)


def page_not_found(request, exception=None):
    if is_api_path(request.path):
        return error_response(NotFound())
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_path(request.path):
        return error_response(ServerError())
    return defaults.server_error(request)
