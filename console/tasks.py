"""Celery entry points of the console."""

from __future__ import annotations

from celery import shared_task

from console.alerts import alerts_check


@shared_task(name="console.check_alerts")
def check_alerts() -> str:
    """Every minute (django_celery_beat, editable): open, refresh and resolve operator alerts."""
    return alerts_check().summary()
