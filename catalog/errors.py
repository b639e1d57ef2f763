"""What can go wrong when the catalog is asked for a price (domain errors: a stable code, no HTTP)."""

from __future__ import annotations

from core.errors import DomainError, NotFound, UpstreamUnavailable


class UnknownServiceOrCountry(NotFound):
    """The service or the country is not in the tenant's catalog (or the upstream does not know it)."""

    default_message = "Unknown service_id or country_id: see /api/services.php and /api/countries.php."


class NoNumbers(DomainError):
    """The upstream has no number for this service in this country right now."""

    code = "no_numbers"
    default_message = "No numbers are available for this service and country right now."


class PriceUnavailable(UpstreamUnavailable):
    """No live price (upstream down, rate budget spent, not configured) and no recent enough cached one.

    ``retry_after`` (seconds) is a hint for the client.
    """

    def __init__(self, message: str | None = None, *, retry_after: int = 30) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class UpstreamNotConfigured(DomainError):
    """The tenant has no Platfone base URL or API key: an operator's mistake that waiting does not fix, so it has
    its own code (``not_configured``), not ``upstream_unavailable``'s "try again shortly"."""

    code = "not_configured"
    default_message = (
        "This storefront cannot sell numbers yet: its number supplier is not configured. "
        "Please tell the storefront's support."
    )
