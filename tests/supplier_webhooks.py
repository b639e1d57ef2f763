"""Posting a supplier (Platfone) webhook into Django the way the tests need it."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.test import Client, TestCase


def post_supplier_webhook(path: str, body: bytes, headers: Mapping[str, str], *, raise_request_exception: bool = True):
    """POST a signed webhook through the test client and run what its commit hands to the worker.

    The request only stores the event; a ``notify`` worker applies it after the commit (eagerly in the tests). A
    test inside a transaction never commits, so there the hand-over is run when the request returns; outside one,
    the commit runs it. Either way the event is applied when this returns, as it is a few milliseconds after the
    answer in production."""
    extra = {name: value for name, value in headers.items() if name.lower() != "content-type"}
    client = Client(raise_request_exception=raise_request_exception)
    if not transaction.get_connection().in_atomic_block:
        return client.post(path, data=body, content_type="application/json", headers=extra)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, data=body, content_type="application/json", headers=extra)
