"""The storefront's own use cases: signing up, proving an e-mail address, and the gates in front of ordering
and API keys. Money and activation state stay with ``wallet`` and ``activations``: these call their services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from activations import services as activation_services
from catalog import selectors as catalog_selectors
from core.errors import NotFound
from portal.errors import EmailNotVerified
from portal.models import Favourite
from portal.tokens import email_verification_token

if TYPE_CHECKING:
    from accounts.models import Tenant, User
    from accounts.services import IssuedApiKey
    from activations.models import Activation


def tenant_from_email(tenant: Tenant) -> str:
    """The sender of a storefront's mail: its name, at its support address or the platform's default."""
    address = tenant.support_email or settings.DEFAULT_FROM_EMAIL
    name = tenant.name.replace('"', "").replace("\n", " ")
    return f'"{name}" <{address}>'


def user_sign_up(*, tenant: Tenant, email: str, password: str, base_url: str) -> User:
    """Create the tenant's user and mail them a verification link. Raises ``accounts.services.AccountError``
    (invalid or already registered address) and changes nothing then."""
    user = accounts_services.user_create(tenant=tenant, email=email, password=password)
    verification_email_send(user=user, base_url=base_url)
    return user


def verification_email_send(*, user: User, base_url: str) -> bool:
    """Mail the user a link that verifies their address; False (nothing sent) when it is verified already."""
    if user.email_verified_at is not None or user.tenant is None:
        return False
    path = reverse(
        "portal:verify-email",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": email_verification_token.make_token(user),
        },
    )
    context = {"tenant": user.tenant, "user": user, "link": f"{base_url.rstrip('/')}{path}"}
    send_mail(
        subject=render_to_string("portal/email/verify_subject.txt", context).strip(),
        message=render_to_string("portal/email/verify_body.txt", context),
        from_email=tenant_from_email(user.tenant),
        recipient_list=[user.email],
    )
    return True


def email_verify(*, tenant: Tenant, uidb64: str, token: str) -> User | None:
    """Verify the address of the tenant's user the link names; None for a link that is wrong, expired, of
    another storefront, or already used."""
    try:
        user_id = force_str(urlsafe_base64_decode(uidb64))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    user = accounts_selectors.user_get_by_id(tenant=tenant, user_id=user_id)
    if user is None or not email_verification_token.check_token(user, token):
        return None
    return accounts_services.user_email_mark_verified(user=user)


def _require_verified(user: User) -> None:
    if user.email_verified_at is None:
        raise EmailNotVerified(email=user.email)


def activation_order(
    *, user: User, service_id: str, country_id: str, max_price_cents: int | None, idempotency_key: str
) -> Activation:
    """Order a number from the storefront: the JSON API's ``activation_create``, once the address is verified.
    Raises ``EmailNotVerified`` and everything ``activation_create`` raises."""
    _require_verified(user)
    return activation_services.activation_create(
        user=user,
        service_id=service_id,
        country_id=country_id,
        max_price_cents=max_price_cents,
        idempotency_key=idempotency_key,
    )


def api_key_issue(*, user: User, name: str) -> IssuedApiKey:
    """A new API key (its secret only in the returned value), once the address is verified: a key orders
    numbers too. Raises ``EmailNotVerified``."""
    _require_verified(user)
    return accounts_services.api_key_create(user=user, name=name)


def favourite_toggle(*, user: User, kind: str, item_id: str) -> bool:
    """Star the tenant's service or country for the user, or unstar it when starred; True when it is starred
    now. Raises ``NotFound`` for an id this storefront does not sell (nothing is stored then)."""
    tenant = user.tenant
    if kind == Favourite.Kind.SERVICE:
        known = {s.service_id for s in catalog_selectors.services_available(tenant=tenant)}
    elif kind == Favourite.Kind.COUNTRY:
        known = {c.country_id for c in catalog_selectors.countries_available(tenant=tenant)}
    else:
        known = set()
    if item_id not in known:
        raise NotFound("This service or country is not sold in this store.")
    with transaction.atomic():
        deleted, _ = Favourite.objects.filter(user=user, kind=kind, item_id=item_id).delete()
        if deleted:
            return False
        # A double click racing itself: the unique constraint keeps one row.
        Favourite.objects.get_or_create(user=user, kind=kind, item_id=item_id)
        return True
