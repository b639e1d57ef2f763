"""Request validation shared by the emulator's operations; failures are 400 BadRequestException."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from platfone.emulator.catalog import COUNTRIES_BY_ID, SERVICES_BY_ID, CountrySeed, ServiceSeed
from platfone.emulator.errors import bad_request

MAX_EVIDENCE_BYTES = 5 * 1024 * 1024


def validated_pair(service_id: Any, country_id: Any) -> tuple[ServiceSeed, CountrySeed]:
    """The catalog entries for an order's ids, checked against the doc's lengths."""
    if not isinstance(service_id, str) or not 1 <= len(service_id) <= 30:
        raise bad_request("service_id must be a string of 1 to 30 characters")
    if not isinstance(country_id, str) or not 2 <= len(country_id) <= 9:
        raise bad_request("country_id must be a string of 2 to 9 characters")
    service, country = SERVICES_BY_ID.get(service_id), COUNTRIES_BY_ID.get(country_id)
    if service is None:
        raise bad_request(f"Unknown service_id {service_id!r}")
    if country is None:
        raise bad_request(f"Unknown country_id {country_id!r}")
    return service, country


def validate_order_options(max_price: Any, quality_factor: Any) -> None:
    """The doc's ranges: `max_price` an integer 1..10000 (cents), `quality_factor` a number 0..100."""
    if max_price is not None and (not is_int(max_price) or not 1 <= max_price <= 10000):
        raise bad_request("max_price must be an integer between 1 and 10000")
    if quality_factor is not None and (
        isinstance(quality_factor, bool)
        or not isinstance(quality_factor, int | float)
        or not 0 <= quality_factor <= 100
    ):
        raise bad_request("quality_factor must be a number between 0 and 100")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_param(value: Any, name: str, default: int, low: int, high: int | None = None) -> int:
    """A query-string or JSON integer within [low, high]; `default` when absent."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise bad_request(f"{name} must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} must be an integer") from None
    if number < low or (high is not None and number > high):
        raise bad_request(f"{name} must be between {low} and {high if high is not None else 'infinity'}")
    return number


def paginate(ids: list[str], page: Any, limit: Any, *, max_limit: int) -> tuple[list[str], dict[str, int]]:
    """One page of `ids` and the doc's `page`, `limit`, `pages`, `total`."""
    page = int_param(page, "page", 1, 1)
    limit = int_param(limit, "limit", 10, 1, max_limit)
    total = len(ids)
    start = (page - 1) * limit
    return ids[start : start + limit], {"page": page, "limit": limit, "pages": math.ceil(total / limit), "total": total}


def evidence_size(evidence: Any) -> int:
    """Decoded size of a report's base64 evidence (0 when absent); at most 5 MB, as the doc says."""
    if evidence is None or evidence == "":
        return 0
    if not isinstance(evidence, str):
        raise bad_request("evidence must be a base64 string")
    try:
        data = base64.b64decode(evidence, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("evidence must be valid base64") from None
    if len(data) > MAX_EVIDENCE_BYTES:
        raise bad_request("evidence is larger than 5MB")
    return len(data)
