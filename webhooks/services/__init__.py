"""Webhook use cases: endpoints (register, rotate, disable ...) and the delivery of outbox events to them."""

from webhooks.services.delivery import (
    delivery_attempt,
    delivery_redeliver,
    fan_out_event,
    webhooks_sweep,
)
from webhooks.services.endpoints import (
    ALL_EVENTS,
    IssuedEndpoint,
    endpoint_create,
    endpoint_delete,
    endpoint_disable,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_secrets_reencrypt,
    endpoint_send_test,
    endpoint_update,
)

__all__ = [
    "ALL_EVENTS",
    "IssuedEndpoint",
    "delivery_attempt",
    "delivery_redeliver",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_enable",
    "endpoint_rotate_secret",
    "endpoint_secrets_reencrypt",
    "endpoint_send_test",
    "endpoint_update",
    "fan_out_event",
    "webhooks_sweep",
]
