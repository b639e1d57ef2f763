"""The shape of an API key: ``<visible prefix>.<secret>``, stored as the prefix and a SHA-256 of the whole key."""

from __future__ import annotations

import hashlib

API_KEY_PREFIX_LENGTH = 8


def hash_api_key(raw_key: str) -> str:
    # The secret part has 256 bits of entropy, so a fast hash is enough (no password hasher needed).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def split_api_key(raw_key: str) -> tuple[str, str] | None:
    prefix, dot, secret = raw_key.partition(".")
    if not dot or len(prefix) != API_KEY_PREFIX_LENGTH or not secret:
        return None
    return prefix, secret
