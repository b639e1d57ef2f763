"""drf-spectacular hooks."""


def strip_optional_trailing_slash(endpoints, **kwargs):
    """Our routes accept an optional trailing slash (``^wallet/?$``); document the canonical, slash-less path."""
    return [
        (path.rstrip("/") if path != "/" else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]
