"""Secrets at rest (core.crypto, core.fields) and the audit log writer (core.audit)."""

from __future__ import annotations

import datetime

import pytest
from cryptography.fernet import Fernet

from core import crypto
from core.audit import audit_record, audit_value
from core.models import AuditEntry


def test_encryption_round_trips_with_a_fresh_nonce_each_time():
    first, second = crypto.encrypt("pk-1"), crypto.encrypt("pk-1")
    assert first != second and "pk-1" not in first
    assert crypto.decrypt(first) == crypto.decrypt(second) == "pk-1"


def test_an_older_key_still_decrypts_and_rotation_moves_to_the_newest(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "secret"
    rotated = crypto.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "secret"
    with pytest.raises(crypto.SecretUndecryptable):
        crypto.decrypt(token)


def test_a_malformed_key_is_a_clear_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(crypto.ImproperlyConfigured, match="invalid key"):
        crypto.encrypt("x")


def test_digests_are_stable_keyed_and_known_under_every_configured_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    under_old = crypto.keyed_digest("https://s.example", "pk")
    assert (
        under_old == crypto.keyed_digest("https://s.example", "pk") != crypto.keyed_digest("https://s.example", "pk2")
    )
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert crypto.keyed_digest("https://s.example", "pk") != under_old
    assert under_old in crypto.keyed_digests("https://s.example", "pk")


def test_the_development_key_is_a_valid_fernet_key():
    Fernet(crypto.derive_key("any secret key").encode())


def test_audit_values_are_json_safe():
    assert audit_value({"when": datetime.date(2026, 1, 2), "items": (1, "a")}) == {
        "when": "2026-01-02",
        "items": [1, "a"],
    }


@pytest.mark.django_db
def test_an_audit_entry_names_its_target_and_tenant(alice):
    entry = audit_record(actor=alice, action="test.touch", target=alice, reason="why", before={"a": 1}, after={"a": 2})
    assert (entry.actor, entry.actor_label, entry.tenant_id) == (alice, str(alice), alice.tenant_id)
    assert (entry.target_type, entry.target_id, entry.reason) == ("accounts.user", str(alice.pk), "why")


@pytest.mark.django_db
def test_a_dedupe_key_records_an_operation_once(alice):
    first = audit_record(actor=alice, action="wallet.credit", target=alice, dedupe_key="admin:adjust:1")
    again = audit_record(actor=alice, action="wallet.credit", target=alice, dedupe_key="admin:adjust:1")
    assert first.pk == again.pk and AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_a_tenant_is_its_own_tenant_in_the_log(tenant, operator):
    assert audit_record(actor=operator, action="change", target=tenant).tenant_id == tenant.pk
