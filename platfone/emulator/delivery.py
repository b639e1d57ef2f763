"""Webhook delivery for the emulator served over HTTP: a background thread that retries with backoff."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import requests

logger = logging.getLogger("platfone.emulator")

DEFAULT_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)


# How long each webhook POST of the default sender took, from the sender's side (connect, wait to be accepted,
# the receiver's work, the answer), in seconds: what `make bench` reports as "webhook acknowledged".
ACK_SECONDS: deque[float] = deque(maxlen=100_000)


def post_webhook(url: str, headers: Mapping[str, str], body: bytes) -> int:
    """Default sender: one HTTP POST, returning the status code (exceptions mean "not delivered")."""
    began = time.monotonic()
    try:
        return requests.post(
            url, data=body, headers=dict(headers), timeout=(3.05, 10), allow_redirects=False
        ).status_code
    finally:
        ACK_SECONDS.append(time.monotonic() - began)


class DeliveryWorker:
    """Calls `attempt(event_id) -> delivered?` until it succeeds or the retry delays run out.

    One daemon thread, started on the first submit. Failed deliveries are rescheduled rather than waited
    for, so one unreachable receiver does not hold back the events behind it. `close()` stops promptly.
    """

    def __init__(
        self,
        attempt: Callable[[str], bool],
        delays: Sequence[float] = DEFAULT_DELAYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempt = attempt
        self._delays = tuple(delays)
        self._clock = clock
        self._due: list[tuple[float, int, str, int]] = []
        self._sequence = itertools.count()
        self._wakeup = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def submit(self, event_id: str) -> None:
        with self._wakeup:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="platfone-emulator-webhooks", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (self._clock(), next(self._sequence), event_id, 0))
            self._wakeup.notify()

    def close(self, timeout: float = 2.0) -> None:
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _next(self) -> tuple[str, int] | None:
        with self._wakeup:
            while not self._stopped:
                if self._due and self._due[0][0] <= self._clock():
                    _, _, event_id, attempt = heapq.heappop(self._due)
                    return event_id, attempt
                self._wakeup.wait(None if not self._due else max(0.0, self._due[0][0] - self._clock()))
            return None

    def _run(self) -> None:
        while (job := self._next()) is not None:
            event_id, attempt = job
            try:
                delivered = self._attempt(event_id)
            except Exception:
                logger.exception("webhook %s: delivery attempt crashed", event_id)
                delivered = False
            if delivered:
                continue
            if attempt < len(self._delays):
                with self._wakeup:
                    due = self._clock() + self._delays[attempt]
                    heapq.heappush(self._due, (due, next(self._sequence), event_id, attempt + 1))
            else:
                logger.warning("webhook %s: giving up after %d attempts", event_id, attempt + 1)
