"""Who is throttled: the client IP (as the JSON API sees it) and, for log-ins, the e-mail within the storefront."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django_ratelimit.core import _get_ip, get_usage  # _get_ip honours RATELIMIT_IP_META_KEY

from accounts.middleware import resolve_tenant


def client_ip(request) -> str:
    try:
        return str(_get_ip(request))
    except (ImproperlyConfigured, ValueError, KeyError):  # a forged/missing proxy header, or no address at all
        return request.META.get("REMOTE_ADDR", "")


def axes_username(request, credentials) -> str:
    """The e-mail of a log-in attempt, qualified by the storefront: alice@example.com on one store and on
    another are two people, and locking one out must not lock out the other."""
    email = ""
    if credentials:
        email = credentials.get("username") or credentials.get("email") or ""
    elif request is not None:
        email = request.POST.get("username", "")
    tenant = getattr(request, "tenant", None) if request is not None else None
    if tenant is None and request is not None:
        tenant = resolve_tenant(request)
    return f"{tenant.slug if tenant else '-'}:{email.strip().lower()}"


def over_limit(request, *, group: str, per_hour: int) -> bool:
    """Count one use of ``group`` by the client's IP; True once it exceeds ``per_hour`` in the current hour.
    For forms that send mail (sign-up, password reset, verification): no mailbox is flooded from one IP."""
    ip = client_ip(request)
    usage = get_usage(
        request, group=f"portal:{group}", key=lambda _group, _request: ip, rate=f"{per_hour}/h", increment=True
    )
    return bool(usage and usage["should_limit"])


def storefront_usage(request) -> int | None:
    """Count one write (a POST) of the storefront's signed-in user (else the client's IP) against the tenant's
    per-minute limit, the API keys' own; the seconds to wait when it is exceeded, else None."""
    tenant = request.tenant
    who = f"user:{request.user.pk}" if request.user.is_authenticated else f"ip:{client_ip(request)}"
    usage = get_usage(
        request,
        group=f"portal:writes:{tenant.pk}",
        key=lambda _group, _request: who,
        rate=f"{tenant.rate_limit_per_minute}/m",
        increment=True,
    )
    if usage and usage["should_limit"]:
        return max(1, int(usage["time_left"]))
    return None
