"""A user's webhook endpoints: register, change, rotate the secret, disable, enable, delete, send a test event.

Every function takes an endpoint already found for its owner (``selectors.endpoint_get_for_user``), so no
user can reach another's. URLs are checked against the SSRF rules here (``targets``), with the host name
resolved, so a user hears at once that an address is refused; deliveries check again at connect time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import User
from core.errors import InvalidInput
from core.events import EVENT_TYPES
from core.models import OutboxEvent
from webhooks import targets, transport
from webhooks.errors import EndpointDisabled, EndpointLimitReached
from webhooks.models import ALL_EVENTS, Delivery, Endpoint
from webhooks.services.delivery import close_pending_deliveries, queue_delivery
from webhooks.signing import new_secret

MAX_ENDPOINTS_PER_USER = 10
MAX_DESCRIPTION_LENGTH = 200
# After a rotation the previous secret still signs (next to the new one) this long.
PREVIOUS_SECRET_VALIDITY = timedelta(hours=24)
TEST_EVENT_TYPE = "webhook.test"


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: Endpoint
    secret: str  # shown to the owner now, never again


def checked_url(url: object) -> str:
    """``url`` if webhooks may be sent there now, else ``InvalidInput`` saying why."""
    try:
        target = targets.parse_url(url if isinstance(url, str) else "")
        transport.resolve_target(target, allow_loopback=settings.CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK)
    except targets.TargetRefused as exc:
        raise InvalidInput(f"url: {exc}") from exc
    return str(url).strip()


def checked_events(events: object) -> list[str]:
    """A list of event types (or ``["*"]`` for all, present and future), without repeats, in catalogue order."""
    if events is None:
        return [ALL_EVENTS]
    if not isinstance(events, list | tuple) or not events or not all(isinstance(e, str) for e in events):
        raise InvalidInput('events: give a non-empty list of event types, or ["*"] for all.')
    unknown = sorted(set(events) - set(EVENT_TYPES) - {ALL_EVENTS})
    if unknown:
        raise InvalidInput(f"events: unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}.")
    if ALL_EVENTS in events:
        return [ALL_EVENTS]
    return [event for event in EVENT_TYPES if event in events]


def checked_description(description: object) -> str:
    text = (description if isinstance(description, str) else "").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"description: at most {MAX_DESCRIPTION_LENGTH} characters.")
    return text


def endpoint_create(*, user: User, url: str, events: list[str] | None = None, description: str = "") -> IssuedEndpoint:
    """Register an endpoint for ``user`` (enabled, with a new signing secret returned once).

    ``InvalidInput`` for a URL the SSRF rules refuse or unknown event types; ``EndpointLimitReached`` beyond
    ``MAX_ENDPOINTS_PER_USER``. The checks (DNS included) run before the transaction; inside it the user's row
    is locked so that concurrent registrations respect the limit.
    """
    if user.tenant_id is None:
        raise InvalidInput("Operators have no webhook endpoints.")
    url = checked_url(url)
    subscribed = checked_events(events)
    text = checked_description(description)
    with transaction.atomic():
        accounts_services.user_row_lock(user_id=user.pk)
        if Endpoint.objects.filter(user=user).count() >= MAX_ENDPOINTS_PER_USER:
            raise EndpointLimitReached(limit=MAX_ENDPOINTS_PER_USER)
        secret = new_secret()
        endpoint = Endpoint.objects.create(
            tenant_id=user.tenant_id, user=user, url=url, events=subscribed, description=text, secret=secret
        )
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
) -> Endpoint:
    """Change what is given (the URL is checked like at registration, before any write). Pending deliveries go
    to the new URL."""
    changes: dict[str, object] = {}
    if url is not None:
        changes["url"] = checked_url(url)
    if events is not None:
        changes["events"] = checked_events(events)
    if description is not None:
        changes["description"] = checked_description(description)
    if changes:
        Endpoint.objects.filter(pk=endpoint.pk).update(**changes)
        endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: Endpoint) -> IssuedEndpoint:
    """A new signing secret, returned once. The secret it replaces keeps signing, next to the new one, for
    24 hours (receivers switch over without losing a request); a secret rotated out earlier stops at once."""
    locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = new_secret()
    locked.previous_secret = locked.secret
    locked.previous_secret_expires_at = timezone.now() + PREVIOUS_SECRET_VALIDITY
    locked.secret = secret
    locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return IssuedEndpoint(endpoint=locked, secret=secret)


def endpoint_secrets_reencrypt() -> int:
    """Re-encrypt every endpoint's signing secrets under the newest key of ``FIELD_ENCRYPTION_KEYS`` (the last
    step of a key rotation). Returns how many endpoints were rewritten."""
    count = 0
    for pk in Endpoint.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            endpoint = Endpoint.objects.select_for_update().get(pk=pk)
            endpoint.save(update_fields=["secret", "previous_secret"])  # saving encrypts under the first key
            count += 1
    return count


@transaction.atomic
def endpoint_disable(*, endpoint: Endpoint) -> Endpoint:
    """Stop sending to the endpoint. Deliveries still pending are closed as failed (they can be redelivered
    once it is enabled again); events that happen while it is disabled are not sent to it. Idempotent."""
    now = timezone.now()
    if Endpoint.objects.filter(pk=endpoint.pk, status=Endpoint.Status.ENABLED).update(
        status=Endpoint.Status.DISABLED, disabled_reason=Endpoint.DisabledReason.USER, disabled_at=now
    ):
        close_pending_deliveries(endpoint_id=endpoint.pk, reason="endpoint disabled by its owner")
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def endpoint_enable(*, endpoint: Endpoint) -> Endpoint:
    """Send to the endpoint again (also after an automatic disable); its failure history starts over."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        status=Endpoint.Status.ENABLED, disabled_reason="", disabled_at=None, failing_since=None
    )
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint with its delivery log; nothing more is sent to it."""
    Endpoint.objects.filter(pk=endpoint.pk).delete()


@transaction.atomic
def endpoint_send_test(*, endpoint: Endpoint) -> Delivery:
    """Queue a ``webhook.test`` event to this endpoint only (whatever it subscribes to), delivered, signed and
    logged like any other. ``EndpointDisabled`` when it is disabled."""
    if not Endpoint.objects.filter(pk=endpoint.pk, status=Endpoint.Status.ENABLED).exists():
        raise EndpointDisabled()
    now = timezone.now()
    event = OutboxEvent.objects.create(
        key=f"webhook-test:{endpoint.pk}:{uuid.uuid4().hex}",
        type=TEST_EVENT_TYPE,
        tenant_id=endpoint.tenant_id,
        user_id=endpoint.user_id,
        payload={"endpoint_id": endpoint.pk, "message": "A test event: your endpoint receives our webhooks."},
        dispatched_at=now,  # addressed to this endpoint alone, never fanned out
    )
    delivery = Delivery.objects.create(endpoint=endpoint, event=event, next_attempt_at=now)
    queue_delivery(delivery.pk)
    return delivery
