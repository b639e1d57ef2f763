"""``POST /webhooks/platfone/<tenant>/``: the upstream tells us an activation changed.

Verified with the tenant's webhook secret (``platfone.webhooks.verify``: signature and a 5-minute
timestamp window), stored once per event id, and answered: a ``notify`` worker applies it after the commit
through ``apply_upstream_state`` — the same path as polling, so a webhook racing a poll charges once — and the
beat's sweep applies any the queue missed. Nothing here calls the upstream or locks an activation or an account.
"""

from __future__ import annotations

import json
import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import selectors as accounts_selectors
from activations import services
from activations.models import WebhookEvent
from activations.services.issues import invalid_upstream_data
from platfone import webhooks
from platfone.types import ParseError

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 256 * 1024
MAX_EVENT_ID_LENGTH = WebhookEvent._meta.get_field("event_id").max_length


def _raw_activation_id(body: bytes) -> str:
    """The activation id of an event we could not parse, if one can be read at all (for the operators' issue)."""
    try:
        data = json.loads(body).get("data") or {}
        raw = (data.get("activation") or data).get("activation_id")
    except (ValueError, AttributeError):
        return ""
    return raw[:64] if isinstance(raw, str) else ""


def _answer(status: int, message: str, code: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message, "code": code}, status=status)


@csrf_exempt
def platfone_webhook(request, tenant_slug: str):
    if request.method != "POST":
        response = _answer(405, "Webhooks are POSTed.", "method_not_allowed")
        response["Allow"] = "POST"
        return response
    tenant = accounts_selectors.tenant_get(slug=tenant_slug)
    if tenant is None or not tenant.platfone_webhook_secret:
        return _answer(404, "Unknown webhook endpoint.", "not_found")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _answer(400, "Invalid Content-Length header.", "invalid_params")
    if length > MAX_WEBHOOK_BYTES:
        return _answer(400, "Body too large.", "invalid_params")
    body = request.body
    verified = webhooks.verify(
        tenant.platfone_webhook_secret,
        request.headers.get("x-webhook-id", ""),
        request.headers.get("x-timestamp", ""),
        request.headers.get("x-signature", ""),
        body,
    )
    if not verified:
        logger.warning("webhook for %s rejected: bad signature or stale timestamp", tenant.slug)
        services.webhook_failure_note(tenant=tenant)
        return _answer(401, "Invalid webhook signature.", "invalid_signature")
    try:
        event = webhooks.parse_event(body)
    except ParseError as exc:
        # Signed by the supplier, yet outside its documented shapes or ranges: nothing of it is used, and
        # operators are told (once per activation).
        invalid_upstream_data(tenant, _raw_activation_id(body), source="webhook", error=exc)
        services.webhook_failure_note(tenant=tenant)
        return _answer(400, "Unrecognised webhook event.", "invalid_params")
    if len(event.id) > MAX_EVENT_ID_LENGTH:
        # Deduplicated on the whole id: one we could not store whole is refused rather than cut (two events
        # sharing their first 100 characters must not pass for one).
        logger.warning("webhook for %s rejected: event id of %d characters", tenant.slug, len(event.id))
        return _answer(400, "Webhook event id too long.", "invalid_params")
    services.webhook_event_record(tenant=tenant, event=event)
    return JsonResponse({"result": "success"})
