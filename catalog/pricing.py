"""Live prices from Platfone, cached in the shared cache, turned into sell prices by the tenant's markup.

One pair's upstream answer is cached per upstream account + service + country with the machinery of
``catalog.price_cache`` (fresh for 90 s, one caller at a time fetching, a failure back-off, the last good
price served as stale while the upstream cannot be asked). When the per-pair price budget (60 calls a minute
for the whole upstream account) runs low or is spent, a pair missing from the cache is read from the service's
bulk price list (``catalog.price_lists``: one call covers every country of the service, cached for everyone)
instead of failing.

Markup is applied on the way out: the tenant's rules (and its catalog's available ids) are cached together, but
every rule edit and catalog change invalidates that entry at once, so an edited rule applies to the next quote.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.models import Tenant
from catalog import price_lists, selectors
from catalog.errors import NoNumbers, PriceUnavailable, UnknownServiceOrCountry
from catalog.markup import MarkupTerms
from catalog.price_cache import Answer, CacheKeys, cached_or_fetch, remember, remember_failure
from catalog.upstream import client_for_tenant, fair_share_error, upstream_account
from core import cache_fill
from platfone.errors import (
    BudgetExhausted,
    FairShareExceeded,
    NoNumbersAvailable,
    NotFound,
    PlatfoneError,
    RateLimited,
    UpstreamUnavailable,
)

logger = logging.getLogger("catalog.pricing")

OUTCOME_PRICE = "price"
OUTCOME_NO_NUMBERS = "no_numbers"
OUTCOME_UNKNOWN = "unknown"
# The tenant's catalog checks and markup terms are cached settings.PRICING_TERMS_CACHE_SECONDS at most (each
# change made through a service or a model save invalidates them at once; 0: not cached).
# After a change, quotes read the terms from the database this long (core.cache_fill); far longer than a fill takes.
PRICING_TERMS_TOMBSTONE_SECONDS = 30
# When the per-pair price budget is down to this share, the service's bulk list answers instead.
BULK_WHEN_PAIR_BUDGET_BELOW = 0.25


@dataclass(frozen=True)
class PriceQuote:
    """A price for one service in one country, in the tenant's sell terms (all integer cents).

    ``backend_cents`` is the upstream's suggested cost, ``sell_price_cents`` what the user pays for it
    (= ``suggested_sell_cents``). ``stale`` is True when the upstream could not be asked and a cached price
    younger than ``PRICE_STALE_MAX_SECONDS`` was used instead. ``terms`` are the markup terms the quote was
    priced with: whoever orders from the quote prices any other cost (a repriced order) with the same terms.
    """

    service_id: str
    country_id: str
    backend_cents: int
    sell_price_cents: int
    min_sell_cents: int
    max_sell_cents: int
    suggested_sell_cents: int
    count: int
    fetched_at: datetime
    stale: bool
    terms: MarkupTerms

    def sell(self, backend_cents: int) -> int:
        """The sell price of another backend cost for the same pair, on the quote's terms."""
        return self.terms.sell(backend_cents)

    def max_backend_for_sell(self, max_sell_cents: int) -> int | None:
        """The highest backend cost (1..10000 cents, the upstream's ``max_price`` range) whose sell price is at
        most ``max_sell_cents``; None when even a 1-cent cost sells above it. Used as the upstream
        ``max_price`` for a user's ``max_price``: ``sell(result) <= max_sell_cents < sell(result + 1)``."""
        return self.terms.max_cost_for(max_sell_cents)


def price_quote(*, tenant: Tenant, service_id: str, country_id: str, spender: str | None = None) -> PriceQuote:
    """The tenant's current price for the pair.

    At most one upstream call per (upstream account, service, country) per ``PRICE_CACHE_SECONDS`` across
    all processes. Raises ``UnknownServiceOrCountry``, ``NoNumbers`` (no stock) or ``PriceUnavailable``
    (upstream unreachable or out of budget, and no cached price recent enough) — never a ``PlatfoneError``.
    A ``spender`` (a user's ``"user:12"``) asking for uncached prices may use only its fair share of the price
    budget: past it, ``RateLimited`` for that spender alone.
    """
    keys = price_cache_keys(tenant=tenant, service_id=service_id, country_id=country_id)
    # Warm path: the tenant's catalog and markup terms and the pair's fresh price in one cache round trip.
    found = cache.get_many([pricing_terms_key(tenant.pk), keys.fresh])
    pricing = found.get(pricing_terms_key(tenant.pk))
    if not cache_fill.live(pricing) or not isinstance(pricing, selectors.PricingTerms):
        pricing = selectors.pricing_terms(tenant=tenant)
        if settings.PRICING_TERMS_CACHE_SECONDS > 0:
            cache_fill.fill(pricing_terms_key(tenant.pk), pricing, settings.PRICING_TERMS_CACHE_SECONDS)
    if pricing.has_pair(service_id, country_id) is False:
        raise UnknownServiceOrCountry()
    try:
        if keys.fresh in found:
            entry, stale = found[keys.fresh], False
        else:
            entry, stale = _upstream_price(
                tenant=tenant, service_id=service_id, country_id=country_id, spender=spender
            )
    except FairShareExceeded as exc:
        raise fair_share_error(exc) from exc
    if entry["outcome"] == OUTCOME_UNKNOWN:
        raise UnknownServiceOrCountry()
    if entry["outcome"] == OUTCOME_NO_NUMBERS or entry["count"] <= 0:
        raise NoNumbers()
    terms = pricing.terms_for(service_id, country_id)
    suggested = terms.sell(entry["suggested"])
    return PriceQuote(
        service_id=service_id,
        country_id=country_id,
        backend_cents=entry["suggested"],
        sell_price_cents=suggested,
        min_sell_cents=terms.sell(entry["min"]),
        max_sell_cents=terms.sell(entry["max"]),
        suggested_sell_cents=suggested,
        count=entry["count"],
        fetched_at=datetime.fromtimestamp(entry["fetched_at"], tz=UTC),
        stale=stale,
        terms=terms,
    )


