"""Model fields of the base layer."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.lookups import Exact

from core import crypto


class EncryptedTextField(models.TextField):
    """A secret stored encrypted (``core.crypto``): Python code reads and writes the plaintext, the database
    holds a Fernet token. The empty string stays empty (so "not set" can still be filtered on); any other
    value cannot be compared in SQL, since each encryption is different: equality lookups on a non-empty
    value are refused rather than silently matching nothing."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in {"exact", "isnull"}:
            return None  # an encrypted column cannot be searched, ordered by content, or compared
        return EncryptedExact if lookup_name == "exact" else super().get_lookup(lookup_name)


class EncryptedExact(Exact):
    def get_prep_lookup(self) -> Any:
        if self.rhs not in (None, ""):
            raise ValueError("An encrypted field can only be compared with the empty string; use its digest.")
        return super().get_prep_lookup()
