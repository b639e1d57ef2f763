"""Celery entry points of top-ups. The schedule is a django_celery_beat ``PeriodicTask`` (migration 0002)."""

from __future__ import annotations

from celery import shared_task

from payments.services import payments_expire_stale


@shared_task(name="payments.expire_stale", ignore_result=True)
def expire_stale() -> int:
    """Expire checkouts left unpaid past their tenant's limit (a later verified "paid" still credits)."""
    return payments_expire_stale()
