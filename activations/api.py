"""The documented activation endpoints: list, create, get, poll, cancel."""

from __future__ import annotations

import dataclasses
import re

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from activations import selectors, services
from activations.models import Activation
from activations.services.evidence import EVIDENCE_MAX_BYTES, evidence_type
from catalog.serializers import CountryIdField, ServiceIdField
from core.api.serializers import COMMON_ERRORS, ErrorSerializer, TimestampField, envelope
from core.api.views import KeyedApiView, ok
from core.errors import InvalidInput, NotFound

IDEMPOTENCY_KEY_RE = r"^[\x21-\x7e]{1,100}$"


def _ts(value) -> int | None:
    return None if value is None else int(value.timestamp())


def _activation_summary(activation: Activation) -> dict:
    return {
        "id": activation.pk,
        "activation_id": activation.upstream_id,
        "phone": activation.phone,
        "country_id": activation.country_id,
        "service_id": activation.service_id,
        "price_cents": activation.price_cents,
        "sell_price_cents": activation.sell_price_cents,
    }


def _activation_detail(activation: Activation) -> dict:
    return {
        **_activation_summary(activation),
        "sms_status": activation.sms_status,
        "activation_status": activation.activation_status,
        "billing_status": activation.billing_status,
        "sms_code": activation.sms_code,
        "sms_text": activation.sms_text,
        "expire_at": _ts(activation.expire_at),
        "is_retriable": activation.retriable,
    }


class ActivationSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Our id: use it in activations/{id}.")
    activation_id = serializers.CharField(help_text="The supplier's activation id.")
    phone = serializers.CharField(help_text="E.164 with a leading +.")
    country_id = serializers.CharField()
    service_id = serializers.CharField()
    price_cents = serializers.IntegerField(help_text="Supplier (Platfone) cost.")
    sell_price_cents = serializers.IntegerField(help_text="What you pay when the SMS arrives.")


class ActivationListItemSerializer(ActivationSummarySerializer):
    sms_status = serializers.CharField()
    activation_status = serializers.CharField()
    created_at = TimestampField()


class ActivationDetailSerializer(ActivationSummarySerializer):
    sms_status = serializers.CharField(help_text="smsRequested, smsReceived, retryRequested, retryReceived")
    activation_status = serializers.CharField(help_text="active, finalized, expired, canceled")
    billing_status = serializers.CharField(help_text="held, billed, released, refunded (your side of the money)")
    sms_code = serializers.CharField(allow_null=True)
    sms_text = serializers.CharField(allow_null=True)
    expire_at = serializers.IntegerField(allow_null=True, help_text="Unix seconds")
    is_retriable = serializers.BooleanField()


class PollSerializer(serializers.Serializer):
    phone = serializers.CharField()
    sms_status = serializers.CharField()
    activation_status = serializers.CharField()
    sms_code = serializers.CharField(allow_null=True)
    sms_text = serializers.CharField(allow_null=True)
    expired = serializers.BooleanField(help_text="True once expire_at has passed, even before the supplier says so.")


class ActivationPageSerializer(serializers.Serializer):
    activations = ActivationListItemSerializer(many=True)
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()


class CancelResultSerializer(serializers.Serializer):
    result = serializers.CharField(default="canceled")


ERRORS = {**COMMON_ERRORS, 404: OpenApiResponse(ErrorSerializer, description="not_found")}
ID_PARAMETER = OpenApiParameter("activation_id", str, OpenApiParameter.PATH, description="Our activation id.")


