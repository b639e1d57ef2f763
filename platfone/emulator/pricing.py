"""Prices and catalog lists as the emulator serves them: seeded prices plus run-time overrides."""

from __future__ import annotations

from typing import Any

from platfone.emulator.catalog import (
    COUNTRIES,
    COUNTRIES_BY_ID,
    SERVICES,
    SERVICES_BY_ID,
    PriceInfo,
    etag_of,
    seeded_price,
)
from platfone.emulator.errors import bad_request
from platfone.emulator.validation import is_int, validated_pair


class PriceBook:
    """Every (service, country) price: the seeded one unless overridden. Not thread-safe on its own."""

    def __init__(self) -> None:
        self._overrides: dict[tuple[str, str], PriceInfo] = {}

    def price(self, service_id: str, country_id: str) -> PriceInfo:
        override = self._overrides.get((service_id, country_id))
        return override or seeded_price(SERVICES_BY_ID[service_id], COUNTRIES_BY_ID[country_id])

    def by_country(self, country_id: str | None) -> list[dict[str, Any]]:
        """The doc's `activation/prices/countries` body (one country when `country_id` is given)."""
        return [
            {
                "country_id": c.country_id,
                "services": [
                    {"service_id": s.service_id, **self.price(s.service_id, c.country_id).to_json()} for s in SERVICES
                ],
            }
            for c in COUNTRIES
            if country_id in (None, c.country_id)
        ]

    def by_service(self, service_id: str | None) -> list[dict[str, Any]]:
        """The doc's `activation/prices/services` body (one service when `service_id` is given)."""
        return [
            {
                "service_id": s.service_id,
                "countries": [
                    {"country_id": c.country_id, **self.price(s.service_id, c.country_id).to_json()} for c in COUNTRIES
                ],
            }
            for s in SERVICES
            if service_id in (None, s.service_id)
        ]

    def override(
        self, service_id: str, country_id: str, *, min: int, max: int, suggested: int, count: int, quality_avg: float
    ) -> PriceInfo:
        validated_pair(service_id, country_id)
        if not all(is_int(v) and v >= 0 for v in (min, max, suggested, count)) or not min <= suggested <= max:
            raise bad_request("min <= suggested <= max and count must be non-negative integers")
        if isinstance(quality_avg, bool) or not isinstance(quality_avg, int | float) or not 0 <= quality_avg <= 1:
            raise bad_request("quality_avg must be a number between 0 and 1")
        info = PriceInfo(min=min, max=max, suggested=suggested, quality_avg=float(quality_avg), count=count)
        self._overrides[(service_id, country_id)] = info
        return info

    def clear(self) -> None:
        self._overrides.clear()


def catalog(name: str) -> tuple[list[dict[str, Any]], str]:
    """A catalog list (`countries`, `services` or `popular_services`) and its ETag."""
    if name == "countries":
        items = [c.to_json() for c in COUNTRIES]
    elif name == "services":
        items = [s.to_json() for s in SERVICES]
    else:
        items = [s.to_json() for s in SERVICES if s.popular]
    return items, etag_of(items)
