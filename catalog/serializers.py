"""Input fields every interface validates service and country ids with (the one definition of their syntax)."""

from __future__ import annotations

from rest_framework import serializers

from catalog.models import COUNTRY_ID_PATTERN, SERVICE_ID_PATTERN


class ServiceIdField(serializers.RegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages", {"invalid": "Use 1–30 letters, digits, dashes or underscores (e.g. whatsapp)."}
        )
        super().__init__(SERVICE_ID_PATTERN, max_length=30, **kwargs)


class CountryIdField(serializers.RegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages", {"invalid": "Use 2–9 letters or digits, optionally joined by - or _ (e.g. us, us_v)."}
        )
        super().__init__(COUNTRY_ID_PATTERN, max_length=9, **kwargs)
