"""Celery entry points of the storefront: thin wrappers that take ids and call services."""

from __future__ import annotations

from celery import shared_task

from portal.notifications import code_email_send


def on_event_committed(sender, event_id: str, **kwargs) -> None:
    """``core.events.event_committed`` receiver: mail a code from a worker, never from the request."""
    code_email.delay(event_id)


@shared_task(name="portal.code_email", ignore_result=True)
def code_email(event_id: str) -> None:
    code_email_send(event_id=event_id)
