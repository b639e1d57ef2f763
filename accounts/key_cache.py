"""A short-lived cache of API key -> (key, user, the tenant's non-secret fields), so that an authenticated request
reads no row of the database on the hot path.

Changes must go through the services or a model ``save()`` / ``delete()`` (``accounts.signals``): a raw
``QuerySet.update()`` or SQL on these rows is seen only when the entry expires (``API_KEY_CACHE_SECONDS``).

Entries are written only for usable keys (not revoked, user active, tenant active) and only with ``cache.add``.
Revoking a key, suspending a user or a tenant, and any save of those rows write a *tombstone* over the affected
entries (``invalidate_keys``), before and again after the commit. A tombstone reads as a miss (the database
decides) and, because fills only ``add``, a request that read the row just before the change cannot put the
stale entry back: revocation takes effect on the next request, not after the TTL.

The tenant's supplier key and webhook secret are cached encrypted, as the database holds them (decrypted when an
entry is read); the user's password hash is never cached (left deferred on the rebuilt user).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS

from accounts.models import ApiKey, Tenant, User
from core import cache_fill
from core.fields import EncryptedTextField

# An entry lives settings.API_KEY_CACHE_SECONDS at most (0: no cache); it is refilled from the database after it
# (and then the key is touched).
# Far longer than any fill takes between its database read and its ``add`` (milliseconds); meanwhile the
# affected keys are read from the database.
TOMBSTONE_SECONDS = 30
VERSION = 1

# Left deferred: wide text no API request reads (the password hash is never cached).
DEFERRED_TENANT_FIELDS = ("topup_instructions",)
_SKIPPED_USER_FIELDS = {"password", "last_login"}

KEY_FIELDS = tuple(f.attname for f in ApiKey._meta.concrete_fields)
USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname not in _SKIPPED_USER_FIELDS)
TENANT_FIELDS = tuple(f.attname for f in Tenant._meta.concrete_fields if f.attname not in DEFERRED_TENANT_FIELDS)
# The supplier key and webhook secret stay encrypted in the cache, as in the database.
_ENCRYPTED = {
    TENANT_FIELDS.index(field.attname): field
    for field in Tenant._meta.concrete_fields
    if isinstance(field, EncryptedTextField) and field.attname in TENANT_FIELDS
}


def cache_key(hashed_key: str) -> str:
    return f"auth:key:{VERSION}:{hashed_key}"


def read(hashed_key: str) -> ApiKey | None:
    """The cached usable key (with ``user`` and ``user.tenant`` set), or None on a miss or a tombstone."""
    if settings.API_KEY_CACHE_SECONDS <= 0:
        return None
    entry = cache.get(cache_key(hashed_key))
    if not cache_fill.live(entry) or not isinstance(entry, tuple) or len(entry) != 3:
        return None
    key_values, user_values, tenant_values = entry
    tenant_values = list(tenant_values)
    for index, field in _ENCRYPTED.items():
        tenant_values[index] = field.from_db_value(tenant_values[index], None, None)
    key = ApiKey.from_db(DEFAULT_DB_ALIAS, list(KEY_FIELDS), list(key_values))
    user = User.from_db(DEFAULT_DB_ALIAS, list(USER_FIELDS), list(user_values))
    tenant = Tenant.from_db(DEFAULT_DB_ALIAS, list(TENANT_FIELDS), list(tenant_values))
    user.tenant = tenant
    key.user = user
    return key


def fill(api_key: ApiKey) -> None:
    """Cache a usable key loaded with its user and tenant; never overwrites a tombstone."""
    if settings.API_KEY_CACHE_SECONDS <= 0:
        return
    user, tenant = api_key.user, api_key.user.tenant
    entry: tuple[Any, ...] = (
        tuple(getattr(api_key, name) for name in KEY_FIELDS),
        tuple(getattr(user, name) for name in USER_FIELDS),
        tuple(
            _ENCRYPTED[index].get_prep_value(getattr(tenant, name)) if index in _ENCRYPTED else getattr(tenant, name)
            for index, name in enumerate(TENANT_FIELDS)
        ),
    )
    cache_fill.fill(cache_key(api_key.hashed_key), entry, settings.API_KEY_CACHE_SECONDS)


def invalidate_keys(hashed_keys: Iterable[str]) -> None:
    """Tombstone these keys' entries now and once more after the current transaction commits."""
    cache_fill.invalidate((cache_key(hashed) for hashed in hashed_keys), tombstone_seconds=TOMBSTONE_SECONDS)


def invalidate_user(user_id: int) -> None:
    invalidate_keys(ApiKey.objects.filter(user_id=user_id).values_list("hashed_key", flat=True))


def invalidate_tenant(tenant_id: int) -> None:
    invalidate_keys(ApiKey.objects.filter(user__tenant_id=tenant_id).values_list("hashed_key", flat=True))
