"""An operator's changes to the SMS-Activate code tables shipped in ``compat/data/``.

The shipped tables map the protocol's codes (``wa``, ``tg`` for services; ``0``, ``187`` for countries) to our
catalog ids (``whatsapp``, ``us``). A ``CodeMapping`` row adds a code or overrides a shipped one; an empty
``our_id`` withdraws the code. Rows are global (no tenant) or a storefront's own, and the most specific wins:
the storefront's row, then the global row, then the shipped table.

Why both scopes: the protocol's codes are the same for every storefront and our ids are the upstream's, which
all storefronts share, so a missing or wrong mapping is fixed once for everybody with a global row; a
storefront's own row lets one reseller map a code differently (say ``ot`` to another service) or stop offering
one, without changing what the others sell.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import COUNTRY_ID_PATTERN, SERVICE_ID_PATTERN

# The protocol's service codes are short lower-case strings (wa, tg, aon); country codes are numbers (0, 187).
SERVICE_CODE_PATTERN = r"^[a-z0-9]{1,10}$"
COUNTRY_CODE_PATTERN = r"^(0|[1-9][0-9]{0,3})$"


class CodeMapping(models.Model):
    class Kind(models.TextChoices):
        SERVICE = "service", "Service"
        COUNTRY = "country", "Country"

    tenant = models.ForeignKey(
        "accounts.Tenant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="compat_code_mappings",
        help_text="Empty: every storefront (a storefront's own mapping of the same code still wins).",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(
        max_length=10,
        help_text="The protocol's code: lower-case letters for a service (wa), a number for a country (187).",
    )
    our_id = models.CharField(
        "our id",
        max_length=30,
        blank=True,
        help_text="Our catalog's service_id (whatsapp) or country_id (us, us_v). Empty: the code is not offered.",
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "code", "tenant_id"]
        verbose_name = "SMS-Activate code mapping"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "code"],
                condition=Q(tenant__isnull=True),
                name="compat_code_mapping_global_unique",
                violation_error_message="There is already a global mapping of this code.",
            ),
            models.UniqueConstraint(
                fields=["tenant", "kind", "code"],
                condition=Q(tenant__isnull=False),
                name="compat_code_mapping_tenant_unique",
                violation_error_message="This storefront already has a mapping of this code.",
            ),
        ]

    def __str__(self) -> str:
        scope = self.tenant.slug if self.tenant_id and self.tenant else "global"
        return f"{self.kind} {self.code} → {self.our_id or '(not offered)'} [{scope}]"

    def clean(self) -> None:
        errors = {}
        code_pattern, id_pattern = (
            (SERVICE_CODE_PATTERN, SERVICE_ID_PATTERN)
            if self.kind == self.Kind.SERVICE
            else (COUNTRY_CODE_PATTERN, COUNTRY_ID_PATTERN)
        )
        if self.code and not re.fullmatch(code_pattern, self.code):
            errors["code"] = (
                "A service code is 1-10 lower-case letters or digits (e.g. wa)."
                if self.kind == self.Kind.SERVICE
                else "A country code is a number from 0 to 9999 without leading zeros (e.g. 187)."
            )
        if self.our_id and not re.fullmatch(id_pattern, self.our_id):
            errors["our_id"] = (
                "A service id is 1-30 letters, digits, dashes or underscores (e.g. whatsapp)."
                if self.kind == self.Kind.SERVICE
                else "A country id is 2-9 letters or digits, optionally joined by - or _ (e.g. us, us_v)."
            )
        if errors:
            raise ValidationError(errors)
