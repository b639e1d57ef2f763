"""Writes for tenants, users and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email, validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import key_cache, selectors
from accounts.keys import API_KEY_PREFIX_LENGTH, hash_api_key
from accounts.models import ApiKey, Tenant, TenantDomain, User


class AccountError(Exception):
    """A request to change tenants, users or keys that cannot be carried out; the message says why."""


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    domains: list[str] | tuple[str, ...] = (),
    support_email: str = "",
    platfone_base_url: str = "",
    platfone_api_key: str = "",
    platfone_webhook_secret: str = "",
) -> Tenant:
    try:
        validate_slug(slug)
    except ValidationError as exc:
        raise AccountError(f"Invalid tenant slug {slug!r}: use letters, digits, dashes and underscores.") from exc
    if not name.strip():
        raise AccountError("A tenant needs a name.")
    if Tenant.objects.filter(slug=slug).exists():
        raise AccountError(f"Tenant {slug!r} already exists.")
    validate_supplier_url(platfone_base_url)
    if platfone_api_key and selectors.upstream_account_in_use(base_url=platfone_base_url, api_key=platfone_api_key):
        raise AccountError("Another tenant already uses this Platfone account (base URL and API key).")
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                slug=slug,
                name=name.strip(),
                support_email=support_email,
                platfone_base_url=platfone_base_url,
                platfone_api_key=platfone_api_key,
                platfone_webhook_secret=platfone_webhook_secret,
                platfone_account_digest=Tenant.upstream_account_digest(platfone_base_url, platfone_api_key),
            )
    except IntegrityError as exc:  # a concurrent create of the same slug or upstream account won
        raise AccountError(f"Tenant {slug!r} or its Platfone account already exists.") from exc
    for index, host in enumerate(domains):
        tenant_domain_add(tenant=tenant, host=host, is_primary=index == 0)
    return tenant


def validate_supplier_url(url: str) -> None:
    """An empty URL (no supplier yet) or an absolute http(s) URL; ``AccountError`` otherwise."""
    if not url:
        return
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise AccountError(
            f"Invalid Platfone URL {url!r}: give the full base URL, e.g. https://api.platfone.example/api/v1."
        ) from exc


def supplier_missing(tenant: Tenant) -> list[str]:
    """What the tenant still lacks to sell numbers and receive the supplier's webhooks (empty: nothing)."""
    missing = []
    if not tenant.platfone_base_url:
        missing.append("--platfone-url")
    if not tenant.platfone_api_key:
        missing.append("--platfone-key")
    if not tenant.platfone_webhook_secret:
        missing.append("--webhook-secret")
    return missing


@transaction.atomic
def tenant_settings_save(*, tenant: Tenant) -> Tenant:
    """Save a tenant's settings as edited (the console's tenant page saves through here).

    Keeps ``platfone_account_digest`` in step with the supplier credentials and refuses an upstream account
    that another tenant already uses (``AccountError``). The secrets are encrypted by their fields.
    """
    tenant.platfone_account_digest = Tenant.upstream_account_digest(tenant.platfone_base_url, tenant.platfone_api_key)
    if tenant.platfone_api_key and selectors.upstream_account_in_use(
        base_url=tenant.platfone_base_url, api_key=tenant.platfone_api_key, exclude_tenant_id=tenant.pk
    ):
        raise AccountError("Another tenant already uses this Platfone account (base URL and API key).")
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError as exc:  # a concurrent save of the same upstream account won
        raise AccountError("Another tenant already uses this Platfone account (base URL and API key).") from exc
    return tenant


def tenant_supplier_set(
    *, tenant: Tenant, base_url: str, api_key: str | None = None, webhook_secret: str | None = None
) -> Tenant:
    """Point the tenant at a supplier account; ``None`` keeps the stored key or secret."""
    validate_supplier_url(base_url)
    tenant.platfone_base_url = base_url
    if api_key is not None:
        tenant.platfone_api_key = api_key
    if webhook_secret is not None:
        tenant.platfone_webhook_secret = webhook_secret
    return tenant_settings_save(tenant=tenant)


@transaction.atomic
def tenant_domain_add(*, tenant: Tenant, host: str, is_primary: bool = False) -> TenantDomain:
    host = host.strip().lower()
    if not host or "/" in host or " " in host:
        raise AccountError(f"Invalid domain {host!r}.")
    try:
        with transaction.atomic():
            return TenantDomain.objects.create(tenant=tenant, host=host, is_primary=is_primary)
    except IntegrityError as exc:
        raise AccountError(f"Domain {host!r} already belongs to a tenant.") from exc


