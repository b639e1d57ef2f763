"""Writes of the compat app: an operator's code mappings (the admin saves through here)."""

from __future__ import annotations

from django.db import transaction

from compat.models import CodeMapping


@transaction.atomic
def code_mapping_save(*, mapping: CodeMapping) -> CodeMapping:
    """Validate (code and id syntax, one mapping per code and scope) and save. Raises ``ValidationError``.

    The next request of every storefront the mapping concerns uses it: code tables are read per request.
    """
    mapping.full_clean()
    mapping.save()
    return mapping
