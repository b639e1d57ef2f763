"""Locust users for ``bench/run.py`` (headless; one user class per run, named on the command line).

Inputs come from the environment:

- ``BENCH_DATA``: a JSON file written by run.py: ``{"keys": [...], "activations": [{"id", "upstream_id",
  "key"}, ...], ...}`` plus the scenario's parameters (see each class).
- ``BENCH_OUT``: where users that collect their own samples (SMS visibility, burst) write them at the end.

Every user talks to the ``--host`` (our gunicorn on 127.0.0.1); ``SmsVisibilityUser`` also calls the
emulator's control endpoint on 127.0.0.1 to deliver the SMS. All waits are bounded.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import urllib.request
from pathlib import Path

import gevent
from gevent.event import Event
from locust import FastHttpUser, constant, constant_pacing, events, task

DATA: dict = json.loads(Path(os.environ["BENCH_DATA"]).read_text()) if os.environ.get("BENCH_DATA") else {}
OUT = os.environ.get("BENCH_OUT", "")
_index = itertools.count()
_samples: list[dict] = []
_done = {"n": 0}
_spawned = Event()


def _next_index() -> int:
    return next(_index)


@events.spawning_complete.add_listener
def _on_spawned(user_count, **_kwargs):
    _spawned.set()


@events.test_start.add_listener
def _watch_completion(environment, **_kwargs):
    """Users that do a bounded amount of work count themselves done; quit as soon as all of them are."""
    expected = int(DATA.get("expected_done") or 0)
    if not expected:
        return

    def watch():
        while _done["n"] < expected:
            gevent.sleep(0.1)
        gevent.sleep(0.2)
        environment.runner.quit()

    gevent.spawn(watch)


@events.quitting.add_listener
def _write_samples(environment, **_kwargs):
    if OUT:
        with open(OUT, "w") as fh:
            json.dump({"samples": _samples, "done": _done["n"]}, fh)


def _idle_forever():
    """A user whose bounded work is done idles instead of stopping: during the ramp-up locust would replace a
    stopped user with a new one (and run its work twice). The run ends at -t or when all are done."""
    while True:
        gevent.sleep(3600)


class _BenchUser(FastHttpUser):
    abstract = True
    network_timeout = 30.0
    connection_timeout = 10.0
    wait_time = constant(0)

    def on_start(self):
        self.index = _next_index()

    def headers(self, key: str) -> dict[str, str]:
        return {"X-Api-Key": key}

    def check(self, response, *, want_code: bool = False) -> dict | None:
        """Marks non-2xx answers and non-envelopes as failures; returns ``data`` of a good envelope."""
        if response.status_code != 200:
            response.failure(f"HTTP {response.status_code}")
            return None
        try:
            body = response.json()
        except ValueError:
            response.failure("not JSON")
            return None
        if not body.get("ok"):
            response.failure(f"not ok: {body.get('code')}")
            return None
        response.success()
        return body.get("data") or {}


class CeilingUser(_BenchUser):
    """The bare view: no key, one row read by primary key."""

    @task
    def ceiling(self):
        with self.client.get(f"/bench/ceiling?id={DATA['ceiling_id']}", name="GET ceiling", catch_response=True) as r:
            self.check(r)


class WalletUser(_BenchUser):
    @task
    def wallet(self):
        key = DATA["keys"][self.index % len(DATA["keys"])]
        with self.client.get("/api/v1/wallet", headers=self.headers(key), name="GET wallet", catch_response=True) as r:
            self.check(r)


class PriceUser(_BenchUser):
    """GET price of one (service, country): run.py warms the price cache first."""

    @task
    def price(self):
        key = DATA["keys"][self.index % len(DATA["keys"])]
        url = f"/api/v1/price?service_id={DATA['service_id']}&country_id={DATA['country_id']}"
        with self.client.get(url, headers=self.headers(key), name="GET price", catch_response=True) as r:
            self.check(r)


class PollUser(_BenchUser):
    """Closed loop on one activation per user (as many activations as users)."""

    @task
    def poll(self):
        activation = DATA["activations"][self.index % len(DATA["activations"])]
        with self.client.get(
            f"/api/v1/activations/{activation['id']}/poll",
            headers=self.headers(activation["key"]),
            name="GET poll",
            catch_response=True,
        ) as r:
            self.check(r)


class OrderCancelUser(_BenchUser):
    """POST activations, then cancel it at once. Keys rotate over many tenants (each its own upstream account,
    so our client's per-account request budget does not cap the test; see run.py)."""

    _rotation = itertools.count()

    @task
    def order_then_cancel(self):
        key = DATA["keys"][next(self._rotation) % len(DATA["keys"])]
        body = {"service_id": DATA["service_id"], "country_id": DATA["country_id"]}
        with self.client.post(
            "/api/v1/activations", json=body, headers=self.headers(key), name="POST activations", catch_response=True
        ) as r:
            data = self.check(r)
        if not data:
            return
        with self.client.post(
            f"/api/v1/activations/{data['id']}/cancel",
            headers=self.headers(key),
            name="POST cancel",
            catch_response=True,
        ) as r:
            self.check(r)


class PacedPollUser(_BenchUser):
    """Upstream amplification: each user polls its own activation once per ``poll_interval`` seconds."""

    wait_time = constant_pacing(float(DATA.get("poll_interval") or 1.0))

    @task
    def poll(self):
        activation = DATA["activations"][self.index % len(DATA["activations"])]
        with self.client.get(
            f"/api/v1/activations/{activation['id']}/poll",
            headers=self.headers(activation["key"]),
            name="GET poll (paced)",
            catch_response=True,
        ) as r:
            self.check(r)


class BurstPriceUser(_BenchUser):
    """One GET price per user, all released together once every user is spawned (fresh cache)."""

    @task
    def burst(self):
        _spawned.wait(timeout=60)
        key = DATA["keys"][self.index % len(DATA["keys"])]
        url = f"/api/v1/price?service_id={DATA['service_id']}&country_id={DATA['country_id']}"
        with self.client.get(url, headers=self.headers(key), name="GET price (burst)", catch_response=True) as r:
            data = self.check(r)
        _samples.append({"ok": data is not None, "stale": bool(r.headers.get("X-Price-Stale"))})
        _done["n"] += 1
        _idle_forever()


class SmsVisibilityUser(_BenchUser):
    """One activation per user: poll every ``poll_interval`` s; after a random delay the user has the emulator
    deliver an SMS (t0 = just before that control call); the sample is the time until a poll shows the code."""

    wait_time = constant(0)

    @task
    def deliver_and_watch(self):
        if self.index >= len(DATA["activations"]):
            _idle_forever()  # never two users on one activation
        activation = DATA["activations"][self.index]
        interval = float(DATA["poll_interval"])
        code = f"{random.randrange(10**5, 10**6)}"
        deliver_after = time.time() + random.uniform(*DATA["sms_delay_range"])
        give_up = deliver_after + float(DATA["give_up_seconds"])
        t0 = None
        seen = None
        polls = 0
        while time.time() < give_up:
            started = time.time()
            if t0 is None and started >= deliver_after:
                t0 = time.time()
                request = urllib.request.Request(
                    f"{DATA['emulator_url']}/_emulator/activations/{activation['upstream_id']}/sms",
                    data=json.dumps({"code": code}).encode(),
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=10) as answer:  # 127.0.0.1 only
                    answer.read()
            with self.client.get(
                f"/api/v1/activations/{activation['id']}/poll",
                headers=self.headers(activation["key"]),
                name="GET poll (sms)",
                catch_response=True,
            ) as r:
                data = self.check(r)
            polls += 1
            if t0 is not None and data and data.get("sms_code") == code:
                seen = time.time()
                break
            gevent.sleep(max(0.0, interval - (time.time() - started)))
        _samples.append(
            {
                "activation": activation["id"],
                "t0": t0,
                "seen": seen,
                "visible_ms": None if seen is None or t0 is None else round((seen - t0) * 1000, 1),
                "polls": polls,
            }
        )
        _done["n"] += 1
        _idle_forever()
