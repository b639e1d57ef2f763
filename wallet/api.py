"""``GET path=wallet``: the balance, and with ``transactions=<any>`` the last 20 wallet transactions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from core.api.serializers import COMMON_ERRORS, TimestampField, envelope
from core.api.views import KeyedApiView, ok
from wallet import selectors

TRANSACTIONS_SHOWN = 20


class TransactionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["deposit", "charge", "refund", "adjustment"])
    amount_cents = serializers.IntegerField(help_text="Positive = credit, negative = debit.")
    balance_after_cents = serializers.IntegerField()
    description = serializers.CharField()
    created_at = TimestampField()


class WalletSerializer(serializers.Serializer):
    balance_cents = serializers.IntegerField()
    held_cents = serializers.IntegerField(help_text="Set aside for pending orders.")
    available_cents = serializers.IntegerField(help_text="balance_cents - held_cents: what new orders can use.")
    transactions = TransactionSerializer(many=True, required=False)


class WalletView(KeyedApiView):
    @extend_schema(
        operation_id="wallet_get",
        summary="Wallet balance (and optionally the last 20 transactions)",
        parameters=[
            OpenApiParameter(
                "transactions",
                str,
                required=False,
                description="Set to 1 (or any non-empty value) to include the last 20 transactions, newest first.",
            )
        ],
        responses={200: envelope("Wallet", WalletSerializer), **COMMON_ERRORS},
    )
    def get(self, request):
        summary = selectors.wallet_summary(user=request.user)
        data: dict[str, Any] = {
            "balance_cents": summary.balance_cents,
            "held_cents": summary.held_cents,
            "available_cents": summary.available_cents,
        }
        if request.query_params.get("transactions"):
            data["transactions"] = selectors.wallet_transactions(user=request.user, limit=TRANSACTIONS_SHOWN)
        return ok(WalletSerializer(data).data)