class ActivationsView(KeyedApiView):
    class ListInput(serializers.Serializer):
        page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
        limit = serializers.IntegerField(min_value=1, max_value=50, default=20)

    class CreateInput(serializers.Serializer):
        service_id = ServiceIdField()
        country_id = CountryIdField()
        max_price = serializers.IntegerField(min_value=1, max_value=10000, required=False, allow_null=True)

    @extend_schema(
        operation_id="activations_list",
        summary="List your activations, most recent first",
        parameters=[ListInput],
        responses={200: envelope("ActivationList", ActivationPageSerializer), **ERRORS},
    )
    def get(self, request):
        params = self.ListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        page, limit = params.validated_data["page"], params.validated_data["limit"]
        items, total = selectors.activations_for_user(user=request.user, page=page, limit=limit)
        data = {
            "activations": [
                {
                    **_activation_summary(a),
                    "sms_status": a.sms_status,
                    "activation_status": a.activation_status,
                    "created_at": a.created_at,
                }
                for a in items
            ],
            "page": page,
            "limit": limit,
            "total": total,
        }
        return ok(ActivationPageSerializer(data).data)

    @extend_schema(
        operation_id="activations_create",
        summary="Order a number (you are charged only when the SMS arrives)",
        request=CreateInput,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Repeat a POST safely: the same key from the same user within 24 h returns the first "
                "result and orders nothing new. 1-100 printable ASCII characters.",
            )
        ],
        responses={
            200: envelope("ActivationCreated", ActivationSummarySerializer),
            402: OpenApiResponse(ErrorSerializer, description="insufficient_balance (+ balance_cents, required_cents)"),
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "max_price_exceeded (+ suggested_cents), order_in_progress, idempotency_key_reused, "
                    "not_configured (the storefront has no supplier set up: retrying does not help)"
                ),
            ),
            503: OpenApiResponse(ErrorSerializer, description="upstream_unavailable: nothing was charged"),
            **ERRORS,
            404: OpenApiResponse(ErrorSerializer, description="not_found (unknown service or country), no_numbers"),
        },
    )
    def post(self, request):
        params = self.CreateInput(data=request.data)
        params.is_valid(raise_exception=True)
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not re.fullmatch(IDEMPOTENCY_KEY_RE, idempotency_key):
            raise InvalidInput("Idempotency-Key must be 1-100 printable ASCII characters.")
        activation = services.activation_create(
            user=request.user,
            service_id=params.validated_data["service_id"],
            country_id=params.validated_data["country_id"],
            max_price_cents=params.validated_data.get("max_price"),
            idempotency_key=idempotency_key,
        )
        return ok(ActivationSummarySerializer(_activation_summary(activation)).data)


class _OneActivationView(KeyedApiView):
    def get_activation(self, request, activation_id) -> Activation:
        activation = selectors.activation_get_for_user(user=request.user, activation_id=activation_id)
        if activation is None:
            raise NotFound("Activation not found.")
        return activation


class ActivationDetailView(_OneActivationView):
    @extend_schema(
        operation_id="activations_get",
        summary="Get one activation (synced from the supplier first)",
        parameters=[ID_PARAMETER],
        responses={200: envelope("Activation", ActivationDetailSerializer), **ERRORS},
    )
    def get(self, request, activation_id):
        activation = self.get_activation(request, activation_id)
        activation = services.activation_refresh(activation=activation, actor=f"user:{request.user.pk}")
        return ok(ActivationDetailSerializer(_activation_detail(activation)).data)


class ActivationPollView(_OneActivationView):
    @extend_schema(
        operation_id="activations_poll",
        summary="Poll an activation for its SMS (you are charged once when it arrives)",
        parameters=[ID_PARAMETER],
        responses={200: envelope("Poll", PollSerializer), **ERRORS},
    )
    def get(self, request, activation_id):
        activation = self.get_activation(request, activation_id)
        activation = services.activation_refresh(activation=activation, actor=f"user:{request.user.pk}")
        data = {
            "phone": activation.phone,
            "sms_status": activation.sms_status,
            "activation_status": activation.activation_status,
            "sms_code": activation.sms_code,
            "sms_text": activation.sms_text,
            "expired": activation.expired,
        }
        return ok(PollSerializer(data).data)


class ActivationCancelView(_OneActivationView):
    @extend_schema(
        operation_id="activations_cancel",
        summary="Cancel an activation (refunded if you were already charged)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={
            200: envelope("CancelResult", CancelResultSerializer),
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "not_cancelable (finalized, expired, or refunded other than by a cancel; a cancel that already "
                    "happened answers 200 again), not_cancelable_yet (+ cancelable_at), refund_limit, "
                    "order_in_progress"
                ),
            ),
            503: OpenApiResponse(ErrorSerializer, description="upstream_unavailable"),
            **ERRORS,
        },
    )
    def post(self, request, activation_id):
        activation = self.get_activation(request, activation_id)
        services.activation_cancel(activation=activation, actor=f"user:{request.user.pk}")
        return ok({"result": "canceled"})


