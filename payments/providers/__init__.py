"""Payment providers: plug-ins chosen per tenant (``PaymentSettings.provider``), each with its own credentials.

A provider turns a payment into a checkout (``create_checkout`` → the URL the user is sent to) and a raw
notification into a verified ``Notification`` (``verify_notification``, which raises ``InvalidNotification`` for
anything forged, tampered or stale). Providers never touch the database or the ledger: ``payments.services``
decides what a verified notification does.
"""

from __future__ import annotations

from django.conf import settings

from payments.errors import TopupUnavailable
from payments.models import PaymentSettings, Provider
from payments.providers.base import Checkout, Incoming, Notification, PaymentProvider
from payments.providers.cryptomus import CryptomusProvider
from payments.providers.demo import DemoProvider
from payments.providers.stripe import StripeProvider

__all__ = ["Checkout", "Incoming", "Notification", "PaymentProvider", "provider_for"]


def provider_for(config: PaymentSettings, name: str) -> PaymentProvider:
    """The tenant's configured provider ``name``; ``TopupUnavailable`` if it has no credentials for it."""
    if name == Provider.DEMO and config.demo_secret and settings.PAYMENTS_DEMO_PROVIDER:
        return DemoProvider(secret=config.demo_secret)
    if name == Provider.STRIPE and config.stripe_secret_key and config.stripe_webhook_secret:
        return StripeProvider(
            secret_key=config.stripe_secret_key,
            webhook_secret=config.stripe_webhook_secret,
            expires_in_minutes=config.expire_after_minutes,
        )
    if name == Provider.CRYPTOMUS and config.cryptomus_merchant_id and config.cryptomus_api_key:
        return CryptomusProvider(merchant_id=config.cryptomus_merchant_id, api_key=config.cryptomus_api_key)
    raise TopupUnavailable(f"The {name!r} payment provider is not configured for this store.")