def pricing_terms_key(tenant_id: int) -> str:
    return f"catalog:pricing-terms:{tenant_id}"


def pricing_terms_invalidate(*, tenant_id: int) -> None:
    """Drop the tenant's cached ``PricingTerms`` (a markup rule or the catalog changed): the next quote reads
    them from the database. Safe against a concurrent fill (``core.cache_fill``)."""
    cache_fill.invalidate([pricing_terms_key(tenant_id)], tombstone_seconds=PRICING_TERMS_TOMBSTONE_SECONDS)


def price_cache_keys(*, tenant: Tenant, service_id: str, country_id: str) -> CacheKeys:
    """The cache keys of one pair (tests and operators use them to inspect or drop a cached price)."""
    return CacheKeys.under(f"catalog:price:{upstream_account(tenant)}:{service_id}:{country_id}")


def _upstream_price(*, tenant: Tenant, service_id: str, country_id: str, spender: str | None) -> Answer:
    """The cached or freshly fetched upstream answer for the pair, and whether it is a stale fallback."""
    keys = price_cache_keys(tenant=tenant, service_id=service_id, country_id=country_id)
    return cached_or_fetch(
        keys,
        lambda: _fetch_as_leader(
            tenant=tenant, keys=keys, service_id=service_id, country_id=country_id, spender=spender
        ),
        what=f"price {service_id}/{country_id}",
    )


def _fetch_as_leader(
    *, tenant: Tenant, keys: CacheKeys, service_id: str, country_id: str, spender: str | None
) -> Answer:
    client = client_for_tenant(tenant, spender=spender)
    try:
        if _pair_budget_low(client):
            return _from_the_service_list(tenant=tenant, keys=keys, service_id=service_id, country_id=country_id)
        try:
            price = client.get_price(service_id=service_id, country_id=country_id)
        except BudgetExhausted as exc:
            if isinstance(exc, FairShareExceeded):
                raise
            return _from_the_service_list(tenant=tenant, keys=keys, service_id=service_id, country_id=country_id)
        if min(price.min, price.suggested, price.max, price.count) < 0 or price.suggested == 0:
            raise UpstreamUnavailable(f"nonsensical price {price!r}")
    except NotFound:
        return remember(keys, {"outcome": OUTCOME_UNKNOWN}, good=False), False
    except NoNumbersAvailable:
        return remember(keys, {"outcome": OUTCOME_NO_NUMBERS, "count": 0}, good=False), False
    except FairShareExceeded:
        raise  # this user's own limit: never a failure remembered for everyone asking for the pair
    except RateLimited as exc:
        # Covers our own BudgetExhausted too: nothing will get through before the window resets.
        retry_after = max(1, min(int(exc.retry_after), 60))
        logger.warning("price %s/%s: upstream rate limit (%s); retry in %ss", service_id, country_id, exc, retry_after)
        return remember_failure(keys, retry_after=retry_after)
    except PlatfoneError as exc:
        logger.warning("price %s/%s: upstream failed: %r", service_id, country_id, exc)
        return remember_failure(keys, retry_after=settings.PRICE_FAILURE_BACKOFF_SECONDS)
    finally:
        client.session.close()
    entry = {"min": price.min, "max": price.max, "suggested": price.suggested, "count": price.count}
    return remember(keys, {"outcome": OUTCOME_PRICE, **entry}, good=True), False


def _pair_budget_low(client) -> bool:
    remaining = client.budget_remaining("get_price")
    if remaining is None or client.budget is None:
        return False
    return remaining <= client.budget.limit("get_price") * BULK_WHEN_PAIR_BUDGET_BELOW


def _from_the_service_list(*, tenant: Tenant, keys: CacheKeys, service_id: str, country_id: str) -> Answer:
    """The pair's price from the service's bulk list (cached for everyone; the beat's budget, no spender:
    this is the storefront saving its per-pair budget, not a user's request for a list). A country the list
    does not hold has no numbers."""
    logger.info("price %s/%s: from the service's bulk list (per-pair budget low)", service_id, country_id)
    try:
        rows, stale = price_lists.listed_rows(tenant=tenant, service_id=service_id)
    except PriceUnavailable as exc:
        return remember_failure(keys, retry_after=exc.retry_after)  # the pair's own last good price, if recent
    for service, country, suggested, count, low, high in rows["prices"]:
        if (service, country) == (service_id, country_id):
            entry: dict[str, Any] = {"min": low, "max": high, "suggested": suggested, "count": count}
            outcome = OUTCOME_PRICE if count > 0 else OUTCOME_NO_NUMBERS
            return remember(keys, {"outcome": outcome, **entry}, good=outcome == OUTCOME_PRICE), stale
    return remember(keys, {"outcome": OUTCOME_NO_NUMBERS, "count": 0}, good=False), stale
