"""Reads of the storefront's own tables, always scoped to the requesting user."""

from __future__ import annotations

from portal.models import Favourite


def favourite_ids(*, user) -> dict[str, set[str]]:
    """The user's starred ids by kind (``{"service": {...}, "country": {...}}``). One query."""
    starred: dict[str, set[str]] = {Favourite.Kind.SERVICE: set(), Favourite.Kind.COUNTRY: set()}
    if not user.is_authenticated:
        return starred
    for kind, item_id in Favourite.objects.filter(user=user).values_list("kind", "item_id"):
        starred[kind].add(item_id)
    return starred
