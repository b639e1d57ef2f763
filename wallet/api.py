"""``GET path=wallet``: the balance, and with ``transactions=<any>`` the last 20 wallet transactions;
``wallet/low-balance``: the user's low-balance alert level."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from core.api.serializers import COMMON_ERRORS, TimestampField, envelope
from core.api.views import KeyedApiView, ok
from wallet import selectors, services
from wallet.services import MAX_AMOUNT_CENTS

TRANSACTIONS_SHOWN = 20


class TransactionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["deposit", "charge", "refund", "adjustment", "deposit_reversal"])
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


class LowBalanceSerializer(serializers.Serializer):
    threshold_cents = serializers.IntegerField(
        allow_null=True,
        help_text="Below this balance you receive the wallet.low_balance webhook event; null: no alert.",
    )


class WalletLowBalanceView(KeyedApiView):
    """``wallet/low-balance``: the balance below which the user hears ``wallet.low_balance``."""

    class LowBalanceInput(serializers.Serializer):
        threshold_cents = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT_CENTS, allow_null=True)

    @extend_schema(
        operation_id="wallet_low_balance_get",
        summary="Your low-balance alert level",
        responses={200: envelope("LowBalance", LowBalanceSerializer), **COMMON_ERRORS},
    )
    def get(self, request):
        return ok(LowBalanceSerializer({"threshold_cents": selectors.low_balance_threshold(user=request.user)}).data)

    @extend_schema(
        operation_id="wallet_low_balance_set",
        summary="Set (or with null, remove) your low-balance alert level",
        description="When a charge or debit takes your balance from at or above this level to below it, the "
        "wallet.low_balance event is sent to your webhook endpoints (once per crossing).",
        request=LowBalanceInput,
        responses={200: envelope("LowBalanceSet", LowBalanceSerializer), **COMMON_ERRORS},
    )
    def post(self, request):
        params = self.LowBalanceInput(data=request.data)
        params.is_valid(raise_exception=True)
        wallet = services.low_balance_threshold_set(
            user=request.user, threshold_cents=params.validated_data["threshold_cents"]
        )
        return ok(LowBalanceSerializer({"threshold_cents": wallet.low_balance_threshold_cents}).data)
