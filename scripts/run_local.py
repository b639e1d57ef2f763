#!/usr/bin/env python
"""Start the whole platform on one machine for development and demos (``make run``).

Migrates, seeds two demo storefronts, then starts and supervises: two Platfone emulators (each storefront
has its own upstream account, and each emulator posts its webhooks to its own storefront's URL), the web
server, a Celery worker with an embedded beat, and the ``notify`` worker (customer webhooks and code e-mails,
on their own queue, as in the Procfile). Prints the storefront URLs, the demo log-in and the
demo API key. Ctrl-C or SIGTERM stops exactly the processes it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
EMULATOR_PORT = int(os.environ.get("EMULATOR_PORT", "8001"))
EMULATOR_KEY = os.environ.get("EMULATOR_API_KEY", "demo-platfone-key")
WEBHOOK_SECRET = os.environ.get("EMULATOR_WEBHOOK_SECRET", "demo-webhook-secret")
# The second storefront (globex, on globex.localhost) has its own upstream account: a second emulator.
SECOND_EMULATOR_PORT = EMULATOR_PORT + 1
SECOND_HOST = "globex.localhost"
SECOND_KEY = "globex-platfone-key"
SECOND_SECRET = "globex-webhook-secret"
# Where the development mail backend writes (settings: $VAR_DIR/mail), for the banner only.
MAIL_DIR = os.path.relpath(Path(os.environ.get("VAR_DIR") or ROOT / "var") / "mail", ROOT)

LOG_DIR = ROOT / "var"
# How many lines of a dead child's log are shown.
LOG_TAIL_LINES = 20

children: list[subprocess.Popen] = []
logs: dict[subprocess.Popen, Path] = {}


def busy_port() -> tuple[int, str] | None:
    """The first of our ports that something already listens on, with the variable that moves it, or None.

    A bind with SO_REUSEADDR (as the servers themselves bind) fails only while another socket listens there.
    """
    for port, variable in (
        (PORT, "PORT"),
        (EMULATOR_PORT, "EMULATOR_PORT"),
        (SECOND_EMULATOR_PORT, "EMULATOR_PORT (the second emulator takes EMULATOR_PORT + 1)"),
    ):
        with socket.socket(socket.AF_INET6 if ":" in HOST else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError:
                return port, variable
    return None


def check_ports() -> None:
    busy = busy_port()
    if busy:
        port, variable = busy
        raise SystemExit(
            f"Port {port} on {HOST} is already in use (another `make run`?): stop it, or choose free ports with "
            f"PORT and EMULATOR_PORT (this one is {variable}), e.g. PORT=9000 EMULATOR_PORT=9001 make run"
        )


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def fail_if_a_child_died() -> None:
    """A child that exited stops everything: its last log lines and a non-zero exit, never a false "running"."""
    for process in children:
        if process.poll() is not None:
            log = logs.get(process)
            where = os.path.relpath(log, ROOT) if log else "its log"
            print(
                f"{' '.join(map(str, process.args[:4]))} exited with {process.returncode}; stopping. "
                f"Last lines of {where}:\n{log_tail(log) if log else ''}",
                file=sys.stderr,
                flush=True,
            )
            terminate_children()
            sys.exit(1)


def ensure_env_file() -> None:
    env_file = ROOT / ".env"
    if not env_file.exists():
        env_file.write_text(f"DEBUG=1\nSECRET_KEY={secrets.token_urlsafe(48)}\n")
        env_file.chmod(0o600)


def manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [PYTHON, "manage.py", *args], cwd=ROOT, check=True, text=True, capture_output=capture
    )
    return result.stdout if capture else ""


def start(name: str, argv: list[str]) -> subprocess.Popen:
    path = LOG_DIR / f"{name}.log"
    log = open(path, "ab")  # noqa: SIM115 - lives as long as the child
    process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    children.append(process)
    logs[process] = path
    return process


def wait_for(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fail_if_a_child_died()
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status still means the server is up
                return
            time.sleep(0.3)
    fail_if_a_child_died()
    raise SystemExit(f"{url} did not come up within {seconds:.0f} s; see var/*.log")


def stop(*_args) -> None:
    terminate_children()
    sys.exit(0)


def terminate_children() -> None:
    for process in children:
        if process.poll() is None:
            process.terminate()
    for process in children:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    check_ports()
    (ROOT / "var" / "broker").mkdir(parents=True, exist_ok=True)
    ensure_env_file()
    # A developer's webhook endpoint runs on this machine: let customer webhooks reach loopback (never in production).
    os.environ.setdefault("CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK", "1")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    manage("migrate", "--noinput", "-v", "0")
    platfone_url = f"http://{HOST}:{EMULATOR_PORT}/api/v1"
    second_platfone_url = f"http://{HOST}:{SECOND_EMULATOR_PORT}/api/v1"
    demo = manage(
        "seed_demo",
        "--platfone-url",
        platfone_url,
        "--platfone-key",
        EMULATOR_KEY,
        "--webhook-secret",
        WEBHOOK_SECRET,
        "--second-platfone-url",
        second_platfone_url,
        "--second-platfone-key",
        SECOND_KEY,
        "--second-webhook-secret",
        SECOND_SECRET,
        capture=True,
    )
    demo_key = demo.strip().splitlines()[-1]

    for name, port, key, secret, slug in (
        ("emulator", EMULATOR_PORT, EMULATOR_KEY, WEBHOOK_SECRET, "demo"),
        ("emulator-globex", SECOND_EMULATOR_PORT, SECOND_KEY, SECOND_SECRET, "globex"),
    ):
        start(
            name,
            [
                PYTHON,
                "manage.py",
                "platfone_emulator",
                "--host",
                HOST,
                "--port",
                str(port),
                "--api-key",
                key,
                "--balance",
                "100000",
                "--webhook-url",
                f"http://{HOST}:{PORT}/webhooks/platfone/{slug}/",
                "--webhook-secret",
                secret,
            ],
        )
    wait_for(f"http://{HOST}:{EMULATOR_PORT}/_emulator/health")
    wait_for(f"http://{HOST}:{SECOND_EMULATOR_PORT}/_emulator/health")
    manage("sync_catalog")
    start("web", [PYTHON, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"])
    start(
        "celery",
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "reseller",
            "worker",
            "--beat",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--schedule",
            str(ROOT / "var" / "celerybeat-schedule"),
        ],
    )
    # What a customer waits for has its own worker, as in production: a slow sync never holds a webhook back.
    start(
        "notify",
        [
            *(PYTHON, "-m", "celery", "-A", "reseller", "worker", "-Q", "notify", "-n", "notify@%h"),
            *("--loglevel", "INFO", "--concurrency", "2"),
        ],
    )
    wait_for(f"http://{HOST}:{PORT}/healthz")

    base = f"http://{HOST}:{PORT}"
    print(
        f"""
Platform running (logs in var/*.log; Ctrl-C stops everything).
  Storefront 1    {base}/   (Demo Numbers)
  Storefront 2    http://{SECOND_HOST}:{PORT}/   (Globex SMS: another tenant, its own look and upstream)
  Demo log-in     demo@example.com / demo-password-123   (a user of each storefront, $50.00 in the wallet)
  Mail            {MAIL_DIR}/   (sign-up verification and password-reset e-mails land here as files)
  API             {base}/api/v1/index.php?path=wallet
  API docs        {base}/api/v1/docs/   (schema: {base}/api/v1/openapi.json)
  Admin           {base}/admin/   (create an operator: .venv/bin/python manage.py createsuperuser)
  Emulators       http://{HOST}:{EMULATOR_PORT}/api/v1 and :{SECOND_EMULATOR_PORT}   (controls under /_emulator/)

Demo API key: {demo_key}

  curl -s -H "X-Api-Key: {demo_key}" "{base}/api/v1/index.php?path=wallet"
""",
        flush=True,
    )

    while True:
        fail_if_a_child_died()
        time.sleep(1)


if __name__ == "__main__":
    try:
        main()
    finally:
        terminate_children()
