"""Serving the emulator over real HTTP: a threaded stdlib WSGI server, in a thread or as a process.

`python -m platfone.emulator` and `manage.py platfone_emulator` share `add_arguments` and `serve`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from platfone.emulator.http import EmulatorApp
from platfone.emulator.state import DEFAULT_API_KEY, DEFAULT_BALANCE, Emulator

logger = logging.getLogger("platfone.emulator")


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a stalled (timeout-fault) request does not block the others."""

    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    """Access log to the `platfone.emulator` logger at DEBUG instead of stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


def make_emulator_server(emulator: Emulator, host: str = "127.0.0.1", port: int = 8001) -> ThreadingWSGIServer:
    """A bound, not yet serving, HTTP server for `emulator` (port 0 picks a free port)."""
    return make_server(host, port, EmulatorApp(emulator), server_class=ThreadingWSGIServer, handler_class=QuietHandler)


class RunningServer:
    """An emulator server serving from a background thread; `stop()` (or leaving the `with`) ends it."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self.server = make_emulator_server(emulator, host, port)
        address = self.server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self.url = f"http://{self.host}:{self.port}"
        self.base_url = f"{self.url}/api/v1"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="platfone-emulator", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
        self.emulator.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port (0 picks a free one; default 8001)")
    parser.add_argument(
        "--api-key", dest="api_key", action="append", help=f"accepted API key, repeatable (default {DEFAULT_API_KEY})"
    )
    parser.add_argument("--balance", type=int, default=DEFAULT_BALANCE, help="initial balance per key, in cents")
    parser.add_argument("--webhook-url", dest="webhook_url", help="where to POST signed webhook events")
    parser.add_argument("--webhook-secret", dest="webhook_secret", help="HMAC secret for webhook signatures")
    parser.add_argument("--latency-ms", dest="latency_ms", type=int, default=0, help="artificial latency per call")
    parser.add_argument("--lifetime", type=int, default=1200, help="activation lifetime in seconds")
    parser.add_argument("--cancel-delay", dest="cancel_delay", type=int, default=0, help="seconds before cancel")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and phone numbers")
    parser.add_argument("--no-rate-limits", dest="no_rate_limits", action="store_true", help="disable 429s")
    parser.add_argument(
        "--no-success-rate-block", dest="no_success_rate_block", action="store_true", help="disable the 7%% block"
    )


def emulator_from_options(options: Mapping[str, Any]) -> Emulator:
    if bool(options.get("webhook_url")) != bool(options.get("webhook_secret")):
        raise ValueError("--webhook-url and --webhook-secret go together")
    keys = options.get("api_key") or [DEFAULT_API_KEY]
    return Emulator(
        api_keys=dict.fromkeys(keys, options.get("balance", DEFAULT_BALANCE)),
        activation_lifetime=options.get("lifetime", 1200),
        cancel_delay=options.get("cancel_delay", 0),
        webhook_url=options.get("webhook_url"),
        webhook_secret=options.get("webhook_secret"),
        latency_ms=options.get("latency_ms", 0),
        seed=options.get("seed", 0),
        rate_limits=not options.get("no_rate_limits"),
        success_rate_block=not options.get("no_success_rate_block"),
    )


def serve(options: Mapping[str, Any], announce: Callable[[str], None]) -> None:
    """Serve until SIGTERM or SIGINT, announcing the URL in one line first; shuts down cleanly."""
    emulator = emulator_from_options(options)
    server = make_emulator_server(emulator, options.get("host", "127.0.0.1"), options.get("port", 8001))
    host, port = (str(part) for part in server.server_address[:2])
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="platfone-emulator", daemon=True
    )
    thread.start()
    keys = ", ".join(options.get("api_key") or [DEFAULT_API_KEY])
    announce(f"Platfone emulator listening on http://{host}:{port}/api/v1 (control: /_emulator/, keys: {keys})")
    try:
        # Short waits so the signal handler's set() is noticed promptly on every platform.
        while not stop.wait(0.2):
            pass
    finally:
        # shutdown() must come from another thread than serve_forever(), hence the serving thread above.
        server.shutdown()
        server.server_close()
        thread.join(5)
        emulator.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platfone.emulator", description="Offline Platfone emulator")
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        serve(options, lambda line: print(line, flush=True))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
