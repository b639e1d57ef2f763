"""What operators are told about: ``ReconciliationIssue`` rows, recorded once per (kind, upstream id)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from accounts.models import Tenant
from activations.models import Activation, ReconciliationIssue

logger = logging.getLogger(__name__)

NOTHING_TO_DO = "none needed"
DONE_ACTIONS = ("canceled upstream", "finalized upstream")

Item = TypeVar("Item")


def issue_record(
    tenant: Tenant,
    kind: str,
    upstream_id: str,
    *,
    activation: Activation | None = None,
    detail: dict[str, Any],
    action: str,
) -> None:
    """Record (or update) the issue of ``kind`` for the upstream id. A later finding that nothing is left to do
    never erases what an earlier one did."""
    issue, created = ReconciliationIssue.objects.get_or_create(
        tenant=tenant,
        kind=kind,
        upstream_id=upstream_id[:64],
        defaults={"activation": activation, "detail": detail, "action": action[:200]},
    )
    if created or (action == NOTHING_TO_DO and issue.action.startswith(DONE_ACTIONS)):
        return
    if issue.action != action or issue.detail != detail:
        ReconciliationIssue.objects.filter(pk=issue.pk).update(action=action[:200], detail=detail)


def invalid_upstream_data(tenant: Tenant, upstream_id: str, *, source: str, error: Exception | str) -> None:
    """The supplier sent a value outside its documented range: nothing of it was used; operators are told."""
    logger.warning("tenant %s: invalid upstream data for %r from %s: %s", tenant.slug, upstream_id, source, error)
    issue_record(
        tenant,
        ReconciliationIssue.Kind.INVALID_UPSTREAM_DATA,
        upstream_id,
        detail={"source": source, "error": str(error)[:500]},
        action="rejected (nothing of it was used)",
    )


def each_isolated(items: Iterable[Item], handle: Callable[[Item], object], *, what: str) -> int:
    """Call ``handle`` on every item; one item's failure is logged and counted, never stops the others (one
    poison activation must not stop a tenant's whole loop). Returns how many succeeded."""
    done = failed = 0
    for item in items:
        try:
            handle(item)
        except Exception:  # isolated on purpose: logged with its traceback, counted, and the loop goes on
            logger.exception("%s failed for %r", what, item)
            failed += 1
        else:
            done += 1
    if failed:
        logger.error("%s: %d of %d failed", what, failed, done + failed)
    return done
