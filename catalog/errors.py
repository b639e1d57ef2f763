"""What can go wrong when the catalog is asked for a price. Callers map these onto their own answers
(the API: 404 not_found, 404 no_numbers, 503 upstream_unavailable)."""

from __future__ import annotations


class CatalogError(Exception):
    """Base of the catalog's domain errors."""


class UnknownServiceOrCountry(CatalogError):
    """The service or the country is not in the tenant's catalog (or the upstream does not know it)."""


class NoNumbers(CatalogError):
    """The upstream has no number for this service in this country right now."""


class PriceUnavailable(CatalogError):
    """No live price (upstream down, rate budget spent, not configured) and no recent enough cached one.

    ``retry_after`` is a hint in seconds for the client.
    """

    def __init__(self, message: str = "", *, retry_after: int = 30) -> None:
        super().__init__(message or "No price is available right now.")
        self.retry_after = retry_after


class UpstreamNotConfigured(PriceUnavailable):
    """The tenant has no Platfone base URL or API key."""
