"""The application's URLs plus ``/bench/ceiling`` (only with ``DJANGO_SETTINGS_MODULE=bench.settings``)."""

from django.urls import include, path

from bench.ceiling import ceiling

urlpatterns = [
    path("bench/ceiling", ceiling, name="bench-ceiling"),
    path("", include("reseller.urls")),
]
