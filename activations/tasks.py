"""Celery entry points for activations: thin wrappers that take ids and call services.

Every task is idempotent (the services are), so a duplicate delivery or a retry after a worker crash
changes nothing twice. Periodic schedules live in django-celery-beat (editable in the admin).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task

from accounts import selectors as accounts_selectors
from activations.services import sync_due_activations
from activations.services.maintenance import (
    close_stuck_orders,
    expire_overdue_activations,
    finalize_due_activations,
)
from activations.services.reconcile import reconcile_tenant
from activations.services.webhooks import ActivationNotKnownYet, webhook_event_apply, webhook_events_sweep

logger = logging.getLogger(__name__)


def _each_tenant(job: Callable, name: str, *, include_suspended: bool = True) -> dict[str, object]:
    results: dict[str, object] = {}
    for tenant in accounts_selectors.tenants_with_upstream(include_suspended=include_suspended):
        try:
            results[tenant.slug] = job(tenant=tenant)
        except Exception:  # one tenant's broken upstream must not stop the others
            logger.exception("%s failed for tenant %s", name, tenant.slug)
            results[tenant.slug] = "error"
    return results


@shared_task(name="activations.sync_due", ignore_result=True)
def sync_due() -> dict[str, object]:
    return _each_tenant(sync_due_activations, "sync_due")


@shared_task(name="activations.expire_overdue", ignore_result=True)
def expire_overdue() -> dict[str, object]:
    def job(tenant):
        return {"expired": expire_overdue_activations(tenant=tenant), "stuck": close_stuck_orders(tenant=tenant)}

    return _each_tenant(job, "expire_overdue")


@shared_task(name="activations.finalize_due", ignore_result=True)
def finalize_due() -> dict[str, object]:
    return _each_tenant(finalize_due_activations, "finalize_due")


@shared_task(name="activations.reconcile", ignore_result=True)
def reconcile() -> dict[str, object]:
    return _each_tenant(lambda tenant: reconcile_tenant(tenant=tenant).summary(), "reconcile", include_suspended=True)


@shared_task(name="activations.apply_webhook_event", ignore_result=True)
def apply_webhook_event(stored_id: int) -> bool:
    """Apply a supplier webhook event its request stored (the ``notify`` queue: an SMS waits on it)."""
    try:
        return webhook_event_apply(stored_id=stored_id, note_unknown=True)
    except ActivationNotKnownYet as exc:
        logger.info("webhook event %s: activation %s not known yet; the sweep applies it once it is", stored_id, exc)
        return False


@shared_task(name="activations.sweep_webhook_events", ignore_result=True)
def sweep_webhook_events() -> dict[str, int]:
    return webhook_events_sweep()