def user_create(*, tenant: Tenant, email: str, password: str | None = None) -> User:
    """A user of ``tenant``; a password must pass Django's validators (AUTH_PASSWORD_VALIDATORS), None leaves the
    user without one (they set it through the storefront's password reset). ``AccountError`` says what is wrong."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise AccountError(f"Invalid e-mail address {email!r}.") from exc
    if password is not None:
        try:
            validate_password(password, user=User(email=email, tenant=tenant))
        except ValidationError as exc:
            raise AccountError(f"Password refused: {' '.join(exc.messages)}") from exc
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, tenant=tenant)
    except IntegrityError as exc:
        raise AccountError(f"User {email} already exists in tenant {tenant.slug!r}.") from exc


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown to its owner exactly once, never stored


def api_key_create(*, user: User, name: str = "default") -> IssuedApiKey:
    """Issue a new key for ``user``. The plaintext exists only in the returned value."""
    name = (name or "default").strip()[:100] or "default"
    for _ in range(5):
        prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
        raw_key = f"{prefix}.{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(user=user, name=name, prefix=prefix, hashed_key=hash_api_key(raw_key))
        except IntegrityError:
            continue  # prefix collision: draw again
        return IssuedApiKey(api_key=key, raw_key=raw_key)
    raise AccountError("Could not issue a unique API key; try again.")


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good. Revoking twice keeps the first revocation time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at", "hashed_key"])
    key_cache.invalidate_keys([api_key.hashed_key])  # the next request with this key is refused
    return api_key


def user_set_active(*, user: User, active: bool) -> bool:
    """Suspend (``active=False``) or reactivate a storefront user; a suspended user's API keys stop working at
    once. Compare-and-set: returns False when the user already was in that state (nothing changed)."""
    if user.tenant_id is None:
        raise AccountError("Operators are not suspended here; edit the operator instead.")
    changed = User.objects.filter(pk=user.pk, is_active=not active).update(is_active=active)
    user.is_active = active
    key_cache.invalidate_user(user.pk)  # the user's keys stop (or start) working on their next request
    return bool(changed)


def user_row_lock(*, user_id: int) -> None:
    """Serialize one user's money decisions (the refund-after-SMS limit, the daily top-up cap) on their row,
    until the caller's transaction ends.

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: transactions that only reference the user (settlement writing an
    activation's outbox event) take ``KEY SHARE`` on the row at commit for the deferred foreign-key check. A
    ``FOR UPDATE`` here blocked that check while this transaction waited for the activation the other one had
    locked: a deadlock (found by the chaos test on PostgreSQL).
    """
    User.objects.select_for_update(no_key=True).filter(pk=user_id).first()


def api_key_touch(*, api_key: ApiKey, min_interval_seconds: int = 60) -> None:
    """Record use of a key, at most once a minute so that a busy key does not write on every request."""
    now = timezone.now()
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < min_interval_seconds:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


def api_key_seen(*, api_key: ApiKey) -> None:
    """A request authenticated with this usable key (from ``selectors.api_key_authenticate``). On a cache miss
    (at most about once a minute for a busy key): record the use, then serve the key's next requests from the
    key cache. A cached key was touched when its entry was filled."""
    if selectors.api_key_is_cached(api_key):
        return
    api_key_touch(api_key=api_key)
    key_cache.fill(api_key)


def user_email_mark_verified(*, user: User) -> User:
    """Record that the user proved their e-mail address. Verifying again keeps the first time."""
    User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
    user.refresh_from_db(fields=["email_verified_at"])
    return user


def tenant_secrets_reencrypt() -> int:
    """Re-encrypt every tenant's supplier secrets under the newest key of ``FIELD_ENCRYPTION_KEYS`` and recompute
    their account digests (the last step of a key rotation). Returns how many tenants were rewritten."""
    count = 0
    for pk in Tenant.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            tenant = Tenant.objects.select_for_update().get(pk=pk)
            tenant.platfone_account_digest = Tenant.upstream_account_digest(
                tenant.platfone_base_url, tenant.platfone_api_key
            )
            # Saving encrypts the (decrypted) values again, under the first key.
            tenant.save(update_fields=["platfone_api_key", "platfone_webhook_secret", "platfone_account_digest"])
            count += 1
    return count


THEMES = ("", "light", "dark")


def user_preferences_set(
    *, user: User, language: str | None = None, theme: str | None = None, notify_code_by_email: bool | None = None
) -> User:
    """Save the given storefront preferences of ``user`` (``None``: leave as is). The language must be one of
    ``settings.LANGUAGES`` (or "" for the browser's), the theme one of ``THEMES``; anything else is refused."""
    changes: dict[str, object] = {}
    if language is not None:
        if language and language not in dict(settings.LANGUAGES):
            raise AccountError(f"Unknown language {language!r}.")
        changes["language"] = language
    if theme is not None:
        if theme not in THEMES:
            raise AccountError(f"Unknown theme {theme!r}.")
        changes["theme"] = theme
    if notify_code_by_email is not None:
        changes["notify_code_by_email"] = bool(notify_code_by_email)
    if changes:
        User.objects.filter(pk=user.pk).update(**changes)
        for name, value in changes.items():
            setattr(user, name, value)
    return user


def user_password_set(*, user: User, password: str) -> User:
    """Replace the user's password (the caller checked the old one and the new one's strength)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def user_email_change(*, user: User, email: str) -> User:
    """Give the user the address they proved they own (by the link sent to it): it is verified at once. Raises
    ``AccountError`` when the address is invalid or another user of the tenant has it (nothing changes)."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise AccountError(f"Invalid e-mail address {email!r}.") from exc
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(email=email, email_verified_at=timezone.now())
    except IntegrityError as exc:
        raise AccountError(f"User {email} already exists in tenant {user.tenant_id!r}.") from exc
    user.refresh_from_db(fields=["email", "email_verified_at"])
    return user


def user_close(*, user: User) -> User:
    """Close a storefront user's account for good: their API keys are revoked, they can no longer log in, and
    the address is freed (replaced by a placeholder) so it can sign up again as someone new. The row stays:
    the ledger's entries and the activations keep pointing at it. The caller checked that no money or number
    is left (wallet and activations are not this app's to read). Idempotent."""
    if user.tenant_id is None:
        raise AccountError("Operators are not closed here.")
    with transaction.atomic():
        locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        if locked.closed_at is not None:
            return locked
        now = timezone.now()
        ApiKey.objects.filter(user=locked, revoked_at__isnull=True).update(revoked_at=now)
        locked.email = f"closed-{locked.pk}@closed.invalid"
        locked.email_verified_at = None
        locked.is_active = False
        locked.closed_at = now
        locked.notify_code_by_email = False
        locked.set_unusable_password()
        locked.save(
            update_fields=["email", "email_verified_at", "is_active", "closed_at", "notify_code_by_email", "password"]
        )
    return locked
