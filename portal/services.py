"""The storefront's own use cases: signing up, proving an e-mail address, and the gates in front of ordering
and API keys. Money and activation state stay with ``wallet`` and ``activations``: these call their services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from activations import selectors as activation_selectors
from activations import services as activation_services
from catalog import selectors as catalog_selectors
from core.errors import NotFound
from portal.errors import AccountHasActiveNumbers, AccountHasFunds, EmailNotVerified
from portal.models import Favourite
from portal.tokens import email_verification_token
from wallet import selectors as wallet_selectors
from webhooks import services as webhook_services

if TYPE_CHECKING:
    from accounts.models import Tenant, User
    from accounts.services import IssuedApiKey
    from activations.models import Activation
    from webhooks.services import IssuedEndpoint


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


EMAIL_CHANGE_SALT = "portal.services.email_change"
EMAIL_CHANGE_MAX_AGE = 3 * 24 * 3600


def email_change_request(*, user: User, new_email: str, base_url: str) -> None:
    """Mail a confirmation link to ``new_email``; the address changes only when it is opened (so it is proved
    before it is used). Raises ``accounts.services.AccountError`` when another user of the storefront has it."""
    new_email = new_email.strip().lower()
    if accounts_selectors.user_get(tenant=user.tenant, email=new_email) is not None:
        raise accounts_services.AccountError("This e-mail address is already registered in this store.")
    # The token names the current address too: once the address changes, older links stop working.
    token = signing.dumps(
        {"u": user.pk, "t": user.tenant_id, "from": user.email, "to": new_email}, salt=EMAIL_CHANGE_SALT
    )
    link = f"{base_url.rstrip('/')}{reverse('portal:email-change-confirm', kwargs={'token': token})}"
    context = {"tenant": user.tenant, "user": user, "link": link, "new_email": new_email}
    send_mail(
        subject=render_to_string("portal/email/email_change_subject.txt", context).strip(),
        message=render_to_string("portal/email/email_change_body.txt", context),
        from_email=tenant_from_email(user.tenant),
        recipient_list=[new_email],
    )


def email_change_confirm(*, tenant: Tenant, token: str) -> User | None:
    """Apply the address change a link names; None for a link that is wrong, expired, of another storefront or
    already used. Raises ``AccountError`` when the address was taken in the meantime."""
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != tenant.pk:
        return None
    user = accounts_selectors.user_get_by_id(tenant=tenant, user_id=str(data.get("u")))
    if user is None or not user.is_active or user.email != data.get("from"):
        return None
    return accounts_services.user_email_change(user=user, email=str(data.get("to")))


def account_close(*, user: User) -> User:
    """Delete the user's account as they asked: refused (``AccountHasActiveNumbers``, ``AccountHasFunds``)
    while a number is active, money is held for an order, or money is left in the wallet. Otherwise the
    account closes for good (``accounts.services.user_close``) and their favourites go; the ledger keeps every
    entry, and the activations stay for the operator's books."""
    summary = wallet_selectors.wallet_summary(user=user)
    if summary.held_cents or activation_selectors.open_activation_count(user=user):
        raise AccountHasActiveNumbers(held_cents=summary.held_cents)
    if summary.balance_cents:
        raise AccountHasFunds(balance_cents=summary.balance_cents)
    with transaction.atomic():
        Favourite.objects.filter(user=user).delete()
        return accounts_services.user_close(user=user)


def user_is_suspended(*, tenant: Tenant, email: str, password: str) -> bool:
    """The storefront's user with that address and password exists and was suspended by the operator (not
    one who deleted their account)."""
    user = accounts_selectors.user_get(tenant=tenant, email=email)
    return bool(
        user is not None and not user.is_active and user.closed_at is None and user.check_password(password or "")
    )


def webhook_endpoint_register(*, user: User, url: str, events: list[str], description: str) -> IssuedEndpoint:
    """A new webhook endpoint (its signing secret only in the returned value), once the address is verified:
    an endpoint receives the codes of the user's numbers. Raises ``EmailNotVerified`` and what
    ``webhooks.services.endpoint_create`` raises."""
    _require_verified(user)
    return webhook_services.endpoint_create(user=user, url=url, events=events, description=description)
