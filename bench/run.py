#!/usr/bin/env python
"""``make bench``: start the production-shaped stack on 127.0.0.1, measure it with locust, write the results.

Stack (every process started here, in its own process group, and stopped by PID on exit, error, Ctrl-C or
SIGTERM): a fresh PostgreSQL database, a dedicated Redis DB (flushed), gunicorn (gthread), a Celery worker
and beat on Redis, and four Platfone emulators with an artificial latency:

    EA  no webhooks   bench-load (wallet, price, poll without webhooks), bench-ord-NNN (order+cancel), bench-burst
    EB  webhooks      bench-wh (poll with webhooks, SMS visibility with webhooks)
    EC  webhooks      bench-amp-wh (upstream amplification with webhooks)
    ED  no webhooks   bench-amp (amplification without webhooks), bench-sms (SMS visibility without webhooks)

One emulator per measurement whose upstream counter must not see anyone else's calls. Phases:

1. throughput and latency at N closed-loop clients: ceiling, wallet, price (warm), poll (webhooks on / off),
   POST activations + cancel, ceiling again; each endpoint's throughput as a ratio to the mean ceiling;
2. upstream amplification: M activations polled once a second for S seconds, webhooks off and on
   (``GET activation`` calls per client poll), and K identical concurrent price requests on a cold cache;
3. SMS visibility: the emulator delivers an SMS at t0, the polling client measures when it sees the code;
   with webhooks, every client also has a customer webhook endpoint (a receiver in this process), and the
   time from t0 until its signed ``activation.sms_received`` arrives is measured under the same load;
4. money: charges vs SMS delivered upstream, ``verify_ledger``, 5xx and errors in the logs.

Writes ``bench/results/<date>-<name>.json`` and (full runs) ``docs/performance.md``. Options: ``--help``;
every option also reads an environment variable (``BENCH_QUICK=1``, ``BENCH_DURATION=...``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import render  # noqa: E402

PY = sys.executable
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
HOST = "127.0.0.1"

# (service, country) pairs, all in stock and cancelable on the emulator; one per use so caches stay apart.
POLL_PAIR = ("telegram", "us")
ORDER_PAIR = ("whatsapp", "uk")
PRICE_PAIR = ("google", "de")
BURST_PAIR = ("discord", "fr")

TENANT_LIMITS = {
    # API rate limit per key (default 180/min): 50 closed-loop clients make thousands of requests a minute.
    "rate_limit_per_minute": 1_000_000,
    # Active activations per user (default 5): the poll and amplification phases hold hundreds open.
    "max_active_activations_per_user": 100_000,
    # Users below 20 % SMS success after 10 orders drop to 1 active: order+cancel never gets an SMS.
    "min_user_success_rate_percent": 0,
    # The storefront's success guard (default 12 %): the poll and order phases place many orders that never get an
    # SMS, so after the 10th order new accounts would get 429 success_rate_guard.
    "success_guard_percent": 0,
}
EMULATOR_SETTINGS = {
    # The emulator's own per-key limits (the upstream's, not our client's budget, which stays as it is).
    "rate_limits": False,
    # The upstream's 20 active activations per account.
    "max_active": 100_000,
    # The upstream's 24 h block below 7 % success: order+cancel is 0 % success by construction.
    "success_rate_block": False,
}
LIFTED = [
    "Tenant.rate_limit_per_minute 180 -> 1,000,000 (our API's per-key limit) for every bench tenant",
    "Tenant.max_active_activations_per_user 5 -> 100,000 for every bench tenant",
    "Tenant.min_user_success_rate_percent 20 -> 0 (order+cancel never receives an SMS)",
    "Tenant.success_guard_percent 12 -> 0 (the storefront's success guard: most bench orders never get an SMS)",
    "emulator rate_limits off (the upstream's own 429s per key and method)",
    "emulator max_active 20 -> 100,000 (the upstream's active-activations cap)",
    "emulator success_rate_block off (the upstream's 24 h block below 7 % success)",
    "POST activations + cancel rotates over --order-shards tenants, each its own upstream account: our client's "
    "budget (cancel 45/min, create and GET activation 270/min per account) is kept, but shared by fewer requests",
    "CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK=1: the customers' webhook endpoints are a receiver in the harness on "
    "127.0.0.1, over plain http (production reaches public https addresses only; the SSRF checks still run)",
]

children: list[tuple[str, subprocess.Popen]] = []
STOPPING = threading.Event()  # set by SIGINT/SIGTERM/SIGHUP: helper threads give up at once
started: dict[int, str] = {}  # every child ever started (the leader of its own process group) -> its name


# --- configuration -----------------------------------------------------------------------------------------


def env_default(name: str, default: Any) -> Any:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(value) if default is not None else value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    quick = env_default("BENCH_QUICK", False)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--quick", action="store_true", default=quick)
    quick = pre.parse_known_args(argv)[0].quick

    def d(full: Any, fast: Any) -> Any:
        return fast if quick else full

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", default=quick, help="smoke run of a few minutes (BENCH_QUICK=1)")
    p.add_argument("--name", default=env_default("BENCH_NAME", d("full", "quick")), help="results file suffix")
    p.add_argument(
        "--duration",
        type=int,
        default=env_default("BENCH_DURATION", d(40, 8)),
        help="seconds per endpoint in phase 1 (BENCH_DURATION)",
    )
    p.add_argument("--clients", type=int, default=env_default("BENCH_CLIENTS", 50), help="phase 1 concurrency")
    p.add_argument(
        "--latency-ms",
        type=int,
        default=env_default("BENCH_LATENCY_MS", 150),
        help="emulator latency per upstream call",
    )
    p.add_argument("--amp-activations", type=int, default=env_default("BENCH_AMP_ACTIVATIONS", d(200, 40)))
    p.add_argument("--amp-seconds", type=int, default=env_default("BENCH_AMP_SECONDS", d(60, 15)))
    p.add_argument(
        "--burst",
        type=int,
        default=env_default("BENCH_BURST", d(1000, 200)),
        help="identical concurrent price requests on a cold cache",
    )
    p.add_argument(
        "--sms-activations",
        type=int,
        default=env_default("BENCH_SMS_ACTIVATIONS", d(80, 20)),
        help="SMS visibility samples per mode",
    )
    p.add_argument(
        "--sms-poll-interval",
        type=float,
        default=env_default("BENCH_SMS_POLL_INTERVAL", 0.25),
        help="how often the SMS-visibility client polls (s)",
    )
    p.add_argument(
        "--sms-spread",
        type=int,
        default=env_default("BENCH_SMS_SPREAD", d(80, 10)),
        help="seconds over which the SMS-visibility clients start",
    )
    p.add_argument(
        "--sms-give-up",
        type=int,
        default=env_default("BENCH_SMS_GIVE_UP", d(60, 30)),
        help="seconds a client polls for its code before counting it unseen",
    )
    p.add_argument(
        "--order-shards",
        type=int,
        default=env_default("BENCH_ORDER_SHARDS", d(100, 30)),
        help="tenants (upstream accounts) the order+cancel clients rotate over",
    )
    p.add_argument("--workers", type=int, default=env_default("BENCH_WORKERS", 4), help="gunicorn workers")
    p.add_argument("--threads", type=int, default=env_default("BENCH_THREADS", 4), help="gunicorn threads/worker")
    p.add_argument(
        "--webhook-workers", type=int, default=env_default("BENCH_WEBHOOK_WORKERS", 1), help="webhook pool workers"
    )
    p.add_argument(
        "--webhook-threads", type=int, default=env_default("BENCH_WEBHOOK_THREADS", 4), help="webhook pool threads"
    )
    p.add_argument(
        "--open-loop-fraction",
        type=float,
        default=env_default("BENCH_OPEN_LOOP_FRACTION", 0.5),
        help="open-loop poll phase: arrival rate as a fraction of the measured closed-loop poll capacity",
    )
    p.add_argument("--celery-concurrency", type=int, default=env_default("BENCH_CELERY_CONCURRENCY", 2))
    p.add_argument(
        "--notify-concurrency", type=int, default=env_default("BENCH_NOTIFY_CONCURRENCY", 2), help="notify worker"
    )
    p.add_argument(
        "--pg",
        default=env_default("BENCH_PG", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL (no database)",
    )
    p.add_argument("--database", default=env_default("BENCH_DATABASE", "reseller_bench"), help="dropped and recreated")
    p.add_argument(
        "--redis",
        default=env_default("BENCH_REDIS", "redis://127.0.0.1:6379/12"),
        help="a Redis DB of its own: flushed",
    )
    p.add_argument(
        "--quiet-wait",
        type=int,
        default=env_default("BENCH_QUIET_WAIT", d(20, 0)),
        help="before each phase-1 measurement, wait up to this many seconds for other processes on the "
        "machine to use less than --quiet-cores (0: do not wait)",
    )
    p.add_argument("--quiet-cores", type=float, default=env_default("BENCH_QUIET_CORES", 0.3))
    p.add_argument("--log-level", default=env_default("BENCH_LOG_LEVEL", "INFO"), help="LOG_LEVEL of the stack")
    p.add_argument(
        "--write-doc",
        dest="write_doc",
        action="store_true",
        default=None,
        help="write docs/performance.md (default: on for full runs, off for --quick)",
    )
    p.add_argument("--no-write-doc", dest="write_doc", action="store_false")
    args = p.parse_args(argv)
    if args.write_doc is None:
        args.write_doc = not args.quick
    for name in ("pg", "redis"):
        host = re.sub(r"^\w+://([^@/]*@)?", "", getattr(args, name)).split("/")[0].split(":")[0]
        if host not in ("127.0.0.1", "localhost"):
            p.error(f"--{name} must point at 127.0.0.1: the benchmark talks to this machine only")
    return args


# --- processes ---------------------------------------------------------------------------------------------


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    children.append((name, process))
    started[process.pid] = "locust" if name.startswith("locust-") else name
    return process


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the child's process group (the child and its own children: gunicorn and Celery workers)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Stragglers of the group (e.g. a worker that outlived its master) go too, by the same group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def stop_all() -> None:
    while children:
        name, process = children.pop()
        try:
            stop(process)
        except Exception as exc:  # keep stopping the others
            print(f"  could not stop {name} (pid {process.pid}): {exc!r}", flush=True)


def _on_signal(signum, _frame):
    STOPPING.set()
    raise SystemExit(128 + signum)


_TAKEN_PORTS: set[int] = set()


def free_port() -> int:
    """A free port on HOST: any, or one of BENCH_PORT_RANGE (``8700-8799``) on a machine whose users share ports."""
    span = os.environ.get("BENCH_PORT_RANGE", "")
    if span:
        low, _, high = span.partition("-")
        for port in range(int(low), int(high) + 1):
            if port in _TAKEN_PORTS:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind((HOST, port))
                except OSError:
                    continue
            _TAKEN_PORTS.add(port)
            return port
        raise RuntimeError(f"no free port in BENCH_PORT_RANGE={span}")
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class CpuMonitor(threading.Thread):
    """Samples every process's CPU time once a second and splits it into the benchmark's own (this process, the
    helpers it runs, every child's process group and the PostgreSQL backends of the bench database), shared
    services (Redis, PostgreSQL's own background processes, kernel threads) and everything else on the machine
    (other users' tests, for instance). The benchmark shares the machine: "other" says how much it lost."""

    def __init__(self, database: str) -> None:
        super().__init__(name="cpu-monitor", daemon=True)
        self.database = database
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.totals: dict[str, float] = {"shared": 0.0, "other": 0.0}
        self.last: dict[tuple[int, float], float] = {}
        self.primed = False

    def kind(self, pid: int, cmdline: list[str]) -> str:
        """``bench:<child>`` / ``bench:harness`` / ``bench:postgres``, ``shared`` or ``other``."""
        with contextlib.suppress(OSError):
            group = os.getpgid(pid)
            if group in started:
                return f"bench:{started[group]}"
            if pid == os.getpid() or group == os.getpgrp():
                return "bench:harness"
        command = " ".join(cmdline or [])
        if not command or "redis-server" in command:
            return "shared"
        if command.startswith("postgres"):
            words = command.split()
            if self.database in words:
                return "bench:postgres"
            return "other" if len(words) > 4 and "127.0.0.1" in command else "shared"
        return "other"

    def sample(self) -> None:
        import psutil

        seen = {}
        for process in psutil.process_iter(["pid", "cmdline", "cpu_times", "create_time"]):
            info = process.info
            times = info.get("cpu_times")
            if times is None:
                continue
            key = (info["pid"], info.get("create_time") or 0.0)
            used = times.user + times.system
            seen[key] = used
            previous = self.last.get(key)
            # A process first seen after the first sample started since the last one: all its CPU is new.
            delta = used - previous if previous is not None else (used if self.primed else 0.0)
            if delta > 0:
                kind = self.kind(info["pid"], info.get("cmdline"))
                with self.lock:
                    self.totals[kind] = self.totals.get(kind, 0.0) + delta
        self.last = seen
        self.primed = True

    def run(self) -> None:
        while not self.halt.wait(1.0):
            with contextlib.suppress(Exception):
                self.sample()

    def snapshot(self) -> tuple[float, dict[str, float]]:
        with self.lock:
            return time.monotonic(), dict(self.totals)

    @staticmethod
    def cores(before: tuple[float, dict], after: tuple[float, dict]) -> dict[str, Any]:
        """Average cores used between two snapshots: ``bench_cores`` (with ``by_process``), ``shared_cores``,
        ``other_cores``."""
        wall = max(after[0] - before[0], 1e-6)
        used = {k: (v - before[1].get(k, 0.0)) / wall for k, v in after[1].items()}
        mine = {
            k.split(":", 1)[1]: round(v, 2) for k, v in sorted(used.items()) if k.startswith("bench:") and v > 0.005
        }
        return {
            "bench_cores": round(sum(v for k, v in used.items() if k.startswith("bench:")), 2),
            "shared_cores": round(used.get("shared", 0.0), 2),
            "other_cores": round(used.get("other", 0.0), 2),
            "by_process": mine,
        }


# --- HTTP (setup and control only; the measurements use locust) ---------------------------------------------


def http(method: str, url: str, body: Any = None, headers: dict | None = None, timeout: float = 30):
    """(status, parsed JSON or None, headers). Only ever called with 127.0.0.1 URLs."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw, status, hdrs = answer.read(), answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        raw, status, hdrs = error.read(), error.code, dict(error.headers)
    try:
        return status, json.loads(raw or b"null"), hdrs
    except ValueError:
        return status, None, hdrs


def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            status, _, _ = http("GET", url, timeout=2)
            if status < 500:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up within {seconds:.0f} s (see the logs in the run directory)")


class Emulator:
    def __init__(self, name: str, port: int, webhook_slug: str | None) -> None:
        self.name, self.port, self.webhook_slug = name, port, webhook_slug
        self.url = f"http://{HOST}:{port}"
        self.keys: dict[str, str] = {}  # upstream API key -> tenant slug

    def control(self, method: str, path: str, body: Any = None) -> Any:
        status, data, _ = http(method, f"{self.url}/_emulator/{path}", body)
        if status != 200:
            raise RuntimeError(f"emulator {self.name}: {method} {path} -> {status} {data}")
        return data

    def counters(self) -> dict:
        return self.control("GET", "counters")

    def reset_counters(self) -> None:
        self.control("POST", "counters/reset", {})


class CustomerReceiver:
    """The customers' side of our webhooks: one HTTP server in this process that every bench customer's endpoint
    points at (``/customer/<slug>/<n>``). It answers 200 at once and records when each event arrived and whether
    its signature verifies with that endpoint's secret, using the verification snippet the README documents."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.secrets: dict[str, str] = {}  # path -> the endpoint's signing secret
        self.verify = _documented_verifier()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')
                receiver.record(self.path, dict(self.headers.items()), body, arrived)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="customer-receiver", daemon=True)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() waits for serve_forever, forever if it never started
            self.server.shutdown()
        self.server.server_close()

    def record(self, path: str, headers: dict[str, str], body: bytes, arrived: float) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        data = event.get("data") if isinstance(event, dict) else None
        activation = data.get("activation") if isinstance(data, dict) else None
        secret = self.secrets.get(path)
        with self.lock:
            self.records.append(
                {
                    "at": arrived,
                    "path": path,
                    "type": event.get("type") if isinstance(event, dict) else None,
                    "event_id": headers.get("X-Event-Id"),
                    "activation": activation.get("id") if isinstance(activation, dict) else None,
                    "verified": bool(secret) and self.verify(secret, headers.get("X-Signature", ""), body),
                }
            )

    def arrivals(self, event_type: str) -> dict[int, list[float]]:
        """Activation id -> arrival times of its events of ``event_type``."""
        found: dict[int, list[float]] = {}
        with self.lock:
            for item in self.records:
                if item["type"] == event_type and item["activation"] is not None:
                    found.setdefault(item["activation"], []).append(item["at"])
        return found

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": len(self.records),
                "by_type": dict(Counter(item["type"] for item in self.records)),
                "bad_signatures": sum(1 for item in self.records if not item["verified"]),
            }


def _documented_verifier():
    """``verify_webhook`` of docs/webhooks/verify_signature.py: the code a customer copies from the README."""
    import importlib.util

    path = ROOT / "docs" / "webhooks" / "verify_signature.py"
    spec = importlib.util.spec_from_file_location("verify_signature", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.verify_webhook


# --- the run ------------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = time.time()
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.run_dir = RESULTS / "tmp" / f"{stamp}-{args.name}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "gc").mkdir()
        self.web_port = free_port()
        self.base = f"http://{HOST}:{self.web_port}"
        # /webhooks/ has its own small gunicorn pool, as in production (docs/deployment: the proxy routes it there),
        # so supplier webhooks never wait behind API requests.
        self.webhook_port = free_port()
        self.webhook_base = f"http://{HOST}:{self.webhook_port}"
        self.secret = secrets.token_hex(16)
        db_url = f"{args.pg.rstrip('/')}/{args.database}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BENCH_")},
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": db_url,
            "REDIS_URL": args.redis,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            # production settings refuse to start without a key for the encrypted supplier credentials
            "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": args.log_level,
            "PYTHONUNBUFFERED": "1",
            # The customers' webhook endpoints are this harness's receiver on 127.0.0.1 (see LIFTED).
            "CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK": "1",
            # every process of the stack logs its garbage-collection pauses there (bench/settings.py)
            "BENCH_GC_LOG_DIR": str(self.run_dir / "gc"),
        }
        self.receiver = CustomerReceiver()
        self.emulators = {
            "EA": Emulator("EA", free_port(), None),
            "EB": Emulator("EB", free_port(), "bench-wh"),
            "EC": Emulator("EC", free_port(), "bench-amp-wh"),
            "ED": Emulator("ED", free_port(), None),
        }
        self.seed: dict = {}
        self.results: dict[str, Any] = {
            "name": args.name,
            "quick": args.quick,
            "date": dt.date.today().isoformat(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "config": {k: v for k, v in vars(args).items() if k not in ("write_doc",)},
            "lifted_limits": LIFTED,
            "phase_seconds": {},
            "throughput": {},
            "amplification": {},
            "sms_visibility": {},
            "money": {},
            "notes": [],
        }
        self.sms_activations: dict[tuple[str, str], dict] = {}  # (slug, upstream id) -> activation
        self.results["cpu_by_phase"] = {}
        self.cpu = CpuMonitor(args.database)

    # --- helpers ---

    def log(self, message: str) -> None:
        print(f"[{time.time() - self.started:7.1f}s] {message}", flush=True)

    def manage(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
        return done

    def helper(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [PY, str(BENCH / "djhelper.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"djhelper {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def keys(self, slug: str) -> list[str]:
        return [user["key"] for user in self.seed["tenants"][slug]["users"]]

    @contextlib.contextmanager
    def phase(self, name: str):
        self.log(f"{name} ...")
        began, cpu = time.monotonic(), self.cpu.snapshot()
        try:
            yield
        finally:
            self.results["phase_seconds"][name] = round(time.monotonic() - began, 1)
            self.results["cpu_by_phase"][name] = CpuMonitor.cores(cpu, self.cpu.snapshot())

    # --- setup ---

    def setup(self) -> None:
        import psycopg
        import redis

        with self.phase("setup: database, redis, migrate"):
            with psycopg.connect(f"{self.args.pg.rstrip('/')}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.args.database}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.args.database}"')
            redis.Redis.from_url(self.args.redis).flushdb()
            self.manage("migrate", "--noinput", "-v", "0")

        with self.phase("setup: emulators and seed"):
            for seed, emulator in enumerate(self.emulators.values(), start=1):
                argv = [
                    PY,
                    "manage.py",
                    "platfone_emulator",
                    "--host",
                    HOST,
                    "--port",
                    str(emulator.port),
                    "--api-key",
                    f"bootstrap-{emulator.name}",
                    "--balance",
                    "1000000000",
                    "--latency-ms",
                    "0",
                    "--seed",
                    str(seed),
                ]
                if emulator.webhook_slug:
                    argv += [
                        "--webhook-url",
                        f"{self.webhook_base}/webhooks/platfone/{emulator.webhook_slug}/",
                        "--webhook-secret",
                        self.secret,
                    ]
                start(f"emulator-{emulator.name}", argv, self.env, self.run_dir)
            for emulator in self.emulators.values():
                wait_http(f"{emulator.url}/_emulator/health")
                emulator.control("POST", "settings", {**EMULATOR_SETTINGS, "latency_ms": 0})
            plan = self.plan()
            for spec in plan["tenants"]:
                emulator = self.emulators[spec.pop("emulator")]
                emulator.keys[spec["platfone_key"]] = spec["slug"]
                emulator.control("POST", "balance", {"api_key": spec["platfone_key"], "total": 1_000_000_000})
            (self.run_dir / "plan.json").write_text(json.dumps(plan, indent=1))
            self.log(self.helper("seed", str(self.run_dir / "plan.json"), str(self.run_dir / "seed.json")).strip())
            self.seed = json.loads((self.run_dir / "seed.json").read_text())
            for emulator in self.emulators.values():
                emulator.control("POST", "settings", {"latency_ms": self.args.latency_ms})

        with self.phase("setup: start gunicorn, celery worker and beat"):
            a = self.args
            # status, method, path, ms (the 5xx check and the webhook figure read these), then µs, worker pid and the
            # open-loop driver's sequence number (its tail analysis joins on it)
            access = "%(s)s %(m)s %(U)s %(M)s %(D)s %(p)s %({x-bench-seq}i)s"
            start(
                "gunicorn",
                [
                    PY,
                    "-m",
                    "gunicorn",
                    "reseller.wsgi:application",
                    "-b",
                    f"{HOST}:{self.web_port}",
                    "-w",
                    str(a.workers),
                    "-k",
                    "gthread",
                    "--threads",
                    str(a.threads),
                    "--timeout",
                    "60",
                    "--keep-alive",
                    "5",
                    "--backlog",
                    "2048",
                    "--access-logfile",
                    str(self.run_dir / "access.log"),
                    "--access-logformat",
                    access,
                ],
                self.env,
                self.run_dir,
            )
            start(
                "gunicorn-webhooks",
                [
                    PY,
                    "-m",
                    "gunicorn",
                    "reseller.wsgi:application",
                    "-b",
                    f"{HOST}:{self.webhook_port}",
                    "-w",
                    str(a.webhook_workers),
                    "-k",
                    "gthread",
                    "--threads",
                    str(a.webhook_threads),
                    "--timeout",
                    "30",
                    "--access-logfile",
                    str(self.run_dir / "access-webhooks.log"),
                    "--access-logformat",
                    access,
                ],
                self.env,
                self.run_dir,
            )
            start(
                "celery-worker",
                [
                    PY,
                    "-m",
                    "celery",
                    "-A",
                    "reseller",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    str(a.celery_concurrency),
                    "-n",
                    f"bench-{self.web_port}@%h",
                ],
                self.env,
                self.run_dir,
            )
            # the Procfile's notify worker: customer webhooks never wait behind the beat's syncs
            start(
                "celery-notify",
                [
                    *(PY, "-m", "celery", "-A", "reseller", "worker", "-Q", "notify", "--loglevel", "INFO"),
                    *("--concurrency", str(a.notify_concurrency), "-n", f"bench-notify-{self.web_port}@%h"),
                ],
                self.env,
                self.run_dir,
            )
            start(
                "celery-beat",
                [
                    PY,
                    "-m",
                    "celery",
                    "-A",
                    "reseller",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--pidfile",
                    str(self.run_dir / "beat.pid"),
                    "--schedule",
                    str(self.run_dir / "celerybeat-schedule"),
                ],
                self.env,
                self.run_dir,
            )
            wait_http(f"{self.base}/healthz")
            wait_http(f"{self.base}/bench/ceiling")
            wait_http(f"{self.webhook_base}/healthz")
            self.check_alive()

        with self.phase("setup: customer webhook endpoints"):
            self.receiver.start()
            self.register_customer_endpoints("bench-wh")

    def register_customer_endpoints(self, slug: str) -> None:
        """Every user of ``slug`` registers a webhook endpoint for its codes, through the API, at the receiver."""
        for index, key in enumerate(self.keys(slug)):
            path = f"/customer/{slug}/{index}"
            status, body, _ = http(
                "POST",
                f"{self.base}/api/v1/webhooks",
                {"url": self.receiver.url(path), "events": ["activation.sms_received"]},
                {"X-Api-Key": key},
            )
            if status != 200:
                raise RuntimeError(f"registering a webhook endpoint for {slug}: HTTP {status} {body}")
            self.receiver.secrets[path] = body["data"]["secret"]

    def plan(self) -> dict:
        a = self.args
        tenants = []

        def tenant(slug: str, emulator: str, users: int, webhooks: bool = False, credit: int = 10_000_000) -> None:
            tenants.append(
                {
                    "slug": slug,
                    "name": f"Bench {slug}",
                    "emulator": emulator,
                    "platfone_url": f"{self.emulators[emulator].url}/api/v1",
                    "platfone_key": f"key-{slug}",
                    "webhook_secret": self.secret if webhooks else "",
                    "users": users,
                    "credit_cents": credit,
                }
            )

        tenant("bench-load", "EA", a.clients)
        tenant("bench-burst", "EA", 10)
        tenant("bench-wh", "EB", a.clients, webhooks=True)
        tenant("bench-amp-wh", "EC", 50, webhooks=True)
        tenant("bench-amp", "ED", 50)
        tenant("bench-sms", "ED", 50)
        for i in range(a.order_shards):
            tenant(f"bench-ord-{i:03d}", "EA", 1)
        return {"tenants": tenants, "limits": TENANT_LIMITS}

    def check_alive(self) -> None:
        for name, process in children:
            if process.poll() is not None and not name.startswith("locust"):
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.run_dir}/{name}.log")

    def order(self, slug: str, count: int, pair: tuple[str, str], seconds: float = 240) -> list[dict]:
        """``count`` activations through the API (setup, not measured); waits out 429/503 (Retry-After)."""
        keys = self.keys(slug)
        deadline = time.monotonic() + seconds

        def one(i: int) -> dict:
            key = keys[i % len(keys)]
            while time.monotonic() < deadline and not STOPPING.is_set():
                status, body, headers = http(
                    "POST",
                    f"{self.base}/api/v1/activations",
                    {"service_id": pair[0], "country_id": pair[1]},
                    {"X-Api-Key": key},
                )
                if status == 200:
                    data = body["data"]
                    return {"id": data["id"], "upstream_id": data["activation_id"], "key": key}
                if status in (429, 503):
                    time.sleep(min(float(headers.get("Retry-After") or 2), 10))
                    continue
                raise RuntimeError(f"ordering for {slug}: HTTP {status} {body}")
            raise RuntimeError(f"ordering for {slug}: not done within {seconds:.0f} s")

        pool = ThreadPoolExecutor(max_workers=8)
        try:
            return list(pool.map(one, range(count)))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def ensure_webhooks_healthy(self, slug: str, emulator: Emulator) -> None:
        """The tenant counts as healthy once a webhook arrived: order one number, have the emulator deliver its
        SMS (signed webhook to our endpoint), wait until the app says healthy, then finalize that activation so
        it leaves the background sync."""
        if json.loads(self.helper("webhooks-healthy", slug))["healthy"]:
            return
        activation = self.order(slug, 1, POLL_PAIR)[0]
        emulator.control("POST", f"activations/{activation['upstream_id']}/sms", {"code": "000000"})
        self.sms_activations[(slug, activation["upstream_id"])] = activation
        deadline = time.monotonic() + 60
        while not json.loads(self.helper("webhooks-healthy", slug))["healthy"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{slug}: no webhook arrived within 60 s (see emulator-{emulator.name}.log)")
            time.sleep(1)
        status, body, _ = http(
            "POST", f"{self.base}/api/v1/activations/{activation['id']}/finalize", {}, {"X-Api-Key": activation["key"]}
        )
        if status != 200:
            self.results["notes"].append(f"{slug}: finalizing the warm-up activation answered {status} {body}")
        time.sleep(6)  # the app caches "healthy" for 5 s; let a cached "unhealthy" run out

    def wait_for_quiet(self) -> float:
        """Up to --quiet-wait seconds until other processes use less than --quiet-cores (3 s samples)."""
        began = time.monotonic()
        while time.monotonic() - began < self.args.quiet_wait:
            before = self.cpu.snapshot()
            time.sleep(3)
            if CpuMonitor.cores(before, self.cpu.snapshot())["other_cores"] < self.args.quiet_cores:
                break
        return round(time.monotonic() - began, 1)

    # --- locust ---

    def locust(
        self,
        tag: str,
        user_class: str,
        users: int,
        spawn_rate: float,
        seconds: float,
        data: dict,
        reset_stats: bool = False,
    ) -> dict:
        data_file, out_file = self.run_dir / f"{tag}.data.json", self.run_dir / f"{tag}.out.json"
        data_file.write_text(json.dumps(data))
        out_file.unlink(missing_ok=True)
        argv = [
            PY,
            "-m",
            "locust",
            "-f",
            str(BENCH / "locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(spawn_rate),
            "-t",
            f"{math.ceil(seconds)}s",
            "-H",
            self.base,
            "--csv",
            str(self.run_dir / tag),
            "--only-summary",
            "--stop-timeout",
            "10",
            "--exit-code-on-error",
            "0",
            "--loglevel",
            "WARNING",
            user_class,
        ]
        if reset_stats:
            argv.insert(-1, "--reset-stats")
        env = {**self.env, "BENCH_DATA": str(data_file), "BENCH_OUT": str(out_file)}
        cpu_before, monitor_before = cpu_sample(), self.cpu.snapshot()
        process = start(f"locust-{tag}", argv, env, self.run_dir)
        try:
            process.wait(timeout=seconds + 120)
        finally:
            stop(process)
            children[:] = [(n, p) for n, p in children if p is not process]
        if process.returncode not in (0, -signal.SIGTERM):
            raise RuntimeError(f"locust {tag} exited with {process.returncode}; see {self.run_dir}/locust-{tag}.log")
        stats = read_locust_csv(self.run_dir / f"{tag}_stats.csv")
        stats["_cpu_busy_pct"] = cpu_busy(cpu_before, cpu_sample())
        stats["_cpu_cores"] = CpuMonitor.cores(monitor_before, self.cpu.snapshot())
        log_text = (self.run_dir / f"locust-{tag}.log").read_text(errors="replace")
        stats["_locust_cpu_warning"] = "CPU usage" in log_text
        stats["_failures"] = read_failures(self.run_dir / f"{tag}_failures.csv")
        if out_file.exists():
            stats["_out"] = json.loads(out_file.read_text())
        self.check_alive()
        return stats

    # --- phase 1 ---

    def throughput(self) -> None:
        a = self.args
        n, seconds, rate = a.clients, a.duration, max(a.clients, 1)
        out = self.results["throughput"]

        def closed_loop(tag: str, cls: str, data: dict, names: list[str]) -> dict:
            waited = self.wait_for_quiet()
            stats = self.locust(tag, cls, n, rate, seconds, data, reset_stats=True)
            row = {name: summarize(stats.get(name)) for name in names}
            figure = row[names[0]]
            figure.update(
                cpu_busy_pct=stats["_cpu_busy_pct"],
                cpu_cores=stats["_cpu_cores"],
                waited_for_quiet_s=waited,
                locust_cpu_warning=stats["_locust_cpu_warning"],
                failures_detail=stats["_failures"],
            )
            if len(names) > 1:
                figure["then"] = {name: row[name] for name in names[1:]}
            return figure

        ceiling_data = {"ceiling_id": self.seed["tenants"]["bench-load"]["pk"]}
        with self.phase("1. ceiling (first)"):
            first = closed_loop("ceiling1", "CeilingUser", ceiling_data, ["GET ceiling"])

        with self.phase("1. GET wallet"):
            out["wallet"] = closed_loop("wallet", "WalletUser", {"keys": self.keys("bench-load")}, ["GET wallet"])

        with self.phase("1. GET price (warm cache)"):
            ea = self.emulators["EA"]
            price = {"keys": self.keys("bench-load"), "service_id": PRICE_PAIR[0], "country_id": PRICE_PAIR[1]}
            status, body, _ = http(
                "GET",
                f"{self.base}/api/v1/price?service_id={PRICE_PAIR[0]}&country_id={PRICE_PAIR[1]}",
                headers={"X-Api-Key": price["keys"][0]},
            )
            if status != 200:
                raise RuntimeError(f"warming the price cache: HTTP {status} {body}")
            ea.reset_counters()
            out["price"] = closed_loop("price", "PriceUser", price, ["GET price"])
            out["price"]["upstream_get_price_calls"] = ea.counters()["by_endpoint"].get("get_price", 0)

        with self.phase("1. GET poll (webhooks on)"):
            self.ensure_webhooks_healthy("bench-wh", self.emulators["EB"])
            activations = poll_on = self.order("bench-wh", n, POLL_PAIR)
            eb = self.emulators["EB"]
            eb.reset_counters()
            out["poll_webhooks_on"] = closed_loop("poll-on", "PollUser", {"activations": activations}, ["GET poll"])
            out["poll_webhooks_on"]["upstream_calls"] = eb.counters()["by_endpoint"]

        with self.phase("1. GET poll (webhooks off)"):
            activations = poll_off = self.order("bench-load", n, POLL_PAIR)
            ea.reset_counters()
            out["poll_webhooks_off"] = closed_loop("poll-off", "PollUser", {"activations": activations}, ["GET poll"])
            out["poll_webhooks_off"]["upstream_calls"] = ea.counters()["by_endpoint"]

        with self.phase("1. POST activations + cancel"):
            shards = [self.keys(f"bench-ord-{i:03d}")[0] for i in range(a.order_shards)]
            ea.reset_counters()
            data = {"keys": shards, "service_id": ORDER_PAIR[0], "country_id": ORDER_PAIR[1]}
            out["order"] = closed_loop("order", "OrderCancelUser", data, ["POST activations", "POST cancel"])
            out["order"]["upstream_calls"] = ea.counters()["by_endpoint"]
            out["order"]["shards"] = a.order_shards

        with self.phase("1. GET poll, open loop"):
            rate = max(1.0, out["poll_webhooks_on"]["rps"] * a.open_loop_fraction)
            self.wait_for_quiet()
            targets_ = [(f"/api/v1/activations/{x['id']}/poll", x["key"]) for x in poll_on]
            eb.reset_counters()
            out["poll_open_loop"] = self.open_loop(targets_, rate=rate, seconds=seconds)
            out["poll_open_loop"]["fraction_of_capacity"] = a.open_loop_fraction
            # a poll that finds its activation's safety window passed syncs it in the request (upstream latency)
            out["poll_open_loop"]["upstream_calls"] = eb.counters()["by_endpoint"]

        with self.phase("1. ceiling (second)"):
            second = closed_loop("ceiling2", "CeilingUser", ceiling_data, ["GET ceiling"])

        with self.phase("1. per-request cost (in-process profile)"):
            load_key = self.keys("bench-load")[0]
            price_path = f"/api/v1/price?service_id={PRICE_PAIR[0]}&country_id={PRICE_PAIR[1]}"
            spec = {
                "n": 200,
                "requests": [
                    {"name": "ceiling", "method": "GET", "path": f"/bench/ceiling?id={ceiling_data['ceiling_id']}"},
                    {"name": "wallet", "method": "GET", "path": "/api/v1/wallet", "key": load_key},
                    {"name": "price", "method": "GET", "path": price_path, "key": load_key},
                    {
                        "name": "poll_webhooks_on",
                        "method": "GET",
                        "key": poll_on[0]["key"],
                        "path": f"/api/v1/activations/{poll_on[0]['id']}/poll",
                    },
                    {
                        "name": "get_webhooks_on",
                        "method": "GET",
                        "key": poll_on[0]["key"],
                        "path": f"/api/v1/activations/{poll_on[0]['id']}",
                    },
                    {
                        "name": "poll_webhooks_off",
                        "method": "GET",
                        "key": poll_off[0]["key"],
                        "path": f"/api/v1/activations/{poll_off[0]['id']}/poll",
                    },
                    {
                        "name": "order_then_cancel",
                        "method": "POST",
                        "path": "/api/v1/activations",
                        "n": 10,
                        "key": shards[0],
                        "body": {"service_id": ORDER_PAIR[0], "country_id": ORDER_PAIR[1]},
                        "then": {"method": "POST", "path": "/api/v1/activations/{id}/cancel"},
                    },
                ],
            }
            (self.run_dir / "profile.json").write_text(json.dumps(spec))
            self.results["profile"] = json.loads(self.helper("profile", str(self.run_dir / "profile.json")))

        ceiling_rps = (first["rps"] + second["rps"]) / 2
        out["ceiling"] = {**first, "rps": round(ceiling_rps, 1), "runs": [first, second]}
        for key in ("wallet", "price", "poll_webhooks_on", "poll_webhooks_off", "order"):
            out[key]["ratio_to_ceiling"] = round(out[key]["rps"] / ceiling_rps, 3) if ceiling_rps else None

    def open_loop(
        self, targets_: list[tuple[str, str]], *, rate: float, seconds: float, warmup: float = 5.0, workers: int = 64
    ) -> dict:
        """Requests sent at a fixed arrival rate whatever the answers (open loop): ``rate`` a second for ``seconds``,
        round-robin over ``targets_`` (path, key), from a pool of keep-alive connections. A latency is measured
        from the request's *scheduled* time, so a slow answer that delays later sends counts against them too
        (no coordinated omission). The first ``warmup`` seconds are sent at the same rate but measured apart (as
        wrk2's calibration period): the driver opens its connections then, and each activation gets its first
        poll (which writes its poll mark)."""
        import gc
        import http.client
        import queue

        jobs: queue.Queue = queue.Queue()
        # sequence number, scheduled, sent by a driver thread, answered (monotonic), status
        requests: list[tuple[int, float, float, float, str]] = []
        lock = threading.Lock()

        def worker() -> None:
            conn: http.client.HTTPConnection | None = None
            while (job := jobs.get()) is not None:
                seq, scheduled, path, key = job
                sent_at = time.monotonic()
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(HOST, self.web_port, timeout=30)
                    conn.request("GET", path, headers={"X-Api-Key": key, "X-Bench-Seq": str(seq)})
                    response = conn.getresponse()
                    response.read()
                    status = str(response.status)
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    if conn is not None:
                        conn.close()
                    conn = None
                done = time.monotonic()
                with lock:
                    requests.append((seq, scheduled, sent_at, done, status))

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        # The driver must not stall its own threads: this harness holds every earlier phase's results, and a full
        # collection of it would delay the recording of answers (counted as their latency). No collection during
        # the phase; what it allocates is collected after.
        gc.collect()
        gc.disable()
        began, sent = time.monotonic(), 0
        measuring = began + warmup
        cpu_before: tuple[int, int] | None = None
        while not STOPPING.is_set():
            due = began + sent / rate
            if due >= measuring and cpu_before is None:
                cpu_before, monitor_before = cpu_sample(), self.cpu.snapshot()
            if due - measuring >= seconds:
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            path, key = targets_[sent % len(targets_)]
            jobs.put((sent, due, path, key))
            sent += 1
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(timeout=60)
        gc.enable()
        elapsed = time.monotonic() - measuring
        measured = [r for r in requests if r[1] >= measuring]
        warm = [(done - scheduled) * 1000 for _, scheduled, _, done, _ in requests if scheduled < measuring]
        latencies = [(done - scheduled) * 1000 for _, scheduled, _, done, _ in measured]
        statuses = Counter(status for *_, status in measured)
        return {
            "rate_per_s": round(rate, 1),
            "seconds": round(elapsed, 1),
            "sent": len(measured),
            "answered_rps": round(len(latencies) / elapsed, 1) if elapsed else None,
            "statuses": dict(statuses),
            "failures": len(latencies) - statuses.get("200", 0),
            "p50_ms": percentile(latencies, 50),
            "p90_ms": percentile(latencies, 90),
            "p99_ms": percentile(latencies, 99),
            "max_ms": percentile(latencies, 100),
            "warmup": {
                "seconds": warmup,
                "sent": len(warm),
                "p99_ms": percentile(warm, 99),
                "max_ms": percentile(warm, 100),
            },
            # how late the driver sent them (all 64 threads busy, or the driver starved of CPU)
            "send_lag_p99_ms": percentile([(sent - scheduled) * 1000 for _, scheduled, sent, _, _ in measured], 99),
            "cpu_busy_pct": cpu_busy(cpu_before, cpu_sample()) if cpu_before else None,
            "cpu_cores": CpuMonitor.cores(monitor_before, self.cpu.snapshot()) if cpu_before else None,
            "tail": self.open_loop_tail([(seq, scheduled, done) for seq, scheduled, _, done, _ in measured]),
        }

    def open_loop_tail(self, requests: list[tuple[int, float, float]]) -> dict:
        """Where the open loop's slowest 1 % of requests spent their time: gunicorn's own time for each (its access
        log, joined on the ``X-Bench-Seq`` header), and the garbage-collection pauses of the worker that served it
        (``bench/settings.py`` logs every pause of 5 ms or more, per process)."""
        served: dict[int, tuple[float, str]] = {}  # seq -> (server ms, worker pid)
        access = self.run_dir / "access.log"
        for line in access.read_text(errors="replace").splitlines() if access.exists() else []:
            fields = line.split()
            if len(fields) == 7 and fields[6].isdigit():
                served[int(fields[6])] = (int(fields[4]) / 1000, fields[5].strip("<>"))
        if not requests:
            return {}
        began, ended = min(r[1] for r in requests), max(r[2] for r in requests)
        pauses: dict[str, list[tuple[float, float]]] = {}  # pid -> [(start, ms)] during the phase
        for pid in {pid for _, pid in served.values()}:
            path = self.run_dir / "gc" / f"gc-{pid}.txt"
            for line in path.read_text().splitlines() if path.exists() else []:
                start, ms, _ = line.split()
                if began <= float(start) <= ended:
                    pauses.setdefault(pid, []).append((float(start), float(ms)))
        slowest = sorted(requests, key=lambda r: r[2] - r[1], reverse=True)[: max(1, len(requests) // 100)]
        inside = in_gc = 0
        server_ms: list[float] = []
        for seq, scheduled, done in slowest:
            if seq not in served:
                continue
            ms, pid = served[seq]
            server_ms.append(ms)
            inside += ms >= (done - scheduled) * 1000 / 2
            in_gc += any(scheduled <= start <= done and pause >= 20 for start, pause in pauses.get(pid, []))
        all_pauses = [ms for found in pauses.values() for _, ms in found]
        return {
            "what": "the slowest 1 % of the open loop's requests: gunicorn's own time for them (access log), how "
            "many spent at least half their latency inside the request, and how many coincided with a "
            "garbage-collection pause of 20 ms or more in the worker that served them",
            "requests": len(slowest),
            "joined": len(server_ms),
            "latency_median_ms": percentile([(d - s) * 1000 for _, s, d in slowest], 50),
            "server_median_ms": percentile(server_ms, 50),
            "mostly_inside_request": inside,
            "during_worker_gc_pause": in_gc,
            "worker_gc_pauses_over_20ms": sum(ms >= 20 for ms in all_pauses),
            "worker_gc_pause_max_ms": max(all_pauses, default=None),
            # when they were sent (whole seconds into the measured window): a burst says a stall, not a slow path
            "by_second": dict(sorted(Counter(int(s - began) for _, s, _ in slowest).items())),
        }

    # --- phase 2 ---

    def amplification(self) -> None:
        a = self.args
        out = self.results["amplification"]
        for mode, slug, emulator in (
            ("webhooks_off", "bench-amp", self.emulators["ED"]),
            ("webhooks_on", "bench-amp-wh", self.emulators["EC"]),
        ):
            with self.phase(f"2. amplification, {mode.replace('_', ' ')}"):
                if mode == "webhooks_on":
                    self.ensure_webhooks_healthy(slug, emulator)
                activations = self.order(slug, a.amp_activations, POLL_PAIR)
                emulator.reset_counters()
                spawn = max(1.0, a.amp_activations / 4)  # all clients polling within ~4 s
                stats = self.locust(
                    f"amp-{mode}",
                    "PacedPollUser",
                    a.amp_activations,
                    spawn,
                    a.amp_seconds,
                    {"activations": activations, "poll_interval": 1.0},
                )
                counters = emulator.counters()
                polls = summarize(stats.get("GET poll (paced)"))
                upstream = counters["by_endpoint"].get("get_activation", 0)
                out[mode] = {
                    "activations": a.amp_activations,
                    "seconds": a.amp_seconds,
                    "client_polls": polls["requests"],
                    "poll_failures": polls["failures"],
                    "upstream_get_activation": upstream,
                    "upstream_by_endpoint": counters["by_endpoint"],
                    "per_poll": round(upstream / polls["requests"], 4) if polls["requests"] else None,
                    "poll_latency": polls,
                    "cpu_busy_pct": stats["_cpu_busy_pct"],
                    "cpu_cores": stats["_cpu_cores"],
                }

        with self.phase("2. price burst (cold cache)"):
            ea = self.emulators["EA"]
            ea.reset_counters()
            data = {
                "keys": self.keys("bench-burst"),
                "service_id": BURST_PAIR[0],
                "country_id": BURST_PAIR[1],
                "expected_done": a.burst,
            }
            stats = self.locust("burst", "BurstPriceUser", a.burst, a.burst, 120, data)
            samples = stats.get("_out", {}).get("samples", [])
            out["price_burst"] = {
                "requests": a.burst,
                "answered_ok": sum(1 for s in samples if s["ok"]),
                "answered_stale": sum(1 for s in samples if s["stale"]),
                "upstream_get_price": ea.counters()["by_endpoint"].get("get_price", 0),
                "latency": summarize(stats.get("GET price (burst)")),
                "failures_detail": stats["_failures"],
            }

    # --- phase 3 ---

    def visibility(self) -> None:
        a = self.args
        for mode, slug, emulator in (
            ("webhooks_on", "bench-wh", self.emulators["EB"]),
            ("webhooks_off", "bench-sms", self.emulators["ED"]),
        ):
            with self.phase(f"3. SMS visibility, {mode.replace('_', ' ')}"):
                if mode == "webhooks_on":
                    self.ensure_webhooks_healthy(slug, emulator)
                activations = self.order(slug, a.sms_activations, POLL_PAIR)
                emulator.reset_counters()  # and its webhook timings
                for activation in activations:
                    self.sms_activations[(slug, activation["upstream_id"])] = activation
                data = {
                    "activations": activations,
                    "poll_interval": a.sms_poll_interval,
                    "sms_delay_range": [1.0, 4.0],
                    "give_up_seconds": a.sms_give_up,
                    "emulator_url": emulator.url,
                    "expected_done": a.sms_activations,
                }
                spawn = max(1.0, a.sms_activations / max(a.sms_spread, 1))
                seconds = a.sms_spread + 4 + a.sms_give_up + 15
                stats = self.locust(f"sms-{mode}", "SmsVisibilityUser", a.sms_activations, spawn, seconds, data)
                samples = stats.get("_out", {}).get("samples", [])
                delivered = [s for s in samples if s["t0"] is not None]
                (self.run_dir / f"sms-{mode}.ids.json").write_text(json.dumps([s["activation"] for s in delivered]))
                received = json.loads(self.helper("sms-times", str(self.run_dir / f"sms-{mode}.ids.json")))
                server = [
                    (received[str(s["activation"])] - s["t0"]) * 1000
                    if received.get(str(s["activation"]))
                    else math.inf
                    for s in delivered
                ]
                seen = sorted(s["visible_ms"] for s in delivered if s["visible_ms"] is not None)
                values = seen + [math.inf] * (len(delivered) - len(seen))
                self.results["sms_visibility"][mode] = {
                    "activations": a.sms_activations,
                    "delivered": len(delivered),
                    "seen": len(seen),
                    "not_seen_within_s": a.sms_give_up if len(seen) < len(delivered) else None,
                    "not_seen": len(delivered) - len(seen),
                    "poll_interval_s": a.sms_poll_interval,
                    "p50_ms": percentile(values, 50),
                    "p90_ms": percentile(values, 90),
                    "p99_ms": percentile(values, 99),
                    "max_ms": percentile(values, 100),
                    "mean_ms": round(sum(seen) / len(seen), 1) if seen else None,
                    "server_side": {
                        "what": "sms_received_at (when the app recorded the SMS) - t0",
                        "p50_ms": percentile(server, 50),
                        "p99_ms": percentile(server, 99),
                        "max_ms": percentile(server, 100),
                    },
                    "poll_latency": summarize(stats.get("GET poll (sms)")),
                    "cpu_busy_pct": stats["_cpu_busy_pct"],
                    "cpu_cores": stats["_cpu_cores"],
                }
                if mode == "webhooks_on":
                    acks = emulator.counters().get("webhook_ack_ms", [])
                    self.results["sms_visibility"][mode]["webhook_ack"] = {
                        "what": "the emulator's POST of each supplier webhook, from its side: connect, accept, our "
                        "answer (the webhook pool)",
                        "count": len(acks),
                        "p50_ms": percentile(acks, 50),
                        "p90_ms": percentile(acks, 90),
                        "p99_ms": percentile(acks, 99),
                        "max_ms": percentile(acks, 100),
                    }
                    self.results["sms_visibility"][mode]["customer_webhook"] = self.customer_webhooks(
                        delivered, received
                    )

    def customer_webhooks(self, delivered: list[dict], recorded: dict[str, float | None]) -> dict[str, Any]:
        """SMS -> customer webhook: from t0 (the emulator told to deliver the SMS) until the customer's endpoint
        received the signed ``activation.sms_received``, measured during the SMS-visibility load. A webhook not
        received within --sms-give-up seconds counts as infinitely late."""
        wanted = {s["activation"] for s in delivered}
        deadline = time.monotonic() + self.args.sms_give_up
        while time.monotonic() < deadline and not STOPPING.is_set():
            if wanted <= set(self.receiver.arrivals("activation.sms_received")):
                break
            time.sleep(0.5)  # stragglers: the locust run ends when the last poll saw its code
        arrivals = self.receiver.arrivals("activation.sms_received")
        late = self.args.sms_give_up * 1000
        values, after_recorded = [], []
        for sample in delivered:
            times = arrivals.get(sample["activation"])
            value = (min(times) - sample["t0"]) * 1000 if times else math.inf
            values.append(value if value <= late else math.inf)
            at = recorded.get(str(sample["activation"]))
            if times and at:
                after_recorded.append((min(times) - at) * 1000)
        return {
            "what": "t0 (SMS delivered upstream) -> the customer's endpoint received activation.sms_received",
            "delivered": len(delivered),
            "received": sum(1 for v in values if not math.isinf(v)),
            "p50_ms": percentile(values, 50),
            "p90_ms": percentile(values, 90),
            "p99_ms": percentile(values, 99),
            "max_ms": percentile(values, 100),
            "after_recorded": {
                "what": "sms_received_at (the app recorded the SMS) -> the customer's endpoint received it",
                "p50_ms": percentile(after_recorded, 50),
                "p99_ms": percentile(after_recorded, 99),
                "max_ms": percentile(after_recorded, 100),
            },
            "received_more_than_once": sum(1 for a in wanted if len(arrivals.get(a, [])) > 1),
            "receiver": self.receiver.summary(),
        }

    # --- phase 4 ---

    def money(self) -> None:
        with self.phase("4. money, ledger, logs"):
            delivered = self.delivered_sms()
            (self.run_dir / "delivered.json").write_text(json.dumps(sorted(delivered)))
            # Without webhooks an SMS can take a while to reach us (the sync budget): keep polling, as a client would.
            deadline = time.monotonic() + 120
            while True:
                report = json.loads(self.helper("money", str(self.run_dir / "delivered.json")))
                missing = report["delivered_not_charged_count"]
                if report["ok"] or not missing or time.monotonic() > deadline:
                    break
                self.log(f"  {missing} delivered SMS not charged yet; polling them")
                for slug, upstream_id in report["delivered_not_charged"]:
                    activation = self.sms_activations.get((slug, upstream_id))
                    if activation:
                        http(
                            "GET",
                            f"{self.base}/api/v1/activations/{activation['id']}/poll",
                            headers={"X-Api-Key": activation["key"]},
                        )
                time.sleep(5)
            ledger = self.manage("verify_ledger", check=False)
            report["verify_ledger"] = {
                "ok": ledger.returncode == 0,
                "output": (ledger.stdout + ledger.stderr).strip()[-2000:],
            }
            report.update(self.scan_logs())
            self.results["money"] = report

    def delivered_sms(self) -> set[tuple[str, str]]:
        delivered = set()
        for emulator in self.emulators.values():
            for key, slug in emulator.keys.items():
                status, items, _ = http("GET", f"{emulator.url}/_emulator/activations?api_key={key}")
                if status != 200:
                    raise RuntimeError(f"emulator {emulator.name}: activations -> {status}")
                delivered |= {(slug, item["activation_id"]) for item in items if item.get("sms_code")}
        return delivered

    def scan_logs(self) -> dict:
        statuses: Counter[str] = Counter()
        server_errors: list[str] = []
        webhook_ms: list[float] = []
        lines: list[str] = []
        for name in ("access.log", "access-webhooks.log"):
            if (self.run_dir / name).exists():
                lines += (self.run_dir / name).read_text(errors="replace").splitlines()
        for line in lines:
            status, _, rest = line.partition(" ")
            statuses[status] += 1
            if status.startswith("5") and len(server_errors) < 20:
                server_errors.append(line.strip())
            fields = rest.split()
            if len(fields) >= 3 and fields[1].startswith("/webhooks/platfone/"):
                with contextlib.suppress(ValueError):
                    webhook_ms.append(float(fields[2]))
        errors: Counter[str] = Counter()
        samples: list[str] = []
        for path in sorted(self.run_dir.glob("*.log")):
            if path.name.startswith("locust-") or path.name.startswith("access"):
                continue
            for line in path.read_text(errors="replace").splitlines():
                if " ERROR " in line or "Traceback" in line or " CRITICAL " in line:
                    errors[path.stem] += 1
                    if len(samples) < 20:
                        samples.append(f"{path.stem}: {line.strip()[:300]}")
        return {
            "http_status_counts": dict(sorted(statuses.items())),
            "http_5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
            "http_5xx_samples": server_errors,
            "webhook_requests": {
                "count": len(webhook_ms),
                "what": "webhook pool's gunicorn request time of POST /webhooks/platfone/<slug>/ (excludes waiting to "
                "be accepted; the emulator's own timing, webhook_ack, includes it)",
                "p50_ms": percentile(webhook_ms, 50),
                "p90_ms": percentile(webhook_ms, 90),
                "p99_ms": percentile(webhook_ms, 99),
                "max_ms": percentile(webhook_ms, 100),
            },
            "log_error_lines": dict(errors),
            "log_error_samples": samples,
        }

    # --- machine ---

    def machine(self) -> dict:
        import psycopg
        import redis

        def version(dist: str) -> str | None:
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                return None

        meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
        cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) if "MemTotal" in meminfo else 0
        model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
        with psycopg.connect(f"{self.args.pg.rstrip('/')}/postgres") as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
        info = redis.Redis.from_url(self.args.redis).info("server")
        git = {}
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
            dirty = subprocess.run(
                ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10
            )
            git = {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
        return {
            "cores": os.cpu_count(),
            "cpu_model": model.group(1).strip() if model else platform.processor(),
            "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "os": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "django": version("Django"),
            "djangorestframework": version("djangorestframework"),
            "postgresql": pg,
            "redis": info.get("redis_version"),
            "gunicorn": version("gunicorn"),
            "celery": version("celery"),
            "psycopg": version("psycopg"),
            "locust": version("locust"),
            "git": git,
        }

    # --- everything ---

    def run(self) -> Path:
        self.results["machine"] = self.machine()
        self.cpu.start()
        self.setup()
        self.throughput()
        self.amplification()
        self.visibility()
        self.money()
        return self.finish()

    def finish(self) -> Path:
        self.results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.results["duration_s"] = round(time.time() - self.started, 1)
        self.results["targets"] = targets(self.results)
        self.results["run_dir"] = str(self.run_dir.relative_to(ROOT))
        path = RESULTS / f"{self.results['date']}-{self.args.name}.json"
        path.write_text(json.dumps(self.results, indent=1, default=str) + "\n")
        markdown = render(self.results, results_file=str(path.relative_to(ROOT)))
        if self.args.write_doc:
            (ROOT / "docs" / "performance.md").write_text(markdown)
        return path


# --- figures ------------------------------------------------------------------------------------------------


def read_locust_csv(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        return {row["Name"]: row for row in csv.DictReader(fh)}


def read_failures(path: Path) -> list[str]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [f"{row['Name']}: {row['Error']} x{row['Occurrences']}" for row in csv.DictReader(fh)][:10]


def summarize(row: dict | None) -> dict:
    if not row:
        return {"requests": 0, "failures": 0, "rps": 0.0, "p50_ms": None, "p95_ms": None, "p99_ms": None}

    def num(name: str) -> float | None:
        value = row.get(name)
        return None if value in (None, "", "N/A") else float(value)

    return {
        "requests": int(num("Request Count") or 0),
        "failures": int(num("Failure Count") or 0),
        "rps": round(num("Requests/s") or 0.0, 1),
        "p50_ms": num("50%"),
        "p95_ms": num("95%"),
        "p99_ms": num("99%"),
        "avg_ms": round(num("Average Response Time") or 0.0, 1),
        "max_ms": num("Max Response Time"),
    }


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; ``inf`` (never seen) propagates as None."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    value = ordered[rank - 1]
    return None if math.isinf(value) else round(value, 1)


def cpu_sample() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return fields[3] + fields[4], sum(fields)


def cpu_busy(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    idle, total = after[0] - before[0], after[1] - before[1]
    return round(100 * (1 - idle / total), 1) if total else None


def targets(r: dict) -> list[dict]:
    """Every figure the issue sets a target for, with its value and whether it is met."""
    t = r.get("throughput", {})
    amp = r.get("amplification", {})
    sms = r.get("sms_visibility", {})
    money = r.get("money", {})
    rows = []

    def add(name: str, value: Any, target: str, met: bool | None) -> None:
        rows.append({"figure": name, "value": value, "target": target, "met": met})

    for key, label in (("poll_webhooks_on", "webhooks on"), ("poll_webhooks_off", "webhooks off")):
        poll = t.get(key)
        if poll:
            ratio = poll.get("ratio_to_ceiling")
            add(f"GET poll ({label}) throughput / ceiling", ratio, ">= 0.6", None if ratio is None else ratio >= 0.6)
            # Its latency at 50 closed-loop clients is reported in the throughput table but is not a target: at
            # saturation it is the queue those clients build (Little's law), whatever the code. Issue 14's
            # latency target is the open loop's, below.
    for key, label, limit in (("wallet", "GET wallet", 0.6), ("price", "GET price (warm cache)", 0.5)):
        figure = t.get(key)
        if figure:
            ratio = figure.get("ratio_to_ceiling")
            add(f"{label} throughput / ceiling", ratio, f">= {limit}", None if ratio is None else ratio >= limit)
    open_loop = t.get("poll_open_loop")
    if open_loop:
        p99 = open_loop.get("p99_ms")
        add(
            f"GET poll p99, open loop at {open_loop['rate_per_s']}/s "
            f"({open_loop['fraction_of_capacity']:.0%} of the measured capacity) (ms)",
            p99,
            "<= 50",
            None if p99 is None else p99 <= 50 and open_loop["failures"] == 0,
        )
    profile = r.get("profile") or {}
    for name, label, field, limit in (
        ("poll_webhooks_on", "GET poll", "sql", 1),
        ("get_webhooks_on", "GET activation", "sql", 1),
        ("wallet", "GET wallet", "sql", 1),
        ("price", "GET price (warm)", "sql", 1),
        ("order_then_cancel", "POST activations", "sql_first", 12),
        ("order_then_cancel", "POST cancel", "sql_then", 10),
    ):
        value = (profile.get(name) or {}).get(field)
        if value is not None:
            add(f"SQL queries per {label} (warm key cache)", value, f"<= {limit}", value <= limit)
    for key, label, limit in (("webhooks_off", "without webhooks", 0.2), ("webhooks_on", "with webhooks", 0.01)):
        figure = amp.get(key)
        if figure:
            add(
                f"upstream GET activation per client poll, {label}",
                figure["per_poll"],
                f"<= {limit}",
                None if figure["per_poll"] is None else figure["per_poll"] <= limit,
            )
    burst = amp.get("price_burst")
    if burst:
        add(
            f"upstream price calls for {burst['requests']} identical concurrent requests (cold cache)",
            burst["upstream_get_price"],
            "1 per (service, country) per 90 s",
            burst["upstream_get_price"] <= 1,
        )
    price = t.get("price")
    if price:
        add(
            f"upstream price calls during {r['config']['duration']} s of warm GET price",
            price.get("upstream_get_price_calls"),
            "0 (1 per 90 s)",
            price.get("upstream_get_price_calls", 0) <= 1,
        )
    on = sms.get("webhooks_on")
    if on:
        add(
            "SMS visible p99 with webhooks (ms)",
            on["p99_ms"],
            "<= 1000",
            None if on["p99_ms"] is None else on["p99_ms"] <= 1000,
        )
    ack = (on or {}).get("webhook_ack")
    if ack:
        add(
            "supplier webhook acknowledged p99, under the SMS-visibility poll load (ms)",
            ack["p99_ms"],
            "<= 50",
            None if ack["p99_ms"] is None else ack["p99_ms"] <= 50,
        )
    hook = (on or {}).get("customer_webhook")
    if hook:
        add(
            "SMS -> customer webhook p99 (ms)",
            hook["p99_ms"],
            "<= 1000",
            None if hook["p99_ms"] is None else hook["p99_ms"] <= 1000,
        )
        add(
            "customer webhooks signed and verifiable",
            f"{hook['receiver']['requests'] - hook['receiver']['bad_signatures']} / {hook['receiver']['requests']}",
            "all",
            hook["receiver"]["bad_signatures"] == 0 and hook["received"] == hook["delivered"],
        )
    if money:
        add(
            "charges = SMS delivered upstream",
            f"{money.get('activations_charged')} / {money.get('sms_delivered_upstream')}",
            "equal, none twice",
            money.get("ok"),
        )
        add(
            "verify_ledger",
            "clean" if money.get("verify_ledger", {}).get("ok") else "DRIFT",
            "clean",
            money.get("verify_ledger", {}).get("ok"),
        )
        add("HTTP 5xx in the access log", money.get("http_5xx"), "0", money.get("http_5xx") == 0)
    return rows


# --- entry point --------------------------------------------------------------------------------------------


def prune_old_runs(keep: int = 3) -> None:
    runs = sorted((RESULTS / "tmp").glob("*-*"), key=lambda p: p.name) if (RESULTS / "tmp").exists() else []
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGINT too: a shell that starts us in the background may have set it to "ignore".
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    prune_old_runs()
    bench = Bench(args)
    bench.log(f"run directory {bench.run_dir.relative_to(ROOT)}; gunicorn on {bench.base}")
    try:
        path = bench.run()
    except BaseException as exc:
        bench.log(f"FAILED: {exc!r}; stopping the stack (logs in {bench.run_dir.relative_to(ROOT)})")
        raise
    finally:
        bench.cpu.halt.set()
        stop_all()
        with contextlib.suppress(Exception):
            bench.receiver.stop()
    bench.log(f"wrote {path.relative_to(ROOT)}" + (" and docs/performance.md" if args.write_doc else ""))
    for row in bench.results["targets"]:
        mark = {True: "ok  ", False: "MISS", None: "n/a "}[row["met"]]
        print(f"  {mark} {row['figure']}: {row['value']} (target {row['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
