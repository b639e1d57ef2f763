"""``GET|POST /stubs/handler_api.php``: the SMS-Activate protocol, so that existing tools work by changing one URL.

Parameters come from the query string or a form body (the body wins); the key from ``api_key`` or the
``X-Api-Key`` header (``Authorization: Bearer`` too, as on the JSON API). The caller is the key's user, in the
key's storefront, exactly as on the JSON API: same services, same holds and charges, same tenant isolation,
and the same per-key rate limit — one counter per key shared with the JSON API (core.api.ratelimit, in the shared
cache), at the storefront's ``rate_limit_per_minute``.

Every answer is HTTP 200 in the protocol's words (``compat.protocol``); whatever goes wrong, the caller gets a
protocol error string, never a 500 page.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from accounts.authentication import raw_key_from_request
from compat.actions import ACTIONS, Call
from compat.protocol import Answer, ProtocolError, error_answer
from core.api import ratelimit
from core.api.errors import RETRY_AFTER_SECONDS
from core.api.views import KeyedApiView
from core.errors import DomainError, RateLimited, ServerError

logger = logging.getLogger("compat")

# The protocol's actions have effects (getNumber orders): HEAD, which monitors and prefetchers send, runs none.
ALLOWED_METHODS = frozenset({"GET", "POST"})


@csrf_exempt
def handler_api(request: HttpRequest) -> HttpResponse:
    try:
        answer = _handle(request)
    except ProtocolError as exc:
        answer = Answer(exc.answer)
    except DomainError as exc:
        answer = error_answer(exc)
    except Exception:
        # A bug or an outage (the database gone, say): the services roll back what they started, and the
        # caller gets the protocol's generic error instead of a 500 page.
        logger.exception("SMS-Activate handler: unexpected failure (action %r)", request.GET.get("action"))
        answer = error_answer(ServerError())
    return answer.response()


def _handle(request: HttpRequest) -> Answer:
    if request.method not in ALLOWED_METHODS:
        raise ProtocolError("BAD_ACTION")
    params = _parameters(request)
    raw_key = (params.get("api_key") or "").strip() or raw_key_from_request(request)
    api_key = accounts_selectors.api_key_authenticate(raw_key=raw_key) if raw_key else None
    if api_key is None:
        raise ProtocolError("BAD_KEY")
    user = api_key.user
    tenant = user.tenant
    if tenant is None:  # api_key_authenticate only accepts storefront users; an operator's key has no storefront
        raise ProtocolError("BAD_KEY")
    accounts_services.api_key_seen(api_key=api_key)
    usage = ratelimit.count(
        group=KeyedApiView.rate_limit_group,  # the JSON API's counter: one budget per key, whichever the interface
        key=str(api_key.pk),
        limit=tenant.rate_limit_per_minute,
    )
    if usage["should_limit"]:
        raise RateLimited(retry_after=RETRY_AFTER_SECONDS)
    action = ACTIONS.get(params.get("action") or "")
    if action is None:
        raise ProtocolError("BAD_ACTION")
    return action(Call(user=user, tenant=tenant, params=params))


def _parameters(request: HttpRequest) -> dict[str, str]:
    """The query string's parameters, then the form body's (which win). BAD_DATA for a body that is too large
    or cannot be parsed."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ProtocolError("BAD_DATA") from exc
    if length > settings.API_MAX_BODY_BYTES:
        raise ProtocolError("BAD_DATA")
    try:
        body = request.POST.dict() if request.method == "POST" else {}
    except Exception as exc:  # a malformed multipart body, too many fields ...
        raise ProtocolError("BAD_DATA") from exc
    return {**request.GET.dict(), **body}
