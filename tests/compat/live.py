"""A live stack for the handler's end-to-end tests: the project served by gunicorn, as in production, and the
Platfone emulator over real HTTP.

- The server is its own process on the embedded defaults (a SQLite database and a file cache in a fresh
  ``VAR_DIR``; the environment's DATABASE_URL / REDIS_URL are not used, so the test database is untouched),
  migrated and seeded (``manage.py shell``) before it starts. It binds port 0: the port the kernel picked is
  read from gunicorn's log. It is stopped by its PID.
- The emulator serves from a thread of the test process (``RunningServer``, port 0), so tests control it
  directly (deliver an SMS, set a cancel delay, inject a fault). Its webhooks are posted synchronously, signed,
  over HTTP to the server's webhook URL of the storefront that owns the activation: when ``deliver_sms``
  returns, the server has applied the SMS.

The seed is a pool of funded users with API keys; each test takes fresh ones (``take``), so tests do not see
each other's money or activations.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from platfone.emulator import Emulator, RunningServer

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "live-webhook-secret-0123456789"
UPSTREAM_KEYS = {"acme": "acme-live-upstream", "globex": "globex-live-upstream"}
FUNDS_CENTS = 5000
POOL = {"acme": 40, "globex": 6}
START_TIMEOUT = 90

# Runs inside ``manage.py shell`` of the server's database: the storefronts (each with its own upstream account
# on the emulator; acme and globex get webhooks), a pool of funded users with keys, and a few special keys.
SETUP = r"""
import json, os
from accounts.models import Tenant
from accounts.services import api_key_create, api_key_revoke, tenant_create, user_create
from catalog.services import catalog_sync
from wallet.services import deposit

url, secret = os.environ["LIVE_EMULATOR_URL"], os.environ["LIVE_WEBHOOK_SECRET"]
keys = json.loads(os.environ["LIVE_UPSTREAM_KEYS"])
pool = json.loads(os.environ["LIVE_POOL"])
funds = int(os.environ["LIVE_FUNDS_CENTS"])
result = {}
for slug, size in pool.items():
    tenant = tenant_create(slug=slug, name=slug.capitalize(), platfone_base_url=url, platfone_api_key=keys[slug],
                           platfone_webhook_secret=secret)
    Tenant.objects.filter(pk=tenant.pk).update(rate_limit_per_minute=100000)
    catalog_sync(tenant=tenant)
    result[slug] = []
    for index in range(size):
        user = user_create(tenant=tenant, email=f"user{index}@{slug}.test")
        deposit(user=user, amount_cents=funds, idempotency_key=f"live:fund:{user.pk}", actor="cli")
        result[slug].append(api_key_create(user=user, name="live").raw_key)
