"""The storefront's own tables: what a user keeps on the storefront itself (no money, no activation state)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Favourite(models.Model):
    """A service or a country a user starred, to find it first. Ids are the catalog's (``whatsapp``, ``us``);
    one that leaves the catalog is simply not shown."""

    class Kind(models.TextChoices):
        SERVICE = "service", "Service"
        COUNTRY = "country", "Country"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    item_id = models.CharField(max_length=30)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "item_id"], name="favourite_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.item_id}"
