"""The webhook endpoints of the JSON API: ``webhooks``, ``webhooks/{id}`` and their actions.

Each view parses its input, finds the caller's own endpoint (another user's or tenant's is ``404 not_found``)
and calls one service; the signing secret appears in the answers of create and rotate only.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from core.api.serializers import COMMON_ERRORS, ErrorSerializer, TimestampField, envelope
from core.api.views import KeyedApiView, ok
from core.errors import NotFound
from core.events import EVENT_TYPES
from webhooks import selectors, services
from webhooks.models import ALL_EVENTS, Attempt, Delivery, Endpoint

EVENT_CHOICES = [ALL_EVENTS, *EVENT_TYPES]
SIGNATURE_NOTE = (
    "Each delivery is a POST of the event as JSON with the headers X-Event-Id (the same on every attempt: "
    "de-duplicate by it), X-Event-Type and X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "
    '"<t>.<raw body>" keyed with the secret> (one v1 per valid secret while a rotated-out secret lasts). '
    "Answer with a 2xx within a few seconds (5 s by default); anything else is retried for 24 hours."
)


def _endpoint_data(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason or None,
        "disabled_at": endpoint.disabled_at,
        "failing_since": endpoint.failing_since,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at
        if len(endpoint.signing_secrets()) > 1
        else None,
        "created_at": endpoint.created_at,
    }


def _attempt_data(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "manual": attempt.manual,
        "started_at": attempt.started_at,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "succeeded": attempt.succeeded,
        "error": attempt.error or None,
        "response_snippet": attempt.response_snippet,
    }


def _delivery_data(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "event_id": delivery.event.event_id,
        "event_type": delivery.event.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == Delivery.Status.PENDING else None,
        "failure_reason": delivery.failure_reason or None,
        "created_at": delivery.created_at,
        "completed_at": delivery.completed_at,
        "log": [_attempt_data(attempt) for attempt in delivery.attempt_log.all()],
    }


# --- output shapes (for the schema and the rendering) --------------------------------------------------


class EndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))
    status = serializers.ChoiceField(choices=Endpoint.Status.choices)
    disabled_reason = serializers.ChoiceField(
        choices=Endpoint.DisabledReason.choices, allow_null=True, help_text="user, or failing (24 h of failures)"
    )
    disabled_at = TimestampField(allow_null=True)
    failing_since = TimestampField(allow_null=True, help_text="Start of the current run of failed attempts.")
    previous_secret_expires_at = TimestampField(
        allow_null=True, help_text="Until then the secret replaced by the last rotation still signs too."
    )
    created_at = TimestampField()


class IssuedEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret. Shown in this answer only: store it now.")


class EndpointListSerializer(serializers.Serializer):
    endpoints = EndpointSerializer(many=True)


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    manual = serializers.BooleanField(help_text="Asked for with redeliver.")
    started_at = TimestampField()
    status_code = serializers.IntegerField(allow_null=True, help_text="None when no answer came.")
    latency_ms = serializers.IntegerField(allow_null=True)
    succeeded = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)
    response_snippet = serializers.CharField(allow_blank=True, help_text="The first 1 KB of your answer.")


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = TimestampField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    created_at = TimestampField()
    completed_at = TimestampField(allow_null=True)
    log = AttemptSerializer(many=True)


class DeliveryPageSerializer(serializers.Serializer):
    deliveries = DeliverySerializer(many=True)
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()


class OneDeliverySerializer(serializers.Serializer):
    delivery = DeliverySerializer()


class DeletedSerializer(serializers.Serializer):
    result = serializers.CharField(default="deleted")


ERRORS = {**COMMON_ERRORS, 404: OpenApiResponse(ErrorSerializer, description="not_found")}
DISABLED_ERRORS = {**ERRORS, 409: OpenApiResponse(ErrorSerializer, description="webhook_disabled")}
ID_PARAMETER = OpenApiParameter("endpoint_id", int, OpenApiParameter.PATH, description="The endpoint's id.")


# --- views ---------------------------------------------------------------------------------------------


class WebhooksView(KeyedApiView):
    class WebhookCreateInput(serializers.Serializer):
        url = serializers.CharField(
            max_length=2000, help_text="https://... (plain http only to loopback where the operator allows it)."
        )
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=EVENT_CHOICES),
            allow_empty=False,
            max_length=len(EVENT_CHOICES),
            required=False,
            help_text='Event types to receive; ["*"] (the default) for all, including types added later.',
        )
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        operation_id="webhooks_list",
        summary="List your webhook endpoints",
        responses={200: envelope("WebhookList", EndpointListSerializer), **COMMON_ERRORS},
    )
    def get(self, request):
        endpoints = selectors.endpoints_for_user(user=request.user)
        return ok(EndpointListSerializer({"endpoints": [_endpoint_data(e) for e in endpoints]}).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Register a webhook endpoint (its signing secret is in this answer only)",
        description=SIGNATURE_NOTE,
        request=WebhookCreateInput,
        responses={
            200: envelope("WebhookCreated", IssuedEndpointSerializer),
            409: OpenApiResponse(ErrorSerializer, description="webhook_limit (10 endpoints per user)"),
            **COMMON_ERRORS,
        },
    )
    def post(self, request):
        params = self.WebhookCreateInput(data=request.data)
        params.is_valid(raise_exception=True)
        issued = services.endpoint_create(
            user=request.user,
            url=params.validated_data["url"],
            events=params.validated_data.get("events"),
            description=params.validated_data.get("description", ""),
        )
        return ok(IssuedEndpointSerializer({**_endpoint_data(issued.endpoint), "secret": issued.secret}).data)


class _OneEndpointView(KeyedApiView):
    def get_endpoint(self, request, endpoint_id) -> Endpoint:
        endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
        if endpoint is None:
            raise NotFound("Webhook endpoint not found.")
        return endpoint


class WebhookDetailView(_OneEndpointView):
    class WebhookUpdateInput(serializers.Serializer):
        url = serializers.CharField(max_length=2000, required=False)
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=EVENT_CHOICES),
            allow_empty=False,
            max_length=len(EVENT_CHOICES),
            required=False,
        )
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        operation_id="webhooks_get",
        summary="One webhook endpoint",
        parameters=[ID_PARAMETER],
        responses={200: envelope("Webhook", EndpointSerializer), **ERRORS},
    )
    def get(self, request, endpoint_id):
        return ok(EndpointSerializer(_endpoint_data(self.get_endpoint(request, endpoint_id))).data)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change an endpoint's URL, events or description",
        request=WebhookUpdateInput,
        parameters=[ID_PARAMETER],
        responses={200: envelope("WebhookUpdated", EndpointSerializer), **ERRORS},
    )
    def patch(self, request, endpoint_id):
        endpoint = self.get_endpoint(request, endpoint_id)
        params = self.WebhookUpdateInput(data=request.data)
        params.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(
            endpoint=endpoint,
            url=params.validated_data.get("url"),
            events=params.validated_data.get("events"),
            description=params.validated_data.get("description"),
        )
        return ok(EndpointSerializer(_endpoint_data(endpoint)).data)

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Delete an endpoint and its delivery log",
        parameters=[ID_PARAMETER],
        responses={200: envelope("WebhookDeleted", DeletedSerializer), **ERRORS},
    )
    def delete(self, request, endpoint_id):
        services.endpoint_delete(endpoint=self.get_endpoint(request, endpoint_id))
        return ok({"result": "deleted"})


@extend_schema_view(
    post=extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Rotate the signing secret (the old one keeps signing for 24 h; the new one is in this answer only)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={200: envelope("WebhookSecretRotated", IssuedEndpointSerializer), **ERRORS},
    )
)
class WebhookRotateView(_OneEndpointView):
    def post(self, request, endpoint_id):
        issued = services.endpoint_rotate_secret(endpoint=self.get_endpoint(request, endpoint_id))
        return ok(IssuedEndpointSerializer({**_endpoint_data(issued.endpoint), "secret": issued.secret}).data)


class WebhookStateView(_OneEndpointView):
    """POST webhooks/{id}/disable|enable: one service call, answering the endpoint."""

    service: Any = None

    def post(self, request, endpoint_id):
        endpoint = type(self).service(endpoint=self.get_endpoint(request, endpoint_id))
        return ok(EndpointSerializer(_endpoint_data(endpoint)).data)


@extend_schema_view(
    post=extend_schema(
        operation_id="webhooks_disable",
        summary="Disable an endpoint (pending deliveries are closed; nothing is sent while disabled)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={200: envelope("WebhookDisabled", EndpointSerializer), **ERRORS},
    )
)
class WebhookDisableView(WebhookStateView):
    service = services.endpoint_disable


@extend_schema_view(
    post=extend_schema(
        operation_id="webhooks_enable",
        summary="Enable an endpoint again (also after an automatic disable)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={200: envelope("WebhookEnabled", EndpointSerializer), **ERRORS},
    )
)
class WebhookEnableView(WebhookStateView):
    service = services.endpoint_enable


class WebhookTestView(_OneEndpointView):
    @extend_schema(
        operation_id="webhooks_send_test",
        summary="Send a webhook.test event to this endpoint (delivered and logged like any event)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={200: envelope("WebhookTestQueued", OneDeliverySerializer), **DISABLED_ERRORS},
    )
    def post(self, request, endpoint_id):
        delivery = services.endpoint_send_test(endpoint=self.get_endpoint(request, endpoint_id))
        delivery = selectors.delivery_get(endpoint=delivery.endpoint, delivery_id=delivery.pk) or delivery
        return ok(OneDeliverySerializer({"delivery": _delivery_data(delivery)}).data)


class WebhookDeliveriesView(_OneEndpointView):
    class DeliveryListInput(serializers.Serializer):
        page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
        limit = serializers.IntegerField(min_value=1, max_value=50, default=20)
        status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)

    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="The endpoint's delivery log, newest first (every attempt: status, latency, first 1 KB of the answer)",
        parameters=[ID_PARAMETER, DeliveryListInput],
        responses={200: envelope("WebhookDeliveries", DeliveryPageSerializer), **ERRORS},
    )
    def get(self, request, endpoint_id):
        endpoint = self.get_endpoint(request, endpoint_id)
        params = self.DeliveryListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        page, limit = params.validated_data["page"], params.validated_data["limit"]
        items, total = selectors.deliveries_for_endpoint(
            endpoint=endpoint, page=page, limit=limit, status=params.validated_data.get("status")
        )
        data = {"deliveries": [_delivery_data(d) for d in items], "page": page, "limit": limit, "total": total}
        return ok(DeliveryPageSerializer(data).data)


class WebhookRedeliverView(_OneEndpointView):
    @extend_schema(
        operation_id="webhooks_redeliver",
        summary="Send a delivery again now (same event id; retried as usual if it fails within the event's 24 h)",
        request=None,
        parameters=[
            ID_PARAMETER,
            OpenApiParameter("delivery_id", int, OpenApiParameter.PATH, description="The delivery's id."),
        ],
        responses={200: envelope("WebhookRedelivered", OneDeliverySerializer), **DISABLED_ERRORS},
    )
    def post(self, request, endpoint_id, delivery_id):
        endpoint = self.get_endpoint(request, endpoint_id)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        if delivery is None:
            raise NotFound("Delivery not found.")
        services.delivery_redeliver(endpoint=endpoint, delivery=delivery)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery.pk) or delivery
        return ok(OneDeliverySerializer({"delivery": _delivery_data(delivery)}).data)
