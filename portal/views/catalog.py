"""The public catalog: services by category (popular first), a service's countries with prices and stock,
and the same from a country's side."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404
from django.shortcuts import render

from activations import selectors as activation_selectors
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.categories import TYPE_LABELS
from catalog.errors import PriceUnavailable, UpstreamNotConfigured
from portal import selectors
from portal.errors import page_error
from portal.views.base import storefront_view

SORTS = ("price", "name", "stock")


def _sort_key(sort: str):
    if sort == "name":
        return lambda row: (row["name"].lower(),)
    if sort == "stock":
        return lambda row: ((row["count"] or 0) <= 0, -(row["count"] or 0), row["name"].lower())
    return lambda row: (row["price"] is None, row["count"] == 0, row["price"] or 0, row["name"].lower())


def _rows(items, price_list, *, key: str, fixed: dict):
    """Rows of a price table: each item with its listed price and stock (None/0 when the list has none)."""
    rows = []
    for item in items:
        listed = price_list.prices.get(getattr(item, key)) if price_list else None
        rows.append(
            {
                **fixed,
                key: getattr(item, key),
                "id": getattr(item, key),
                "name": item.name,
                "price": listed.sell_price_cents if listed else None,
                # None: unknown (no price list right now): the row stays buyable, the confirmation quotes live
                "count": listed.count if listed else (None if price_list is None else 0),
            }
        )
    return rows


@dataclass(frozen=True)
class _Listing:
    prices: dict  # the listed pairs by the other id (country_id on a service's page, service_id on a country's)
    stale: bool


def _price_list(*, tenant, key: str, **scope):
    """The row of the price matrix a page shows. It reads the storefront's full price list (one supplier call
    per PRICE_CACHE_SECONDS covers every page), so browsing costs the supplier's tight bulk budget nothing
    more whatever the pages asked for."""
    try:
        listing = catalog_services.price_list(tenant=tenant)
    except (PriceUnavailable, UpstreamNotConfigured) as exc:
        return None, page_error(exc)
    row = [price for price in listing.prices if all(getattr(price, name) == value for name, value in scope.items())]
    return _Listing(prices={getattr(price, key): price for price in row}, stale=listing.stale), None


@storefront_view
def catalog(request):
    tenant = request.tenant
    services = catalog_selectors.services_available(tenant=tenant)
    popular = [s for s in services if s.is_popular]
    groups = [
        {"slug": slug, "label": label, "services": group}
        for slug, label in TYPE_LABELS.items()
        if (group := sorted((s for s in services if s.type == slug), key=lambda s: (not s.is_popular, s.name.lower())))
    ]
    return render(
        request,
        "portal/catalog/index.html",
        {
            "popular": popular,
            "groups": groups,
            "service_count": len(services),
            "query": request.GET.get("q", ""),
            **_mine(request, services),
        },
    )


RECENT_PAIRS = 5


def _mine(request, services) -> dict:
    """The signed-in user's starred services and countries and their last purchases ("buy again"), each
    with the catalog's names; ids that left the catalog are left out."""
    user = request.user
    if not user.is_authenticated:
        return {}
    starred = selectors.favourite_ids(user=user)
    countries = catalog_selectors.countries_available(tenant=request.tenant)
    service_names = {s.service_id: s.name for s in services}
    country_names = {c.country_id: c.name for c in countries}
    recent = [
        {**row, "service_name": service_names[row["service_id"]], "country_name": country_names[row["country_id"]]}
        for row in activation_selectors.recent_purchases_for_user(user=user, limit=RECENT_PAIRS)
        if row["service_id"] in service_names and row["country_id"] in country_names
    ]
    return {
        "favourite_services": [s for s in services if s.service_id in starred["service"]],
        "favourite_countries": [c for c in countries if c.country_id in starred["country"]],
        "recent_pairs": recent,
    }


def _sort(request) -> str:
    sort = request.GET.get("sort", "price")
    return sort if sort in SORTS else "price"


@storefront_view
def service_detail(request, service_id: str):
    tenant = request.tenant
    service = next((s for s in catalog_selectors.services_available(tenant=tenant) if s.service_id == service_id), None)
    if service is None:
        raise Http404("Unknown service.")
    countries = catalog_selectors.countries_available(tenant=tenant)
    price_list, error = _price_list(tenant=tenant, key="country_id", service_id=service_id)
    sort = _sort(request)
    rows = sorted(_rows(countries, price_list, key="country_id", fixed={"service_id": service_id}), key=_sort_key(sort))
    return render(
        request,
        "portal/catalog/service.html",
        {
            "service": service,
            "starred": service_id in selectors.favourite_ids(user=request.user)["service"],
            "rows": rows,
            "sort": sort,
            "stale": bool(price_list and price_list.stale),
            "error": error,
        },
    )


@storefront_view
def countries(request):
    return render(
        request,
        "portal/catalog/countries.html",
        {"countries": catalog_selectors.countries_available(tenant=request.tenant)},
    )


@storefront_view
def country_detail(request, country_id: str):
    tenant = request.tenant
    country = next(
        (c for c in catalog_selectors.countries_available(tenant=tenant) if c.country_id == country_id), None
    )
    if country is None:
        raise Http404("Unknown country.")
    services = catalog_selectors.services_available(tenant=tenant)
    price_list, error = _price_list(tenant=tenant, key="service_id", country_id=country_id)
    sort = _sort(request)
    rows = sorted(_rows(services, price_list, key="service_id", fixed={"country_id": country_id}), key=_sort_key(sort))
    return render(
        request,
        "portal/catalog/country.html",
        {
            "country": country,
            "starred": country_id in selectors.favourite_ids(user=request.user)["country"],
            "rows": rows,
            "sort": sort,
            "stale": bool(price_list and price_list.stale),
            "error": error,
        },
    )
