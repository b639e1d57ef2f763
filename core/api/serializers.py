"""Shapes shared by the API's OpenAPI schema: the success envelope and the error envelope."""

from __future__ import annotations

from datetime import UTC

from drf_spectacular.utils import OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import serializers


def envelope(name: str, data_serializer) -> serializers.Serializer:
    """``{"ok": true, "data": <data_serializer>}`` for the schema."""
    data = data_serializer() if isinstance(data_serializer, type) else data_serializer
    return inline_serializer(
        name=f"{name}Response", fields={"ok": serializers.BooleanField(default=True), "data": data}
    )


class ErrorSerializer(serializers.Serializer):
    ok = serializers.BooleanField(default=False)
    error = serializers.CharField(help_text="A friendly, human-readable message.")
    code = serializers.CharField(help_text="invalid_params, invalid_key, insufficient_balance, not_found, ...")


@extend_schema_field(
    {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "example": "2025-02-15 12:00:00"}
)
class TimestampField(serializers.DateTimeField):
    """The document's timestamps: ``YYYY-MM-DD HH:MM:SS`` in UTC (not ISO 8601)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d %H:%M:%S")
        kwargs.setdefault("default_timezone", UTC)
        kwargs.setdefault("help_text", "UTC, YYYY-MM-DD HH:MM:SS")
        super().__init__(**kwargs)


COMMON_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="invalid_params"),
    401: OpenApiResponse(ErrorSerializer, description="invalid_key"),
    429: OpenApiResponse(ErrorSerializer, description="rate_limit (Retry-After: 60)"),
}
