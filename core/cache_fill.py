"""Read-through cache entries that a change can invalidate at once, without a race against a concurrent fill.

A reader that misses loads from the database and fills with ``cache.add`` only. A change writes a *tombstone*
over the entry (now, and again after its transaction commits) that lives longer than any fill takes between
its read and its ``add``: a reader that loaded the old row just before the change cannot put it back, and
every reader goes to the database until the tombstone expires. Used by the API key cache (accounts) and the
tenant's pricing terms (catalog).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction

TOMBSTONE = "__invalidated__"


def live(value: Any) -> bool:
    """Whether a value read from the cache is a usable entry (not a miss, not a tombstone)."""
    return value is not None and not (isinstance(value, str) and value == TOMBSTONE)


def fill(key: str, value: Any, ttl_seconds: int) -> None:
    """Cache a value just loaded from the database; never overwrites a tombstone (or a newer fill)."""
    cache.add(key, value, ttl_seconds)


def invalidate(keys: Iterable[str], *, tombstone_seconds: int) -> None:
    """Tombstone these entries now and once more after the current transaction (if any) commits."""
    names = list(keys)
    if not names:
        return

    def write() -> None:
        cache.set_many(dict.fromkeys(names, TOMBSTONE), tombstone_seconds)

    write()
    transaction.on_commit(write)
