"""Fixtures of the webhooks suite: a real HTTP receiver on a free local port, loopback allowed or not, a clock
to move, and the activation fixtures (emulator, funding) of the activations suite."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.activations.conftest import emulator, fund, hooked_emulator, webhook_secret  # noqa: F401


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request was read


@dataclass
class Receiver:
    """A customer's endpoint: records every request; answers from ``script`` (status codes, then 200s)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    answer_body: bytes = b'{"received": true}'
    extra_headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fail_if: object = None  # a callable(body) -> bool: answer 500 to the bodies it picks
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def next_status(self) -> int:
        return self.script.pop(0) if self.script else 200

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Block until ``count`` requests have arrived (or ``timeout`` seconds passed); returns them."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.arrived.wait(remaining)
            return list(self.requests)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer, threading.Thread]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            receiver = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received = Received(self.path, dict(self.headers.items()), body, time.monotonic())
            with receiver.arrived:
                receiver.requests.append(received)
                receiver.arrived.notify_all()
            if receiver.delay:
                time.sleep(receiver.delay)
            status = 500 if receiver.fail_if and receiver.fail_if(body) else receiver.next_status()
            self.send_response(status)
            for name, value in receiver.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(receiver.answer_body)))
            self.send_header("Connection", "close")
            self.end_headers()
            # The client may stop reading (the response cap): that is the point of some tests.
            with contextlib.suppress(OSError):
                self.wfile.write(receiver.answer_body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/reseller")
    holder["receiver"] = receiver
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver", daemon=True
    )
    thread.start()
    return receiver, server, thread


@pytest.fixture
def receiver():
    """A local HTTP receiver on a free port, started for the test and stopped after it."""
    receiver, server, thread = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def allow_loopback(settings):
    """Development mode: loopback targets (the local receiver) are allowed, over plain http."""
    settings.CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK = True


@pytest.fixture
def production(settings):
    """Production mode: only public addresses, only https."""
    settings.CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK = False


@pytest.fixture
def clock(monkeypatch):
    """``clock.advance(seconds)`` moves our clock (``django.utils.timezone.now``) forward, as if that much time
    had passed: retries and the 24 h windows happen without sleeping."""
    from django.utils import timezone

    real_now = timezone.now

    class Clock:
        offset = timedelta(0)

        def now(self):
            return real_now() + self.offset

        def advance(self, seconds: float) -> None:
            self.offset += timedelta(seconds=seconds)

    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock
