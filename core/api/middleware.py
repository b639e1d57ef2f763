"""Errors that escape a view under /api/ still leave in the API's envelope, never as an HTML page."""

from __future__ import annotations

import logging

from core.api.errors import as_domain_error, error_response
from core.errors import ServerError

logger = logging.getLogger("core.api")


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        error = as_domain_error(exception)
        if isinstance(error, ServerError):
            logger.exception("Unhandled error on %s", request.path, exc_info=exception)
        return error_response(error)
