"""E-mailing a user their code when it arrives, if they asked for it in their settings.

The activations app announces every code through the base layer's outbox (``core.events``), after the commit
of the change; this listens to that announcement like the webhooks app does, and mails from a worker. A
duplicate message mails nothing twice (a cache claim per event).
"""

from __future__ import annotations

from django.core.cache import cache
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from accounts import selectors as accounts_selectors
from core import events
from core.models import OutboxEvent
from portal.services import tenant_from_email

CODE_EVENTS = (events.ACTIVATION_SMS_RECEIVED, events.ACTIVATION_RETRY_RECEIVED)
CLAIM_SECONDS = 7 * 24 * 3600


def code_email_send(*, event_id: str) -> bool:
    """Mail the code of a committed "SMS received" event to its user when they asked for it; True when sent."""
    event = OutboxEvent.objects.filter(public_id=event_id, type__in=CODE_EVENTS).first()
    if event is None or event.user_id is None:
        return False
    user = accounts_selectors.storefront_user_get(tenant_id=event.tenant_id, user_id=event.user_id)
    activation = event.payload.get("activation") or {}
    if user is None or not user.notify_code_by_email or not (activation.get("sms_code") or activation.get("sms_text")):
        return False
    if not cache.add(f"portal:code-mail:{event_id}", 1, CLAIM_SECONDS):
        return False
    context = {"tenant": user.tenant, "user": user, "a": activation}
    with translation.override(user.language or None):
        subject = render_to_string("portal/email/code_subject.txt", context).strip()
        body = render_to_string("portal/email/code_body.txt", context)
    send_mail(subject=subject, message=body, from_email=tenant_from_email(user.tenant), recipient_list=[user.email])
    return True
