"""Reads of the catalog and the markup rules, always scoped to one tenant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from accounts.models import Tenant
from catalog.markup import DEFAULT_TERMS, MarkupTerms
from catalog.models import CatalogSync, Country, MarkupRule, Service


def services_available(*, tenant: Tenant, service_type: str | None = None) -> list[Service]:
    """The tenant's available services, by name; only those of ``service_type`` when given."""
    services = Service.objects.filter(tenant=tenant, is_available=True)
    if service_type:
        services = services.filter(Service.q_of_type(service_type))
    return list(services.order_by("name", "service_id"))


def countries_available(*, tenant: Tenant) -> list[Country]:
    """The tenant's available countries, by name."""
    return list(Country.objects.filter(tenant=tenant, is_available=True).order_by("name", "country_id"))


def services_last_modified(*, tenant: Tenant) -> datetime | None:
    """When any of the tenant's services last changed (a sync, an override, one disappearing)."""
    return Service.objects.filter(tenant=tenant).aggregate(last=Max("updated_at"))["last"]


def countries_last_modified(*, tenant: Tenant) -> datetime | None:
    return Country.objects.filter(tenant=tenant).aggregate(last=Max("updated_at"))["last"]


def catalog_synced(*, tenant: Tenant) -> bool:
    """Whether both the services and the countries were synced at least once (else only the upstream can tell
    what is sold)."""
    synced = set(
        CatalogSync.objects.filter(
            tenant=tenant, kind__in=[CatalogSync.Kind.SERVICES, CatalogSync.Kind.COUNTRIES], changed_at__isnull=False
        ).values_list("kind", flat=True)
    )
    return synced == {CatalogSync.Kind.SERVICES, CatalogSync.Kind.COUNTRIES}


def catalog_has_pair(*, tenant: Tenant, service_id: str, country_id: str) -> bool | None:
    """Whether the tenant's synced catalog lists both ids as available; None when it was never synced
    (then only the upstream can tell)."""
    if not catalog_synced(tenant=tenant):
        return None
    return (
        Service.objects.filter(tenant=tenant, service_id=service_id, is_available=True).exists()
        and Country.objects.filter(tenant=tenant, country_id=country_id, is_available=True).exists()
    )


def markup_terms_for(*, tenant: Tenant, service_id: str, country_id: str) -> MarkupTerms:
    """The terms of the most specific rule for the pair (service + country, service, country, tenant default),
    or the built-in ``DEFAULT_TERMS`` when the tenant has none of them. One query."""
    rules = MarkupRule.objects.filter(tenant=tenant, service_id__in=[service_id, ""], country_id__in=[country_id, ""])
    best = max(rules, key=lambda rule: rule.specificity, default=None)
    return best.terms() if best is not None else DEFAULT_TERMS


def catalog_sync_states(*, tenant: Tenant) -> dict[str, CatalogSync]:
    return {state.kind: state for state in CatalogSync.objects.filter(tenant=tenant)}


def markup_terms_resolver(*, tenant: Tenant) -> Callable[[str, str], MarkupTerms]:
    """``markup_terms_for`` for many pairs at once: the tenant's rules are read once (one query), and the
    returned function picks the most specific one for each pair, by the same rule."""
    rules = list(MarkupRule.objects.filter(tenant=tenant))

    def terms_for(service_id: str, country_id: str) -> MarkupTerms:
        matching = [
            rule for rule in rules if rule.service_id in (service_id, "") and rule.country_id in (country_id, "")
        ]
        best = max(matching, key=lambda rule: rule.specificity, default=None)
        return best.terms() if best is not None else DEFAULT_TERMS

    return terms_for


def catalog_available_ids(*, tenant: Tenant) -> tuple[frozenset[str], frozenset[str]] | None:
    """The ids of the tenant's available services and countries; None when the catalog was never synced (then
    only the upstream can tell what is sold), as in ``catalog_has_pair``."""
    if not catalog_synced(tenant=tenant):
        return None
    services = Service.objects.filter(tenant=tenant, is_available=True).values_list("service_id", flat=True)
    countries = Country.objects.filter(tenant=tenant, is_available=True).values_list("country_id", flat=True)
    return frozenset(services), frozenset(countries)


@dataclass(frozen=True)
class PricingTerms:
    """What a quote needs besides the upstream's price, for one tenant: whether the catalog was synced, its
    available ids, and its markup rules (service id, country id, specificity, terms). Cached as one entry
    (``catalog.pricing``), invalidated by every change of the rules or the catalog."""

    synced: bool
    services: frozenset[str]
    countries: frozenset[str]
    rules: tuple[tuple[str, str, int, MarkupTerms], ...]

    def has_pair(self, service_id: str, country_id: str) -> bool | None:
        """As ``catalog_has_pair``."""
        if not self.synced:
            return None
        return service_id in self.services and country_id in self.countries

    def terms_for(self, service_id: str, country_id: str) -> MarkupTerms:
        """As ``markup_terms_for``."""
        best = max(
            (rule for rule in self.rules if rule[0] in (service_id, "") and rule[1] in (country_id, "")),
            key=lambda rule: rule[2],
            default=None,
        )
        return best[3] if best is not None else DEFAULT_TERMS


def pricing_terms(*, tenant: Tenant) -> PricingTerms:
    """The tenant's ``PricingTerms`` from the database (four small queries; ``catalog.pricing`` caches them)."""
    ids = catalog_available_ids(tenant=tenant)
    rules = tuple(
        (rule.service_id, rule.country_id, rule.specificity, rule.terms())
        for rule in MarkupRule.objects.filter(tenant=tenant).order_by("pk")
    )
    if ids is None:
        return PricingTerms(synced=False, services=frozenset(), countries=frozenset(), rules=rules)
    return PricingTerms(synced=True, services=ids[0], countries=ids[1], rules=rules)
