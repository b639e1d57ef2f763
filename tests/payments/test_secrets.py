"""Payment credentials are encrypted at rest and rotate with the field encryption key."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from payments.models import PaymentSettings

pytestmark = pytest.mark.django_db

SECRETS = ("stripe_secret_key", "stripe_webhook_secret", "cryptomus_api_key", "demo_secret")


def raw(pk: int) -> tuple[str, ...]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(SECRETS)} FROM payments_paymentsettings WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()


def test_credentials_are_encrypted_at_rest_and_rotate_with_the_field_key(tenant, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    config = PaymentSettings.objects.create(
        tenant=tenant, stripe_secret_key="sk_live_abc", stripe_webhook_secret="whsec_abc", cryptomus_api_key="cm-key"
    )
    before = raw(config.pk)
    for plain, stored in zip(("sk_live_abc", "whsec_abc", "cm-key", config.demo_secret), before, strict=True):
        assert plain not in stored and stored.startswith("gAAAA")  # a Fernet token
    # when a new key is put first and the stored secrets are re-encrypted
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_field_encryption", stdout=out)
    assert "payment credentials of 1 tenant(s)" in out.getvalue()
    # then the old key can go
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert all(a != b for a, b in zip(raw(config.pk), before, strict=True))
    fresh = PaymentSettings.objects.get(pk=config.pk)
    assert (fresh.stripe_secret_key, fresh.stripe_webhook_secret, fresh.cryptomus_api_key) == (
        "sk_live_abc",
        "whsec_abc",
        "cm-key",
    )
