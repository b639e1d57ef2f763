"""Activation use cases. ``apply_upstream_state`` (in ``settlement``) is the one writer of state and money."""

from activations.services.actions import (
    activation_cancel,
    activation_finalize,
    activation_refund,
    activation_report,
    activation_report_reasons,
    activation_retry,
)
from activations.services.ordering import activation_create
from activations.services.settlement import Outcome, apply_upstream_state
from activations.services.sync import activation_refresh, sync_due_activations
from activations.services.webhooks import (
    webhook_event_apply,
    webhook_event_record,
    webhook_failure_note,
    webhooks_healthy,
)

__all__ = [
    "Outcome",
    "activation_cancel",
    "activation_create",
    "activation_finalize",
    "activation_refresh",
    "activation_refund",
    "activation_report",
    "activation_report_reasons",
    "activation_retry",
    "apply_upstream_state",
    "sync_due_activations",
    "webhook_event_apply",
    "webhook_event_record",
    "webhook_failure_note",
    "webhooks_healthy",
]