acme = Tenant.objects.get(slug="acme")
result["broke"] = api_key_create(user=user_create(tenant=acme, email="broke@acme.test"), name="live").raw_key
revoked = api_key_create(user=user_create(tenant=acme, email="revoked@acme.test"), name="live")
api_key_revoke(api_key=revoked.api_key)
result["revoked"] = revoked.raw_key
initech = tenant_create(slug="initech", name="Initech")
Tenant.objects.filter(pk=initech.pk).update(rate_limit_per_minute=2)
result["limited"] = api_key_create(user=user_create(tenant=initech, email="limited@initech.test"), name="live").raw_key
print("LIVE-SETUP " + json.dumps(result))
"""


class LiveStack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.url = ""
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / "gunicorn.log"
        self.emulator = Emulator(
            api_keys=dict.fromkeys(UPSTREAM_KEYS.values(), 10_000_000),
            rate_limits=False,
            success_rate_block=False,
            max_active=1000,
            webhook_url="http://reseller.invalid/webhooks/platfone/",  # the sender picks the storefront's URL
            webhook_secret=WEBHOOK_SECRET,
            webhook_sender=self._post_webhook,
        )
        self.emulator_server = RunningServer(self.emulator)
        self.env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_TASK_ALWAYS_EAGER"}
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="reseller.settings",
            VAR_DIR=str(workdir / "var"),
            DEBUG="1",
            SECRET_KEY="live-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            CELERY_TASK_ALWAYS_EAGER="1",  # a cancel after the SMS finalizes upstream in the request: no worker
            LOG_LEVEL="WARNING",
        )
        self.keys: dict = {}
        self._taken: dict[str, int] = {}

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> LiveStack:
        self._manage("migrate", "--noinput", "-v", "0")
        seeded = self._manage(
            "shell",
            "-c",
            SETUP,
            env={
                "LIVE_EMULATOR_URL": self.emulator_server.base_url,
                "LIVE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "LIVE_UPSTREAM_KEYS": json.dumps(UPSTREAM_KEYS),
                "LIVE_POOL": json.dumps(POOL),
                "LIVE_FUNDS_CENTS": str(FUNDS_CENTS),
            },
        )
        line = next(line for line in seeded.splitlines() if line.startswith("LIVE-SETUP "))
        self.keys = json.loads(line.removeprefix("LIVE-SETUP "))
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv of our own interpreter
            [
                sys.executable,
                "-m",
                "gunicorn",
                "reseller.wsgi:application",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--threads",
                "8",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--error-logfile",
                "-",
            ],  # fmt: skip
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_until_listening()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self.process is not None:
            self._log.close()
        self.emulator_server.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(  # noqa: S603 - fixed argv of our own interpreter
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def _wait_until_listening(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        url = ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            if not url:
                match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", self.log())
                url = match.group(1) if match else ""
            if url:
                try:
                    if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                        return url
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not serve within {START_TIMEOUT} s:\n{self.log()[-3000:]}")

    # --- what tests use -------------------------------------------------------------------------------------

    @property
    def handler_url(self) -> str:
        return f"{self.url}/stubs/handler_api.php"

    def take(self, pool: str = "acme") -> str:
        """A key of a funded user no other test has used."""
        index = self._taken.get(pool, 0)
        if index >= len(self.keys[pool]):
            raise AssertionError(f"the live pool {pool!r} is used up: raise POOL in tests/compat/live.py")
        self._taken[pool] = index + 1
        return self.keys[pool][index]

    def call(self, key: str | None, action: str | None, *, method: str = "GET", **params) -> requests.Response:
        values = {
            name: value for name, value in {"api_key": key, "action": action, **params}.items() if value is not None
        }
        if method == "POST":
            return requests.post(self.handler_url, data=values, timeout=60)
        return requests.get(self.handler_url, params=values, timeout=60)

    def json_api(self, key: str, path: str) -> dict:
        response = requests.get(f"{self.url}/api/v1/{path}", headers={"X-Api-Key": key}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def upstream_id(self, key: str, activation_id: int | str) -> str:
        return self.json_api(key, f"activations/{activation_id}")["activation_id"]

    def deliver_sms(self, key: str, activation_id: int | str, *, code: str, text: str | None = None) -> None:
        """The service sends its SMS: the emulator records it and posts the webhook, which the server applies."""
        self.emulator.deliver_sms(self.upstream_id(key, activation_id), code=code, text=text)

    def charges(self, key: str) -> list[dict]:
        transactions = self.json_api(key, "wallet?transactions=1")["transactions"]
        return [t for t in transactions if t["type"] == "charge"]

    def _post_webhook(self, url: str, headers, body: bytes) -> int:
        activation_id = (json.loads(body).get("data") or {}).get("activation_id")
        api_key = self.emulator.api_key_of(activation_id) if activation_id else None
        slug = next((slug for slug, key in UPSTREAM_KEYS.items() if key == api_key), None)
        if slug is None or not self.url:
            return 200  # account events (low balance) are not what these tests are about
        response = requests.post(f"{self.url}/webhooks/platfone/{slug}/", data=body, headers=dict(headers), timeout=60)
        return response.status_code
