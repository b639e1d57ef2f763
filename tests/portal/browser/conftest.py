"""The browser suite's stack, shared by the whole session: what `make run` starts, started by the test.

- two Platfone emulators in this process (real HTTP servers on free ports; each storefront has its own
  upstream account, and each emulator posts its signed webhooks to its own storefront's URL);
- the web server (``manage.py runserver``) and a Celery worker, as processes of their own, on the embedded
  defaults (SQLite, file cache and file-system broker in a fresh ``VAR_DIR``), seeded by ``seed_demo``;
- Debian's chromium driven by Playwright (never ``playwright install``).

The processes are stopped by their PIDs at the end. Without ``/usr/bin/chromium`` the tests skip, unless
``REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from platfone.emulator import Emulator, RunningServer

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "screenshots"
STARTUP_SECONDS = 90

UPSTREAM = {"demo": ("e2e-demo-upstream", "e2e-demo-secret"), "globex": ("e2e-globex-upstream", "e2e-globex-secret")}
SECOND_HOST = "globex.localhost"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"


def require_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[:4]} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up:\n{log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    var_dir: Path
    port: int
    env: dict[str, str]
    emulators: dict[str, Emulator]
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def second_url(self) -> str:
        return f"http://{SECOND_HOST}:{self.port}"

    def manage(self, *args: str) -> str:
        """A management command against the stack's database, as an operator runs it."""
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def mails_to(self, address: str) -> list[str]:
        """The messages the file mail backend wrote for ``address``, oldest first."""
        folder = self.var_dir / "mail"
        messages = []
        for path in sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime) if folder.exists() else []:
            for message in path.read_text().split("-" * 79):
                if f"To: {address}" in message:
                    messages.append(message)
        return messages

    def link_in_mail(self, address: str, path_part: str) -> str:
        for message in reversed(self.mails_to(address)):
            match = re.search(r"https?://\S*" + re.escape(path_part) + r"\S*", message)
            if match:
                return match.group(0)
        raise AssertionError(f"no mail to {address} with a {path_part} link")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    require_browser()
    var_dir = tmp_path_factory.mktemp("portal-e2e") / "var"
    port = free_port()
    ignored = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS", "EMAIL_HOST"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    env.update(
        VAR_DIR=str(var_dir),
        DEBUG="1",
        SECRET_KEY="e2e-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        CELERY_TASK_ALWAYS_EAGER="",
        DJANGO_SETTINGS_MODULE="reseller.settings",
        LOG_LEVEL="WARNING",
        CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK="1",  # the webhook pages register a local endpoint
    )
    servers, emulators = [], {}
    for slug, (key, secret) in UPSTREAM.items():
        emulator = Emulator(
            api_keys={key: 1_000_000},
            webhook_url=f"http://127.0.0.1:{port}/webhooks/platfone/{slug}/",
            webhook_secret=secret,
            success_rate_block=False,
        )
        servers.append(RunningServer(emulator))
        emulators[slug] = emulator
    stack = Stack(var_dir=var_dir, port=port, env=env, emulators=emulators)
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        demo_key, demo_secret = UPSTREAM["demo"]
        globex_key, globex_secret = UPSTREAM["globex"]
        stack.manage(
            "seed_demo",
            "--platfone-url", servers[0].base_url, "--platfone-key", demo_key, "--webhook-secret", demo_secret,
            "--second-platfone-url", servers[1].base_url, "--second-platfone-key", globex_key,
            "--second-webhook-secret", globex_secret, "--key-file", str(var_dir / "demo_api_key"),
        )  # fmt: skip
        stack.manage("sync_catalog")
        web_log, worker_log = var_dir / "web.log", var_dir / "worker.log"
        web = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT, env=env, stdout=web_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        stack.processes.append(web)
        worker = subprocess.Popen(  # noqa: S603
            [
                sys.executable, "-m", "celery", "-A", "reseller", "worker", "--pool", "solo",
                "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
            ],
            cwd=ROOT, env=env, stdout=worker_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        stack.processes.append(worker)
        wait_for(f"{stack.url}/healthz", web, web_log)
        deadline = time.monotonic() + STARTUP_SECONDS
        while " ready." not in worker_log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, worker_log.read_text(errors="replace")
            time.sleep(0.2)
        yield stack
    finally:
        for process in stack.processes:
            stop(process)
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def browser(stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Problems:
    """What the browser reported that a user would not see but must not happen: script errors, CSP
    violations, server errors. (A 4xx page is deliberate: "this link does not work" is a 400.)"""

    def __init__(self):
        self.items: list[str] = []

    def console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or (message.type == "error" and not re.search(r"status of 4\d\d", text)):
            self.items.append(f"console: {text}")

    def watch(self, page):
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on("console", self.console)
        page.on(
            "response",
            lambda response: self.items.append(f"{response.status} {response.url}") if response.status >= 500 else None,
        )
        return page


@pytest.fixture
def problems():
    found = Problems()
    yield found
    assert found.items == []


@pytest.fixture
def new_page(browser, problems):
    """``new_page(width=1280)``: a fresh browser context (no cookies) and page, watched for problems."""
    contexts = []

    def make(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return problems.watch(context.new_page())

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (var/test-artifacts/screenshots, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = ARTIFACTS / f"{name}-{'phone' if width < 600 else 'desktop'}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(path, ROOT / "docs" / "screenshots" / path.name)
    return path


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
