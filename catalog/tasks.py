"""Celery entry points of the catalog. The hourly schedule is a django_celery_beat ``PeriodicTask``
(created by migration 0002, editable in the admin under "Periodic tasks")."""

from __future__ import annotations

from celery import shared_task

from catalog import services

SYNC_ALL_TASK = "catalog.sync_all_catalogs"


@shared_task(name=SYNC_ALL_TASK, ignore_result=True)
def sync_all_catalogs() -> dict[str, str]:
    """Refresh every tenant's catalog from its upstream account (a 304 per unchanged list)."""
    return {
        outcome.tenant: outcome.report.summary() if outcome.report else f"failed: {outcome.error}"
        for outcome in services.catalog_sync_all()
    }
