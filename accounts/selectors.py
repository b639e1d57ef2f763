"""Reads for tenants, users and API keys."""

from __future__ import annotations

import hmac

from django.db.models import Q

from accounts import key_cache
from accounts.keys import hash_api_key, split_api_key
from accounts.models import ApiKey, Tenant, TenantDomain, User
from core import crypto


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The usable key for ``raw_key``, with its user and tenant loaded, or None.

    None for an unknown, malformed or revoked key, a suspended user or a suspended tenant. Served from
    ``accounts.key_cache`` when it can (no query); ``api_key_is_cached`` tells a caller which way it went.
    """
    if split_api_key(raw_key) is None:
        return None
    hashed = hash_api_key(raw_key)
    cached = key_cache.read(hashed)
    if cached is not None:
        cached._from_key_cache = True  # type: ignore[attr-defined]
        return cached
    return api_key_authenticate_uncached(raw_key=raw_key)


def api_key_authenticate_uncached(*, raw_key: str) -> ApiKey | None:
    """``api_key_authenticate`` from the database (the key's row, its user's and its tenant's, in one query)."""
    parts = split_api_key(raw_key)
    if parts is None:
        return None
    key = (
        ApiKey.objects.select_related("user__tenant")
        .defer(*(f"user__tenant__{name}" for name in key_cache.DEFERRED_TENANT_FIELDS))
        .filter(prefix=parts[0])
        .first()
    )
    if key is None or not hmac.compare_digest(key.hashed_key, hash_api_key(raw_key)):
        return None
    user = key.user
    if key.is_revoked or not user.is_active or user.tenant is None or not user.tenant.is_active:
        return None
    return key


def api_key_is_cached(api_key: ApiKey) -> bool:
    return bool(getattr(api_key, "_from_key_cache", False))


def tenant_for_host(*, host: str) -> Tenant | None:
    host = host.split(":", 1)[0].strip().lower().rstrip(".")
    domain = TenantDomain.objects.select_related("tenant").filter(host=host).first()
    return domain.tenant if domain else None


def tenant_get(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).first()


def user_get(*, tenant: Tenant, email: str) -> User | None:
    return User.objects.filter(tenant=tenant, email__iexact=(email or "").strip()).first()


def tenants_with_upstream(*, include_suspended: bool = False) -> list[Tenant]:
    """Tenants that can talk to Platfone (a base URL and an API key); active ones only unless asked.

    Suspended tenants still need their open activations settled (holds released, SMS charged).
    """
    tenants = Tenant.objects.exclude(platfone_base_url="").exclude(platfone_api_key="")
    if not include_suspended:
        tenants = tenants.filter(status=Tenant.Status.ACTIVE)
    return list(tenants)


def tenants_without_upstream() -> list[Tenant]:
    """Active tenants missing a Platfone base URL or API key (they cannot sell; ``doctor`` says what to set)."""
    missing = Q(platfone_base_url="") | Q(platfone_api_key="")
    return list(Tenant.objects.filter(missing, status=Tenant.Status.ACTIVE).order_by("slug"))


def user_get_by_id(*, tenant: Tenant, user_id: int | str) -> User | None:
    """The tenant's user with that id, or None (also for another tenant's user or an operator)."""
    try:
        pk = int(str(user_id))
    except ValueError:
        return None
    return User.objects.filter(pk=pk, tenant=tenant).first()


def api_keys_for_user(*, user: User) -> list[ApiKey]:
    """The user's keys, newest first, revoked ones included (they stay listed as revoked)."""
    return list(ApiKey.objects.filter(user=user).order_by("-created_at", "-id"))


def api_key_get_for_user(*, user: User, key_id: int | str) -> ApiKey | None:
    """The user's key with that id, or None (also for another user's key)."""
    try:
        pk = int(str(key_id))
    except ValueError:
        return None
    return ApiKey.objects.filter(pk=pk, user=user).first()


def upstream_account_in_use(*, base_url: str, api_key: str, exclude_tenant_id: int | None = None) -> bool:
    """Whether another tenant already uses this supplier account. Compared on keyed digests (the keys are
    encrypted), under every configured encryption key so that a rotation in progress hides no duplicate."""
    digests = crypto.keyed_digests(base_url.rstrip("/"), api_key)
    tenants = Tenant.objects.filter(platfone_account_digest__in=digests)
    if exclude_tenant_id is not None:
        tenants = tenants.exclude(pk=exclude_tenant_id)
    return tenants.exists()


def storefront_user_get(*, tenant_id: int, user_id: int) -> User | None:
    """The active storefront user with that id in that tenant, with the tenant loaded; None otherwise."""
    return User.objects.select_related("tenant").filter(pk=user_id, tenant_id=tenant_id, is_active=True).first()
