from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from activations.webhooks import platfone_webhook
from catalog.api import CountriesPhpView, ServicesPhpView
from compat.views import handler_api
from core.api.router import api_not_found, index_php
from reseller.health import PlatformHealthView, SupplierHealthView


def healthz(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("health/", PlatformHealthView.as_view(), name="health"),
    path("health/suppliers/", SupplierHealthView.as_view(), name="health-suppliers"),
    path("api/v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("api/v1/index.php", index_php, name="api-index"),
    re_path(r"^api/v1/index\.php/(?P<subpath>.*)$", index_php),
    path("api/v1/", include("reseller.api_urls")),
    re_path(r"^api/services\.php$", ServicesPhpView.as_view(), name="api-services-php"),
    re_path(r"^api/countries\.php$", CountriesPhpView.as_view(), name="api-countries-php"),
    re_path(r"^api/", api_not_found),
    path("webhooks/platfone/<slug:tenant_slug>/", platfone_webhook, name="platfone-webhook"),
    path("stubs/handler_api.php", handler_api, name="sms-activate-handler"),
    path("payments/", include("payments.urls")),
    path("admin/", admin.site.urls),
    path("", include("portal.urls")),  # the storefront, at the root of each tenant's host
]

handler400 = "core.api.fallback.bad_request"
handler404 = "core.api.fallback.page_not_found"
handler500 = "core.api.fallback.server_error"
