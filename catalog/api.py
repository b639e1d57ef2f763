"""The catalog (``/api/services.php``, ``/api/countries.php``; no key) and ``GET path=price`` (key required)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from django.http import HttpResponseNotModified
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from catalog import selectors, services
from catalog.categories import TYPE_LABELS, ServiceType
from catalog.serializers import CountryIdField, ServiceIdField
from core.api.serializers import ErrorSerializer, envelope
from core.api.views import KeyedApiView, PublicApiView, ok
from core.errors import NotFound

CATALOG_MAX_AGE_SECONDS = 300
TRUE_VALUES = {"1", "true", "yes", "on"}


def _storefront_tenant(request):
    tenant = getattr(request, "tenant", None)
    if not tenant:  # request.tenant is a lazy object: test its truth, not its identity
        raise NotFound("No storefront is configured for this host.")
    return tenant


def _cacheable(request, data: dict, last_modified: datetime | None):
    """The ``ok`` response with an ETag (of the body) and Last-Modified; 304 when the client has it."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    etag = quote_etag(hashlib.sha256(body).hexdigest()[:32])
    modified = int(last_modified.timestamp()) if last_modified else None
    if get_conditional_response(request, etag=etag, last_modified=modified) is not None:
        response = HttpResponseNotModified()
    else:
        response = ok(data)
    response["ETag"] = etag
    if modified is not None:
        response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = f"public, max-age={CATALOG_MAX_AGE_SECONDS}"
    response["Vary"] = "Host"
    return response


# --- services ---------------------------------------------------------------------------------------------


TYPES_HELP = "One of " + ", ".join(ServiceType.values) + "."


class ServiceItemSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    name = serializers.CharField()
    # Plain strings in the schema: a ChoiceField here would collide with the wallet's "type" enum by name.
    type = serializers.CharField(help_text=TYPES_HELP)
    type_label = serializers.CharField(help_text="e.g. Social media, Messaging.")


class ServiceGroupSerializer(serializers.Serializer):
    label = serializers.CharField()
    services = ServiceItemSerializer(many=True)


class TypeSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text=TYPES_HELP)
    label = serializers.CharField()


class ServicesSerializer(serializers.Serializer):
    services = ServiceItemSerializer(many=True)
    by_type = serializers.DictField(
        child=ServiceGroupSerializer(),
        required=False,
        help_text="Only with grouped=1: type slug → {label, services}, for every type that has services.",
    )
    types = TypeSerializer(many=True, required=False, help_text="Only with grouped=1: the keys of by_type, in order.")


