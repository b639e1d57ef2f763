"""Live prices from Platfone, cached in the shared cache, turned into sell prices by the tenant's markup.

Caching, per upstream account + service + country (all keys in the shared Django cache, so every web and
worker process agrees):

- ``fresh``: the upstream's answer, kept ``PRICE_CACHE_SECONDS`` (90 s). While it lives nobody calls the
  upstream for that pair, so a quote and an order placed within the window see the same price.
- ``lock``: taken with ``cache.add`` (atomic in Redis and LocMem) by the one request that calls the upstream
  on a miss. Everyone else polls ``fresh`` every 50 ms for up to ``PRICE_LOCK_WAIT_SECONDS``; the leader
  re-checks ``fresh`` after taking the lock, so a burst of identical requests costs one upstream call.
- ``good``: the last successful answer, kept ``PRICE_STALE_MAX_SECONDS`` (600 s): served, marked stale,
  while the upstream is down or our request budget for it is spent.
- ``failure``: set for a few seconds after a failed call, so that waiters and the next requests fall back
  at once instead of queueing up behind another attempt that would most likely fail too.

Markup is applied on the way out, never cached: a rule edited in the admin applies to the next quote.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.models import Tenant
from catalog import selectors
from catalog.errors import NoNumbers, PriceUnavailable, UnknownServiceOrCountry
from catalog.markup import MarkupTerms
from catalog.upstream import client_for_tenant, fair_share_error, upstream_account
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

POLL_SECONDS = 0.05
# A lock outlives the slowest possible upstream call (timeouts x attempts) by this margin.
LOCK_MARGIN_SECONDS = 5
OUTCOME_PRICE = "price"
OUTCOME_NO_NUMBERS = "no_numbers"
OUTCOME_UNKNOWN = "unknown"
# When the per-pair price budget (60 calls/min upstream) is down to this share, one bulk call
# (prices/services?service_id=: every country of the service) answers instead and caches every pair it covers.
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
    if selectors.catalog_has_pair(tenant=tenant, service_id=service_id, country_id=country_id) is False:
        raise UnknownServiceOrCountry()
    try:
        entry, stale = _upstream_price(tenant=tenant, service_id=service_id, country_id=country_id, spender=spender)
    except FairShareExceeded as exc:
        raise fair_share_error(exc) from exc
    if entry["outcome"] == OUTCOME_UNKNOWN:
        raise UnknownServiceOrCountry()
    if entry["outcome"] == OUTCOME_NO_NUMBERS or entry["count"] <= 0:
        raise NoNumbers()
    terms = selectors.markup_terms_for(tenant=tenant, service_id=service_id, country_id=country_id)
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


@dataclass(frozen=True)
class _Keys:
    fresh: str
    good: str
    lock: str
    failure: str

    @classmethod
    def of(cls, *, account: str, service_id: str, country_id: str) -> _Keys:
        base = f"catalog:price:{account}:{service_id}:{country_id}"
        return cls(fresh=f"{base}:fresh", good=f"{base}:good", lock=f"{base}:lock", failure=f"{base}:failure")


def price_cache_keys(*, tenant: Tenant, service_id: str, country_id: str) -> _Keys:
    """The cache keys of one pair (tests and operators use them to inspect or drop a cached price)."""
    return _Keys.of(account=upstream_account(tenant), service_id=service_id, country_id=country_id)


def _now() -> float:
    return time.time()


def _upstream_price(
    *, tenant: Tenant, service_id: str, country_id: str, spender: str | None
) -> tuple[dict[str, Any], bool]:
    """The cached or freshly fetched upstream answer for the pair, and whether it is a stale fallback."""
    keys = price_cache_keys(tenant=tenant, service_id=service_id, country_id=country_id)
    deadline = time.monotonic() + settings.PRICE_LOCK_WAIT_SECONDS
    while True:
        cached = _cached(keys)
        if cached is not None:
            return cached
        token = secrets.token_hex(8)
        if cache.add(keys.lock, token, timeout=_lock_seconds()):
            try:
                return _fetch_as_leader(
                    tenant=tenant, keys=keys, service_id=service_id, country_id=country_id, spender=spender
                )
            finally:
                if cache.get(keys.lock) == token:
                    cache.delete(keys.lock)
        if time.monotonic() >= deadline:
            logger.warning("price %s/%s: gave up waiting for another request's upstream call", service_id, country_id)
            return _fallback(keys, retry_after=settings.PRICE_FAILURE_BACKOFF_SECONDS)
        time.sleep(POLL_SECONDS)


def _cached(keys: _Keys) -> tuple[dict[str, Any], bool] | None:
    """A fresh price, or the fallback while a recent failure backs the pair off; None: nobody has asked yet."""
    entry = cache.get(keys.fresh)
    if entry is not None:
        return entry, False
    failure = cache.get(keys.failure)
    if failure is not None:
        return _fallback(keys, retry_after=failure["retry_after"])
    return None


def _fetch_as_leader(
    *, tenant: Tenant, keys: _Keys, service_id: str, country_id: str, spender: str | None
) -> tuple[dict[str, Any], bool]:
    # Another leader may have finished, with a price or a failure, between our miss and our lock.
    cached = _cached(keys)
    if cached is not None:
        return cached
    client = client_for_tenant(tenant, spender=spender)
    try:
        if _pair_budget_low(client) and client.budget_allows("prices_by_service"):
            return _fetch_bulk(client, tenant=tenant, service_id=service_id, country_id=country_id), False
        try:
            price = client.get_price(service_id=service_id, country_id=country_id)
        except BudgetExhausted as exc:
            if isinstance(exc, FairShareExceeded) or not client.budget_allows("prices_by_service"):
                raise
            # The per-pair budget ran out: one bulk call covers this pair and every other country of the service.
            return _fetch_bulk(client, tenant=tenant, service_id=service_id, country_id=country_id), False
        if min(price.min, price.suggested, price.max, price.count) < 0 or price.suggested == 0:
            raise UpstreamUnavailable(f"nonsensical price {price!r}")
    except NotFound:
        return _remember(keys, {"outcome": OUTCOME_UNKNOWN}), False
    except NoNumbersAvailable:
        return _remember(keys, {"outcome": OUTCOME_NO_NUMBERS, "count": 0}), False
    except FairShareExceeded:
        raise  # this user's own limit: never a failure remembered for everyone asking for the pair
    except RateLimited as exc:
        # Covers our own BudgetExhausted too: nothing will get through before the window resets.
        retry_after = max(1, min(int(exc.retry_after), 60))
        logger.warning("price %s/%s: upstream rate limit (%s); retry in %ss", service_id, country_id, exc, retry_after)
        return _remember_failure(keys, retry_after=retry_after)
    except PlatfoneError as exc:
        logger.warning("price %s/%s: upstream failed: %r", service_id, country_id, exc)
        return _remember_failure(keys, retry_after=settings.PRICE_FAILURE_BACKOFF_SECONDS)
    finally:
        client.session.close()
    return _remember(keys, _price_entry(price), good=True), False


def _pair_budget_low(client) -> bool:
    remaining = client.budget_remaining("get_price")
    if remaining is None or client.budget is None:
        return False
    return remaining <= client.budget.limit("get_price") * BULK_WHEN_PAIR_BUDGET_BELOW


def _fetch_bulk(client, *, tenant: Tenant, service_id: str, country_id: str) -> dict[str, Any]:
    """One ``prices/services?service_id=`` call: caches the price of every country it lists for the service and
    returns the asked pair's (no numbers when the list does not have the country)."""
    account = upstream_account(tenant)
    answer: dict[str, Any] = {"outcome": OUTCOME_NO_NUMBERS, "count": 0}
    for listing in client.prices_by_service(service_id=service_id):
        if listing.service_id != service_id:
            continue
        for price in listing.countries:
            if price.country_id is None or min(price.min, price.suggested, price.max, price.count) < 0:
                continue
            entry = _remember(
                _Keys.of(account=account, service_id=service_id, country_id=price.country_id),
                _price_entry(price),
                good=True,
            )
            if price.country_id == country_id:
                answer = entry
    logger.info("price %s/%s: from the bulk list (per-pair budget low)", service_id, country_id)
    if answer["outcome"] == OUTCOME_NO_NUMBERS:
        answer = _remember(_Keys.of(account=account, service_id=service_id, country_id=country_id), answer)
    return answer


