"""Price lists: the sell price and stock of one service in every country, or of every service in one country.

What a storefront shows when a user picks a service (or a country). One upstream call lists a whole row of the
matrix (``GET activation/prices/services?service_id=`` or ``.../countries?country_id=``), so a list costs one
call where per-pair quotes would cost one per country. Those calls have a tight upstream limit (6 a minute),
so each list is cached in the shared cache like single prices (``PRICE_CACHE_SECONDS`` fresh, one caller
fetches while the others wait briefly, the last good list served for ``PRICE_STALE_MAX_SECONDS`` while the
upstream is down or the budget is spent). Markup is applied on the way out with one query for the rules.

A list is for browsing: the price a user pays is the order's own quote (``price_quote``), which the
confirmation shows before anything is ordered.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.models import Tenant
from catalog.errors import PriceUnavailable
from catalog.markup import DEFAULT_TERMS, MarkupTerms
from catalog.models import MarkupRule
from catalog.upstream import client_for_tenant, upstream_account
from platfone.errors import PlatfoneError, RateLimited

logger = logging.getLogger("catalog.price_lists")

WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ListedPrice:
    """One pair's sell price (cents, our markup included) and the stock upstream."""

    service_id: str
    country_id: str
    sell_price_cents: int
    count: int


@dataclass(frozen=True)
class PriceList:
    """A row of the price matrix; ``stale`` when the upstream could not be asked and a recent list was used."""

    prices: dict[str, ListedPrice]  # by the other id (country_id for a service's list, service_id for a country's)
    stale: bool


def service_price_list(*, tenant: Tenant, service_id: str) -> PriceList:
    """The service's price and stock in every country the upstream lists it for. Raises ``PriceUnavailable``
    (nothing fresh nor recent) and ``UpstreamNotConfigured``."""
    rows, stale = _cached_rows(tenant=tenant, kind="service", item_id=service_id)
    terms = _terms_by_pair(tenant=tenant, service_id=service_id)
    prices = {
        row["country_id"]: ListedPrice(
            service_id=service_id,
            country_id=row["country_id"],
            sell_price_cents=_terms(terms, service_id, row["country_id"]).sell(row["suggested"]),
            count=row["count"],
        )
        for row in rows
    }
    return PriceList(prices=prices, stale=stale)


def country_price_list(*, tenant: Tenant, country_id: str) -> PriceList:
    """Every service's price and stock in the country. Raises like ``service_price_list``."""
    rows, stale = _cached_rows(tenant=tenant, kind="country", item_id=country_id)
    terms = _terms_by_pair(tenant=tenant, country_id=country_id)
    prices = {
        row["service_id"]: ListedPrice(
            service_id=row["service_id"],
            country_id=country_id,
            sell_price_cents=_terms(terms, row["service_id"], country_id).sell(row["suggested"]),
            count=row["count"],
        )
        for row in rows
    }
    return PriceList(prices=prices, stale=stale)


def _terms_by_pair(*, tenant: Tenant, service_id: str = "", country_id: str = "") -> list[MarkupRule]:
    """Every rule that can apply to a pair of this row, in one query."""
    rules = MarkupRule.objects.filter(tenant=tenant)
    if service_id:
        rules = rules.filter(service_id__in=[service_id, ""])
    if country_id:
        rules = rules.filter(country_id__in=[country_id, ""])
    return list(rules)


def _terms(rules: list[MarkupRule], service_id: str, country_id: str) -> MarkupTerms:
    """The most specific rule for the pair, as ``catalog.selectors.markup_terms_for`` picks it."""
    matching = [rule for rule in rules if rule.service_id in ("", service_id) and rule.country_id in ("", country_id)]
    best = max(matching, key=lambda rule: rule.specificity, default=None)
    return best.terms() if best is not None else DEFAULT_TERMS


def _cached_rows(*, tenant: Tenant, kind: str, item_id: str) -> tuple[list[dict[str, Any]], bool]:
    base = f"catalog:price-list:{upstream_account(tenant)}:{kind}:{item_id}"
    fresh_key, good_key, lock_key = f"{base}:fresh", f"{base}:good", f"{base}:lock"
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        rows = cache.get(fresh_key)
        if rows is not None:
            return rows, False
        if cache.add(lock_key, 1, timeout=int(WAIT_SECONDS) + 30):
            try:
                rows = _fetch(tenant=tenant, kind=kind, item_id=item_id)
                cache.set(fresh_key, rows, timeout=settings.PRICE_CACHE_SECONDS)
                cache.set(good_key, rows, timeout=settings.PRICE_STALE_MAX_SECONDS)
                return rows, False
            except PlatfoneError as exc:
                logger.warning("price list %s %s: upstream failed: %r", kind, item_id, exc)
                retry_after = int(getattr(exc, "retry_after", 0) or 0) if isinstance(exc, RateLimited) else 0
                return _stale(good_key, retry_after=max(retry_after, settings.PRICE_FAILURE_BACKOFF_SECONDS))
            finally:
                cache.delete(lock_key)
        if time.monotonic() >= deadline:
            return _stale(good_key, retry_after=settings.PRICE_FAILURE_BACKOFF_SECONDS)
        time.sleep(POLL_SECONDS)


def _stale(good_key: str, *, retry_after: int) -> tuple[list[dict[str, Any]], bool]:
    rows = cache.get(good_key)
    if rows is None:
        raise PriceUnavailable(retry_after=min(retry_after, 60))
    return rows, True


def _fetch(*, tenant: Tenant, kind: str, item_id: str) -> list[dict[str, Any]]:
    client = client_for_tenant(tenant)
    try:
        if kind == "service":
            prices = [
                price
                for row in client.prices_by_service(service_id=item_id)
                if row.service_id == item_id
                for price in row.countries
            ]
        else:
            prices = [
                price
                for row in client.prices_by_country(country_id=item_id)
                if row.country_id == item_id
                for price in row.services
            ]
    finally:
        client.session.close()
    return [
        {"service_id": p.service_id, "country_id": p.country_id, "suggested": p.suggested, "count": p.count}
        for p in prices
        if p.service_id and p.country_id and p.suggested > 0 and p.count >= 0
    ]
