"""Price lists: many pairs' sell prices from the upstream's bulk price lists, cached like single prices.

An interface that shows many prices at once (the SMS-Activate ``getPrices``) must not ask the upstream pair by
pair: ``GET activation/prices/services/:s/countries/:c`` allows 60 calls a minute for the whole upstream account,
shared by every user's quotes and orders. The bulk lists (``activation/prices/countries`` and
``activation/prices/services``, optionally filtered by one country or one service) answer everything in one call
and have their own budget (6 a minute each).

Each list is cached per upstream account and scope (everything, one country, one service) with the machinery of
``catalog.pricing``: ``fresh`` for ``PRICE_CACHE_SECONDS``, one caller at a time fetching (``lock``), a ``failure``
back-off, and the last good list served as stale for ``PRICE_STALE_MAX_SECONDS``. While the full list is fresh,
every narrower scope is answered from it, at no upstream cost. So one account costs the upstream at most one
bulk call per scope per ``PRICE_CACHE_SECONDS``, whatever the number of users and requests.

Markup is applied on the way out, never cached, by the same rules as a single quote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache

from accounts.models import Tenant
from catalog import selectors
from catalog.price_cache import Answer, CacheKeys, cached_or_fetch, remember, remember_failure
from catalog.upstream import client_for_tenant, fair_share_error, upstream_account
from platfone.client import PlatfoneClient
from platfone.errors import FairShareExceeded, NotFound, PlatfoneError, RateLimited
from platfone.types import CountryPrices, Price, ServicePrices

logger = logging.getLogger("catalog.pricing")

SCOPE_ALL = "all"
# A cached row: service_id, country_id, suggested, count, min, max (upstream cents).
Row = list


@dataclass(frozen=True)
class ListedPrice:
    """One pair of a price list, in the tenant's sell terms: what an order would cost now, and the stock."""

    service_id: str
    country_id: str
    sell_price_cents: int
    count: int


@dataclass(frozen=True)
class PriceList:
    """The listed pairs (by service, then country), when the upstream said so, and whether that is a stale
    fallback (the upstream could not be asked and a list younger than ``PRICE_STALE_MAX_SECONDS`` was used)."""

    prices: tuple[ListedPrice, ...]
    fetched_at: datetime
    stale: bool


def price_list(
    *, tenant: Tenant, service_id: str | None = None, country_id: str | None = None, spender: str | None = None
) -> PriceList:
    """The tenant's sell prices of every pair its catalog sells, or of one service's or one country's pairs.

    At most one bulk upstream call per (upstream account, scope) per ``PRICE_CACHE_SECONDS`` across all
    processes, none at all while the full list is fresh; never a per-pair price call. An unknown service or
    country is an empty list. A ``spender`` may use only its fair share of the bulk budget (``RateLimited``
    past it). Raises ``PriceUnavailable`` (upstream unreachable or out of budget, and no list recent enough)
    — never a ``PlatfoneError``.
    """
    entry, stale = listed_rows(tenant=tenant, service_id=service_id, country_id=country_id, spender=spender)
    rows = [
        row
        for row in entry["prices"]
        if (service_id is None or row[0] == service_id) and (country_id is None or row[1] == country_id)
    ]
    available = selectors.catalog_available_ids(tenant=tenant)
    if available is not None:
        services, countries = available
        rows = [row for row in rows if row[0] in services and row[1] in countries]
    terms_for = selectors.markup_terms_resolver(tenant=tenant)
    prices = tuple(
        ListedPrice(
            service_id=service,
            country_id=country,
            sell_price_cents=terms_for(service, country).sell(suggested),
            count=count,
        )
        for service, country, suggested, count, *_ in sorted(rows)
    )
    return PriceList(prices=prices, fetched_at=datetime.fromtimestamp(entry["fetched_at"], tz=UTC), stale=stale)


def listed_rows(
    *, tenant: Tenant, service_id: str | None = None, country_id: str | None = None, spender: str | None = None
) -> Answer:
    """The cached upstream rows holding the pairs asked for (the full list when it is fresh, else the narrowest
    list that holds them), and whether they are a stale fallback."""
    account = upstream_account(tenant)
    full = cache.get(_keys(account, SCOPE_ALL).fresh)
    if full is not None:
        return full, False
    scope, fetch = _scope(service_id=service_id, country_id=country_id)
    keys = _keys(account, scope)
    try:
        return cached_or_fetch(
            keys,
            lambda: _fetch_as_leader(tenant=tenant, keys=keys, fetch=fetch, spender=spender),
            what=f"price list {scope}",
        )
    except FairShareExceeded as exc:
        raise fair_share_error(exc) from exc


Fetch = Callable[[PlatfoneClient], Iterable[Price]]


def _scope(*, service_id: str | None, country_id: str | None) -> tuple[str, Fetch]:
    """The narrowest upstream list that holds the pairs asked for (a country's list for a single pair)."""
    if country_id is not None:
        return f"country:{country_id}", lambda client: _flatten(client.prices_by_country(country_id=country_id))
    if service_id is not None:
        return f"service:{service_id}", lambda client: _flatten(client.prices_by_service(service_id=service_id))
    return SCOPE_ALL, lambda client: _flatten(client.prices_by_country())


def _flatten(lists: list[CountryPrices] | list[ServicePrices]) -> Iterable[Price]:
    for item in lists:
        yield from item.services if isinstance(item, CountryPrices) else item.countries


def _keys(account: str, scope: str) -> CacheKeys:
    return CacheKeys.under(f"catalog:price-list:{account}:{scope}")


def _fetch_as_leader(*, tenant: Tenant, keys: CacheKeys, fetch: Fetch, spender: str | None) -> Answer:
    client = client_for_tenant(tenant, spender=spender)
    try:
        rows = [
            [price.service_id, price.country_id, price.suggested, price.count, price.min, price.max]
            for price in fetch(client)
            # Every value from the upstream is checked before use: a nonsensical row is left out, not sold.
            if price.service_id and price.country_id and price.suggested > 0 and price.count >= 0 and price.min >= 0
        ]
    except NotFound:
        rows = []  # an unknown country or service: nothing is sold there
    except FairShareExceeded:
        raise  # this spender's own limit: never a failure remembered for everyone
    except RateLimited as exc:
        # Covers our own BudgetExhausted too: nothing will get through before the window resets.
        retry_after = max(1, min(int(exc.retry_after), 60))
        logger.warning("price list %s: upstream rate limit (%s); retry in %ss", keys.fresh, exc, retry_after)
        return remember_failure(keys, retry_after=retry_after)
    except PlatfoneError as exc:
        logger.warning("price list %s: upstream failed: %r", keys.fresh, exc)
        return remember_failure(keys, retry_after=settings.PRICE_FAILURE_BACKOFF_SECONDS)
    finally:
        client.session.close()
    return remember(keys, {"prices": rows}, good=True), False
