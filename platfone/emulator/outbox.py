"""The emulator's webhook outbox: events are recorded under the state lock and sent after it is released."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from platfone.emulator.delivery import DEFAULT_DELAYS, DeliveryWorker, post_webhook
from platfone.emulator.errors import not_found
from platfone.emulator.records import WebhookRecord
from platfone.webhooks import signed_headers

MAX_WEBHOOK_RECORDS = 1000

Sender = Callable[[str, Mapping[str, str], bytes], int]


class WebhookOutbox:
    """Signs and sends webhook events; keeps the last `MAX_WEBHOOK_RECORDS` for inspection and redelivery.

    With `background`, deliveries go through a `DeliveryWorker` (retries with backoff); without, each send is
    one synchronous call of `sender`, which is what in-process tests want.
    """

    def __init__(
        self,
        *,
        lock: threading.RLock,
        now: Callable[[], int],
        new_id: Callable[[], str],
        url: str | None,
        secret: str | None,
        sender: Sender | None,
        background: bool,
        delays: Sequence[float] = DEFAULT_DELAYS,
    ) -> None:
        self._lock = lock
        self._now = now
        self._new_id = new_id
        self.url = url
        self.secret = secret
        self._sender = sender or post_webhook
        self._worker = DeliveryWorker(self.attempt, delays) if background else None
        self._records: dict[str, WebhookRecord] = {}

    def record(self, kind: str, data: dict[str, Any], activation_id: str | None = None) -> WebhookRecord | None:
        """Record an event (caller holds the lock); None when no webhook URL and secret are configured."""
        if not (self.url and self.secret):
            return None
        event_id = self._new_id()
        body = json.dumps({"id": event_id, "api_version": "1.0", "type": kind, "data": data}).encode()
        record = WebhookRecord(event_id=event_id, type=kind, body=body, activation_id=activation_id)
        self._records[event_id] = record
        if len(self._records) > MAX_WEBHOOK_RECORDS:
            self._records.pop(next(iter(self._records)))
        return record

    def send(self, event_id: str) -> None:
        """Deliver now (synchronous mode) or hand to the background worker; never call with the lock held."""
        if self._worker is not None:
            self._worker.submit(event_id)
        else:
            self.attempt(event_id)

    def attempt(self, event_id: str) -> bool:
        """One signed POST of a recorded event (fresh timestamp each attempt); True when answered 2xx."""
        with self._lock:
            record = self._records.get(event_id)
            url, secret = self.url, self.secret
            if record is None or not (url and secret):
                return False
            record.attempts += 1
            headers = signed_headers(secret, event_id, self._now(), record.body)
        try:
            status, error = self._sender(url, headers, record.body), None
        except Exception as exc:  # any failure of the receiver is "not delivered"; retries decide the rest
            status, error = None, f"{type(exc).__name__}: {exc}"
        delivered = status is not None and 200 <= status < 300
        with self._lock:
            record.last_status, record.last_error = status, error
            record.delivered = record.delivered or delivered
        return delivered

    def redeliver(self, event_id: str) -> dict[str, Any]:
        """Send a recorded event again with the same id (what a receiver's duplicate detection must absorb)."""
        with self._lock:
            if event_id not in self._records:
                raise not_found("Webhook event not found")
        self.send(event_id)
        with self._lock:
            return self._records[event_id].to_json()

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.to_json() for record in self._records.values()]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
