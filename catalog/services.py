"""Writes and business rules of the catalog: syncing from Platfone, categories, markup and prices.

What the activations module calls (keep these names):

- ``price_quote(*, tenant, service_id, country_id) -> PriceQuote`` (see ``catalog.pricing``); the quote
  carries the markup terms it was priced with (``quote.sell(cost)``, ``quote.max_backend_for_sell(cents)``)
- ``catalog.upstream.client_for_tenant(tenant)``

What interfaces showing many prices call: ``price_list(*, tenant, service_id=None, country_id=None) -> PriceList``
(see ``catalog.price_lists``: the upstream's bulk lists, cached, never one call per pair).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import selectors as accounts_selectors
from accounts.models import Tenant
from catalog.categories import ServiceType, classify
from catalog.errors import UpstreamNotConfigured
from catalog.models import CatalogSync, Country, MarkupRule, Service
from catalog.price_lists import ListedPrice, PriceList, price_list
from catalog.pricing import PriceQuote, price_quote, pricing_terms_invalidate
from catalog.upstream import client_for_tenant
from platfone.client import PlatfoneClient
from platfone.errors import PlatfoneError, UpstreamUnavailable
from platfone.types import CatalogResult
from platfone.types import Country as UpstreamCountry
from platfone.types import Service as UpstreamService

__all__ = [
    "CatalogSyncOutcome",
    "CatalogSyncReport",
    "ListedPrice",
    "PriceList",
    "PriceQuote",
    "catalog_sync",
    "catalog_sync_all",
    "markup_rule_save",
    "price_list",
    "price_quote",
    "service_set_type_override",
]

logger = logging.getLogger("catalog.sync")

_SERVICE_FIELDS = ["name", "alt_name", "has_description", "has_warning", "auto_type", "is_available"]
_COUNTRY_FIELDS = ["name", "alt_name", "codes", "is_available"]


# --- prices -------------------------------------------------------------------------------------------


@transaction.atomic
def markup_rule_save(*, rule: MarkupRule) -> MarkupRule:
    """Validate and save a markup rule (the admin saves through here). Raises ``ValidationError``."""
    rule.full_clean()
    rule.save()
    return rule


# --- categories ---------------------------------------------------------------------------------------


@transaction.atomic
def service_set_type_override(*, service: Service, type_override: str) -> Service:
    """Force a service's category ("" goes back to the automatic one)."""
    if type_override and type_override not in ServiceType.values:
        raise ValidationError({"type_override": f"Unknown type {type_override!r}."})
    Service.objects.filter(pk=service.pk).update(type_override=type_override, updated_at=timezone.now())
    service.refresh_from_db()
    return service


# --- sync ---------------------------------------------------------------------------------------------


@dataclass
class CatalogSyncReport:
    """What one sync of one tenant did, per list: ``not_modified`` kinds cost a 304 and no write."""

    tenant: str
    not_modified: list[str] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unavailable: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        for kind in CatalogSync.Kind.values:
            if kind in self.not_modified:
                parts.append(f"{kind}: not modified")
            elif kind in self.created:
                parts.append(
                    f"{kind}: {self.created[kind]} new, {self.updated[kind]} updated, "
                    f"{self.unavailable.get(kind, 0)} gone"
                )
        return f"{self.tenant}: " + "; ".join(parts)


def catalog_sync(*, tenant: Tenant, force: bool = False, client: PlatfoneClient | None = None) -> CatalogSyncReport:
    """Bring the tenant's services, popular flags and countries in line with its upstream account.

    Each list is asked for with the ETag we stored (unless ``force``): an unchanged list is a 304 and writes
    nothing. A changed list is applied in one transaction: new rows created, changed rows updated, rows
    missing upstream marked unavailable (never deleted). An empty services or countries list is refused as an
    upstream fault rather than emptying the storefront. Raises ``PlatfoneError`` (after recording it on the
    sync state) when the upstream fails; lists already applied stay applied.
    """
    own_client = client is None
    client = client or client_for_tenant(tenant)
    report = CatalogSyncReport(tenant=tenant.slug)
    # Each list: how it is fetched, and how its items are applied to our rows.
    lists: dict[str, tuple[Callable[..., CatalogResult[Any]], Callable[..., tuple[int, int, int]]]] = {
        CatalogSync.Kind.SERVICES: (client.services, _apply_services),
        CatalogSync.Kind.POPULAR_SERVICES: (client.popular_services, _apply_popular),
        CatalogSync.Kind.COUNTRIES: (client.countries, _apply_countries),
    }
    try:
        for kind, (fetch, apply_items) in lists.items():
            state, _ = CatalogSync.objects.get_or_create(tenant=tenant, kind=kind)
            try:
                result = fetch(etag=None if force or not state.etag else state.etag)
                if not result.not_modified and not result.items and kind != CatalogSync.Kind.POPULAR_SERVICES:
                    raise UpstreamUnavailable(f"Platfone returned an empty {kind} list; kept ours unchanged")
            except PlatfoneError as exc:
                CatalogSync.objects.filter(pk=state.pk).update(last_error=str(exc)[:500])
                raise
            _apply(tenant=tenant, state=state, result=result, apply_items=apply_items, report=report)
    finally:
        if own_client:
            client.session.close()
    logger.info("catalog sync %s", report.summary())
    return report


