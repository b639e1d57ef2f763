"""The one place that turns a tenant's Platfone credentials into a client.

Tests route every client to the in-process emulator by replacing ``session_factory`` (see the ``emulator``
fixture in ``tests/catalog/conftest.py``); nothing else needs patching.

The supplier account is shared by all of a tenant's users: a client made for a user (``spender``) may use at
most the tenant's ``upstream_fair_share_percent`` of any method's per-minute budget; past it, that user gets
``fair_share_error`` (429 rate_limit) and the others keep theirs. The beat's and operators' clients have no
spender.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from django.conf import settings
from django.core.cache import cache

from accounts.models import Tenant
from catalog.errors import UpstreamNotConfigured
from core.errors import RateLimited
from platfone.budget import account_fingerprint
from platfone.client import PlatfoneClient
from platfone.errors import FairShareExceeded


def _new_session(tenant: Tenant) -> requests.Session:
    return requests.Session()


# The HTTP session a tenant's client sends through. The hook tests replace with the emulator's transport.
session_factory: Callable[[Tenant], requests.Session] = _new_session


def upstream_configured(tenant: Tenant) -> bool:
    return bool(tenant.platfone_base_url and tenant.platfone_api_key)


def upstream_account(tenant: Tenant) -> str:
    """A stable, secret-free id of the tenant's upstream account (two tenants may share one)."""
    if not upstream_configured(tenant):
        raise UpstreamNotConfigured()
    return account_fingerprint(tenant.platfone_base_url, tenant.platfone_api_key)


def spender_of(actor: str) -> str | None:
    """Calls made for a user (actor ``"user:12"``, through any interface: ``"user:12 via sms-activate"``) count
    against that user's one fair share; the beat's do not."""
    head = actor.split(" ", 1)[0]
    return head if head.startswith("user:") else None


def fair_share_error(exc: FairShareExceeded) -> RateLimited:
    return RateLimited(
        "You are using more than your share of our supplier's capacity this minute; "
        f"try again in {exc.retry_after} seconds.",
        retry_after=exc.retry_after,
    )


def client_for_tenant(tenant: Tenant, *, spender: str | None = None) -> PlatfoneClient:
    """A Platfone client for the tenant's upstream account: timeouts and retries from settings, the request
    budget in the shared Django cache, and for a ``spender`` its fair share of it. Raises
    ``UpstreamNotConfigured`` without credentials."""
    if not upstream_configured(tenant):
        raise UpstreamNotConfigured()
    return PlatfoneClient(
        base_url=tenant.platfone_base_url,
        api_key=tenant.platfone_api_key,
        connect_timeout=settings.PLATFONE_CONNECT_TIMEOUT,
        read_timeout=settings.PLATFONE_READ_TIMEOUT,
        max_retries=settings.PLATFONE_MAX_RETRIES,
        session=session_factory(tenant),
        cache=cache,
        spender=spender,
        spender_share=tenant.upstream_fair_share_percent / 100 if spender else None,
    )