class ServicesView(PublicApiView):
    class InputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=ServiceType.values, required=False, allow_blank=True)
        grouped = serializers.CharField(required=False, allow_blank=True, max_length=10)

    @extend_schema(
        operation_id="services_list",
        summary="Services (no API key)",
        description=(
            'All services this storefront sells, by name: `{"ok": true, "data": {"services": [{service_id, '
            "name, type, type_label}]}}`. With `grouped=1`, `data` also holds `by_type` (type slug → "
            "`{label, services}`) and `types` (`[{slug, label}]`), listing only the types that have services, "
            "in the document's order. The storefront is chosen by the Host header. Responses carry ETag and "
            "Last-Modified; send If-None-Match / If-Modified-Since to get a 304. Rate-limited per client IP. "
            "Also served at /api/services.php."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "type", str, required=False, enum=ServiceType.values, description="Only services of this category."
            ),
            OpenApiParameter("grouped", str, required=False, description="Set to 1 to add by_type and types."),
        ],
        responses={
            200: envelope("Services", ServicesSerializer),
            304: OpenApiResponse(description="Not modified (If-None-Match matched)."),
            400: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def get(self, request):
        tenant = _storefront_tenant(request)
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        service_type = params.validated_data.get("type") or None
        services_list = selectors.services_available(tenant=tenant, service_type=service_type)
        items = [
            {"service_id": s.service_id, "name": s.name, "type": s.type, "type_label": s.type_label}
            for s in services_list
        ]
        data: dict = {"services": items}
        if params.validated_data.get("grouped", "").strip().lower() in TRUE_VALUES:
            data["by_type"] = {
                slug: {"label": label, "services": group}
                for slug, label in TYPE_LABELS.items()
                if (group := [item for item in items if item["type"] == slug])
            }
            data["types"] = [{"slug": slug, "label": group["label"]} for slug, group in data["by_type"].items()]
        return _cacheable(request, data, selectors.services_last_modified(tenant=tenant))


# --- countries --------------------------------------------------------------------------------------------


class CountryItemSerializer(serializers.Serializer):
    country_id = serializers.CharField()
    name = serializers.CharField()


class CountriesSerializer(serializers.Serializer):
    countries = CountryItemSerializer(many=True)


class CountriesView(PublicApiView):
    @extend_schema(
        operation_id="countries_list",
        summary="Countries (no API key)",
        description=(
            'All countries this storefront sells numbers in, by name: `{"ok": true, "data": {"countries": '
            "[{country_id, name}]}}`. Ids ending in `_v` hold virtual numbers. Same Host, caching and rate-limit "
            "rules as the services list. Also served at /api/countries.php."
        ),
        auth=[],
        responses={
            200: envelope("Countries", CountriesSerializer),
            304: OpenApiResponse(description="Not modified (If-None-Match matched)."),
            404: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def get(self, request):
        tenant = _storefront_tenant(request)
        items = [{"country_id": c.country_id, "name": c.name} for c in selectors.countries_available(tenant=tenant)]
        return _cacheable(request, {"countries": items}, selectors.countries_last_modified(tenant=tenant))


# --- price ------------------------------------------------------------------------------------------------


class PriceRangeSerializer(serializers.Serializer):
    suggested = serializers.IntegerField(help_text="Sell price (cents) at the upstream's suggested cost.")
    min = serializers.IntegerField(help_text="Sell price (cents) at the upstream's lowest cost.")
    max = serializers.IntegerField(help_text="Sell price (cents) at the upstream's highest cost.")


class PriceSerializer(serializers.Serializer):
    price = PriceRangeSerializer()
    backend_cents = serializers.IntegerField(help_text="The upstream (Platfone) suggested cost we order at.")
    sell_price_cents = serializers.IntegerField(help_text="What you pay when you create an activation now.")
    count = serializers.IntegerField(help_text="Numbers available upstream.")


class PriceView(KeyedApiView):
    class InputSerializer(serializers.Serializer):
        service_id = ServiceIdField()
        country_id = CountryIdField()

    @extend_schema(
        operation_id="price_get",
        summary="Price of a number for a service in a country",
        description=(
            "Live from Platfone, cached for 90 seconds: the sell prices (our markup included) at the upstream's "
            "suggested, lowest and highest cost, the backend cost and the stock. `sell_price_cents` is what an "
            "activation created now costs. Errors: 400 `invalid_params` (the message names the field), "
            "404 `not_found` (unknown service or country), 404 `no_numbers` (no stock right now), "
            "503 `upstream_unavailable` (Platfone unreachable and no recent price; see Retry-After), "
            "409 `not_configured` (the storefront has no supplier set up; retrying does not help)."
        ),
        parameters=[
            OpenApiParameter("service_id", str, required=True, description="e.g. whatsapp; 1–30 of [A-Za-z0-9_-]."),
            OpenApiParameter("country_id", str, required=True, description="e.g. us; 2–9 characters."),
        ],
        responses={
            200: envelope("Price", PriceSerializer),
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        quote = services.price_quote(
            tenant=request.user.tenant, spender=f"user:{request.user.pk}", **params.validated_data
        )
        data = {
            "price": {
                "suggested": quote.suggested_sell_cents,
                "min": quote.min_sell_cents,
                "max": quote.max_sell_cents,
            },
            "backend_cents": quote.backend_cents,
            "sell_price_cents": quote.sell_price_cents,
            "count": quote.count,
        }
        headers = {"Cache-Control": "private, max-age=0"}
        if quote.stale:
            headers["X-Price-Stale"] = "1"
        return ok(PriceSerializer(data).data, headers=headers)


# --- the document's legacy paths (/api/services.php, /api/countries.php): same views, own operation ids ---


@extend_schema_view(get=extend_schema(operation_id="services_list_php"))
class ServicesPhpView(ServicesView):
    pass


@extend_schema_view(get=extend_schema(operation_id="countries_list_php"))
class CountriesPhpView(CountriesView):
    pass
