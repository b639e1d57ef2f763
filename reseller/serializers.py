"""Shapes shared by the API's OpenAPI schema: the success envelope and the error envelope."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
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
