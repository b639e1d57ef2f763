"""Secrets at rest: Fernet encryption under a rotatable key list, and keyed digests for uniqueness checks.

``settings.FIELD_ENCRYPTION_KEYS`` is a list of Fernet keys, newest first: the first encrypts, every one
decrypts (``MultiFernet``), so a key is rotated by putting a new one in front, running
``manage.py rotate_field_encryption`` (re-encrypts every stored secret and recomputes the digests), then
dropping the old key. Ciphertexts carry a random nonce, so equal secrets never compare equal in the
database: a uniqueness guarantee on a secret is kept on its keyed digest instead (``keyed_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUndecryptable(ImproperlyConfigured):
    """A stored secret was encrypted under a key that ``FIELD_ENCRYPTION_KEYS`` no longer holds."""


def derive_key(material: str) -> str:
    """A valid Fernet key derived from any string (used for the development key derived from SECRET_KEY)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"field-encryption:{material}".encode()).digest()).decode()


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds an invalid key: each must be 32 url-safe base64-encoded bytes "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        ) from exc


def _keys() -> tuple[str, ...]:
    return tuple(settings.FIELD_ENCRYPTION_KEYS)


def encrypt(plaintext: str) -> str:
    return _fernet(_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _decrypt(_keys(), token)


@lru_cache(maxsize=512)
def _decrypt(keys: tuple[str, ...], token: str) -> str:
    """Memoized per key list: each API request rebuilds its tenant from the key cache, and decrypting its two
    secrets (an HMAC check and an AES pass each) every time cost a tenth of the request's CPU. A token no key
    of the list opens raises, and exceptions are not memoized."""
    try:
        return _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUndecryptable(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: the key it was encrypted with is "
            "missing (put it back after the new one, then run manage.py rotate_field_encryption)."
        ) from None


def rotate(token: str) -> str:
    """The same secret, re-encrypted under the first (newest) key."""
    try:
        return _fernet(_keys()).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUndecryptable("A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS.") from None


def _digest(key: str, parts: tuple[str, ...]) -> str:
    digest_key = hashlib.sha256(f"digest:{key}".encode()).digest()
    message = "\x1f".join(parts).encode()
    return hmac.new(digest_key, message, hashlib.sha256).hexdigest()


def keyed_digest(*parts: str) -> str:
    """HMAC-SHA256 of ``parts`` under a key derived from the newest encryption key: equal inputs give equal
    digests (a unique index can hold them), and a leaked database does not let anyone test guesses offline."""
    return _digest(_keys()[0], parts)


def keyed_digests(*parts: str) -> list[str]:
    """The digest of ``parts`` under every configured key: during a rotation, rows not yet re-digested still
    carry the digest of an older key."""
    return [_digest(key, parts) for key in _keys()]