@transaction.atomic
def _apply(
    *,
    tenant: Tenant,
    state: CatalogSync,
    result: CatalogResult[Any],
    apply_items: Callable[..., tuple[int, int, int]],
    report: CatalogSyncReport,
) -> None:
    now = timezone.now()
    kind = state.kind
    if result.not_modified:
        report.not_modified.append(kind)
        CatalogSync.objects.filter(pk=state.pk).update(checked_at=now, last_error="")
        return
    counts = apply_items(tenant=tenant, items=result.items or ())
    pricing_terms_invalidate(tenant_id=tenant.pk)  # the available ids may have changed
    report.created[kind], report.updated[kind], report.unavailable[kind] = counts
    CatalogSync.objects.filter(pk=state.pk).update(
        etag=result.etag or "", checked_at=now, changed_at=now, last_error=""
    )


def _apply_services(*, tenant: Tenant, items: tuple[UpstreamService, ...]) -> tuple[int, int, int]:
    def values(item: UpstreamService) -> dict:
        return {
            "name": item.name[:200],
            "alt_name": item.alt_name or "",
            "has_description": item.has_description,
            "has_warning": item.has_warning,
            "auto_type": classify(service_id=item.service_id, name=item.name, alt_name=item.alt_name).value,
            "is_available": True,
        }

    return _upsert(Service, tenant=tenant, key="service_id", items=items, values=values, fields=_SERVICE_FIELDS)


def _apply_popular(*, tenant: Tenant, items: tuple[UpstreamService, ...]) -> tuple[int, int, int]:
    popular = {item.service_id for item in items}
    to_update = []
    for service in Service.objects.select_for_update().filter(tenant=tenant):
        if service.is_popular != (service.service_id in popular):
            service.is_popular = service.service_id in popular
            to_update.append(service)
    _write(Service, [], to_update, ["is_popular"])
    return 0, len(to_update), 0


def _apply_countries(*, tenant: Tenant, items: tuple[UpstreamCountry, ...]) -> tuple[int, int, int]:
    def values(item: UpstreamCountry) -> dict:
        return {
            "name": item.name[:200],
            "alt_name": item.alt_name or "",
            "codes": list(item.codes),
            "is_available": True,
        }

    return _upsert(Country, tenant=tenant, key="country_id", items=items, values=values, fields=_COUNTRY_FIELDS)


def _upsert(model, *, tenant: Tenant, key: str, items, values, fields) -> tuple[int, int, int]:
    """Bring the tenant's rows of ``model`` in line with the upstream list: create the new, update the
    changed, mark the ones that disappeared unavailable (never delete: old activations point at them).
    Returns (created, updated, made unavailable)."""
    existing = {getattr(row, key): row for row in model.objects.select_for_update().filter(tenant=tenant)}
    to_create, to_update, seen = [], [], set()
    for item in items:
        item_key = getattr(item, key)
        if item_key in seen:
            continue
        seen.add(item_key)
        item_values = values(item)
        row = existing.get(item_key)
        if row is None:
            to_create.append(model(tenant=tenant, **{key: item_key}, **item_values))
        elif _changed(row, item_values):
            to_update.append(row)
    gone = [row for row_key, row in existing.items() if row_key not in seen and row.is_available]
    for row in gone:
        row.is_available = False
    _write(model, to_create, to_update + gone, fields)
    return len(to_create), len(to_update), len(gone)


def _changed(obj, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _write(model, to_create: list, to_update: list, fields: list[str]) -> None:
    now = timezone.now()
    for obj in to_update:
        obj.updated_at = now  # bulk_update skips auto_now; Last-Modified of the catalog endpoints reads it
    model.objects.bulk_create(to_create, batch_size=500)
    model.objects.bulk_update(to_update, [*fields, "updated_at"], batch_size=500)


@dataclass(frozen=True)
class CatalogSyncOutcome:
    tenant: str
    report: CatalogSyncReport | None
    error: str | None


def catalog_sync_all(*, force: bool = False, tenants: list[Tenant] | None = None) -> list[CatalogSyncOutcome]:
    """Sync every active tenant that has upstream credentials (or ``tenants``). One tenant's failure is
    recorded in its outcome and does not stop the others."""
    if tenants is None:
        tenants = accounts_selectors.tenants_with_upstream()
    outcomes = []
    for tenant in tenants:
        try:
            outcomes.append(CatalogSyncOutcome(tenant.slug, catalog_sync(tenant=tenant, force=force), None))
        except (PlatfoneError, UpstreamNotConfigured) as exc:
            logger.warning("catalog sync of %s failed: %s", tenant.slug, exc)
            outcomes.append(CatalogSyncOutcome(tenant.slug, None, str(exc)))
    return outcomes