class ActivationActionView(_OneActivationView):
    """POST activations/{id}/<action>: one service call, answering the activation's new state."""

    service = None  # a service taking (activation=, actor=) and returning the activation

    def post(self, request, activation_id):
        activation = self.get_activation(request, activation_id)
        activation = type(self).service(activation=activation, actor=f"user:{request.user.pk}")
        return ok(ActivationDetailSerializer(_activation_detail(activation)).data)


ACTION_ERRORS = {
    409: OpenApiResponse(ErrorSerializer, description="not_retriable / not_finalizable / order_in_progress"),
    503: OpenApiResponse(ErrorSerializer, description="upstream_unavailable"),
    **ERRORS,
}


@extend_schema_view(
    post=extend_schema(
        operation_id="activations_retry",
        summary="Request another SMS on the same number (free; when is_retriable)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={200: envelope("ActivationRetried", ActivationDetailSerializer), **ACTION_ERRORS},
    )
)
class ActivationRetryView(ActivationActionView):
    service = services.activation_retry


@extend_schema_view(
    post=extend_schema(
        operation_id="activations_finalize",
        summary="Finalize an activation whose SMS arrived (no more SMS; frees the number)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={200: envelope("ActivationFinalized", ActivationDetailSerializer), **ACTION_ERRORS},
    )
)
class ActivationFinalizeView(ActivationActionView):
    service = services.activation_finalize


class ReportReasonSerializer(serializers.Serializer):
    reason_id = serializers.IntegerField()
    reason_name = serializers.CharField()
    evidence_required = serializers.BooleanField()


class ReportReasonsSerializer(serializers.Serializer):
    reasons = ReportReasonSerializer(many=True)


class ReportResultSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="accepted or declined")
    decline_id = serializers.IntegerField(allow_null=True, help_text="1: try another number, 2: retry the same number")


class ActivationReportReasonsView(_OneActivationView):
    @extend_schema(
        operation_id="activations_report_reasons",
        summary="Reasons a report can be filed for, given the activation's state",
        parameters=[ID_PARAMETER],
        responses={200: envelope("ReportReasons", ReportReasonsSerializer), **ACTION_ERRORS},
    )
    def get(self, request, activation_id):
        activation = self.get_activation(request, activation_id)
        reasons = services.activation_report_reasons(activation=activation, actor=f"user:{request.user.pk}")
        data = {"reasons": [dataclasses.asdict(reason) for reason in reasons]}
        return ok(ReportReasonsSerializer(data).data)


class ActivationReportView(_OneActivationView):
    # Room for a 5 MB evidence file plus the form around it; larger files are refused by the serializer,
    # which names the field, up to this size.
    max_body_bytes = 8 * 1024 * 1024

    class ReportInput(serializers.Serializer):
        reason_id = serializers.IntegerField(min_value=1, max_value=1000)
        message = serializers.CharField(max_length=1000, required=False, allow_blank=True)
        evidence = serializers.FileField(required=False, allow_empty_file=False, max_length=200)

        def validate_evidence(self, upload):
            if upload.size > EVIDENCE_MAX_BYTES:
                raise serializers.ValidationError("The evidence file is larger than 5 MB.")
            head = upload.read(16)
            upload.seek(0)
            if evidence_type(head) is None:
                raise serializers.ValidationError("Evidence must be a jpg, png, webp, zip, pdf or mp4 file.")
            return upload

    @extend_schema(
        operation_id="activations_report",
        summary="Report a problem with an activation (an approved report refunds you once)",
        request={"multipart/form-data": ReportInput, "application/json": ReportInput},
        parameters=[ID_PARAMETER],
        responses={
            200: envelope("ReportFiled", ReportResultSerializer),
            409: OpenApiResponse(ErrorSerializer, description="not_reportable"),
            503: OpenApiResponse(ErrorSerializer, description="upstream_unavailable"),
            **ERRORS,
        },
    )
    def post(self, request, activation_id):
        activation = self.get_activation(request, activation_id)
        params = self.ReportInput(data=request.data)
        params.is_valid(raise_exception=True)
        upload = params.validated_data.get("evidence")
        result = services.activation_report(
            activation=activation,
            reason_id=params.validated_data["reason_id"],
            message=params.validated_data.get("message") or None,
            evidence=upload.read() if upload else None,
            actor=f"user:{request.user.pk}",
        )
        return ok(ReportResultSerializer({"status": result.status, "decline_id": result.decline_id}).data)