def _price_entry(price) -> dict[str, Any]:
    outcome = OUTCOME_PRICE if price.count > 0 and price.suggested > 0 else OUTCOME_NO_NUMBERS
    return {"outcome": outcome, "min": price.min, "max": price.max, "suggested": price.suggested, "count": price.count}


def _remember(keys: _Keys, entry: dict[str, Any], *, good: bool = False) -> dict[str, Any]:
    """Cache an upstream answer as the pair's fresh one (and, for a price, as its last good one)."""
    entry = {**entry, "fetched_at": _now()}
    cache.set(keys.fresh, entry, timeout=settings.PRICE_CACHE_SECONDS)
    if good and entry["outcome"] == OUTCOME_PRICE:
        cache.set(keys.good, entry, timeout=settings.PRICE_STALE_MAX_SECONDS)
    return entry


def _remember_failure(keys: _Keys, *, retry_after: int) -> tuple[dict[str, Any], bool]:
    cache.set(keys.failure, {"retry_after": retry_after}, timeout=retry_after)
    return _fallback(keys, retry_after=retry_after)


def _fallback(keys: _Keys, *, retry_after: int) -> tuple[dict[str, Any], bool]:
    """The last good price if it is young enough, else ``PriceUnavailable``."""
    good = cache.get(keys.good)
    if good is not None and _now() - good["fetched_at"] <= settings.PRICE_STALE_MAX_SECONDS:
        return good, True
    raise PriceUnavailable(retry_after=retry_after)


def _lock_seconds() -> int:
    attempts = 1 + settings.PLATFONE_MAX_RETRIES
    per_attempt = settings.PLATFONE_CONNECT_TIMEOUT + settings.PLATFONE_READ_TIMEOUT + 1
    return int(attempts * per_attempt) + LOCK_MARGIN_SECONDS
