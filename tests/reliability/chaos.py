"""The chaos driver: clients order, poll, get, cancel, retry and finalize through the public API while the
upstream fails a fifth of its calls and, meanwhile, delivers SMS, expires numbers and sends (or loses, or
repeats) webhooks. Seeded: the same seed makes the same choices (thread timing aside).

Used by ``test_chaos`` (in process) and ``test_crash_recovery`` (with a real Celery worker).
"""

from __future__ import annotations

import random
import threading
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from activations import tasks
from activations.models import Activation
from platfone.emulator import EmulatorError
from tests.reliability.support import SMS_STATUSES, CallLog, age_activations, upstream_sms


def api_client() -> APIClient:
    """A client that answers a view's exception with the 500 a real server would send. (Django's test client
    re-raises it instead, and with several clients in threads, in whichever client's request is running:
    the exception signal is process-wide.)"""
    return APIClient(raise_request_exception=False)


@contextmanager
def later(**delta):
    """Django's clock runs ahead by ``delta`` (time passes for code that asks how old something is)."""
    real_now = timezone.now
    timezone.now = lambda: real_now() + timedelta(**delta)
    try:
        yield
    finally:
        timezone.now = real_now


ROUTES = {
    "clean": lambda path: f"/api/v1/{path}",
    "query": lambda path: f"/api/v1/index.php?path={path}",
    "path_info": lambda path: f"/api/v1/index.php/{path}",
}
# (service, country): a plain pair, one more, a virtual number (never cancelable), a service that cannot be
# retried, and a pair without stock.
PAIRS = [("whatsapp", "us"), ("telegram", "uk"), ("google", "uk_v"), ("netflix", "us"), ("whatsapp", "us_v")]
# The operations whose documented answer to an upstream outage is 503 upstream_unavailable. Reads (get,
# poll, list, wallet) answer from the database and must never fail.
MAY_BE_UPSTREAM_DOWN = ("order", "cancel", "retry", "finalize", "price")

FAULTS = [
    ("timeout", {"when": "before"}),
    ("timeout", {"when": "after"}),  # the upstream did it, the answer was lost
    ("error", {"status": 500}),
    ("error", {"status": 502}),
    ("garbage", {"variant": "text"}),
    ("garbage", {"variant": "json"}),
    ("ratelimit", {"retry_after": 1}),
]


def add_chaos_faults(emulator, *, rate: float = 0.2, seed: int = 0, timeout_seconds: float = 0.4) -> None:
    """Fail ``rate`` of all upstream calls, in equal shares of every fault kind.

    The emulator consults faults in order and takes the first that rolls, so fault i gets the conditional
    probability share / (1 - i * share): each kind then hits ``share`` of all calls.
    """
    share = rate / len(FAULTS)
    for i, (kind, options) in enumerate(FAULTS):
        if kind == "timeout":
            options = {**options, "seconds": timeout_seconds}
        emulator.add_fault(
            kind=kind, endpoint="*", probability=share / (1 - i * share), seed=seed * 100 + i, count=None, **options
        )


@dataclass
class Player:
    user: object
    key: str
    ids: list[int] = field(default_factory=list)


class Chaos:
    def __init__(self, *, emulator, players: list[Player], log: CallLog, seed: int):
        self.emulator = emulator
        self.players = players
        self.log = log
        self.seed = seed
        self.delivered: dict[str, str] = {}
        self._lock = threading.Lock()

    # --- one client action -----------------------------------------------------------------------------

    def call(self, client: APIClient, player: Player, label: str, method: str, path: str, rng, **body):
        route = ROUTES[rng.choice(list(ROUTES))](path)
        auth = {"HTTP_X_API_KEY": player.key} if rng.random() < 0.5 else {"HTTP_AUTHORIZATION": f"Bearer {player.key}"}
        if method == "GET" and body:
            query = "&".join(f"{k}={v}" for k, v in body.items())
            route = f"{route}{'&' if '?' in route else '?'}{query}"
        try:
            if method == "GET":
                response = client.get(route, **auth)
            else:
                response = client.post(route, body or None, format="json", **auth)
        except Exception:  # the view raised: a 500 behind a real server
            return self.log.record_exception(label, method, route, traceback.format_exc())
        return self.log.record(label, method, route, response)

    def client_step(self, player: Player, client: APIClient, rng: random.Random) -> None:
        others = [i for p in self.players if p is not player for i in p.ids]
        ids = player.ids or [0]
        op = rng.choices(
            ["order", "poll", "get", "cancel", "retry", "finalize", "list", "wallet", "price", "foreign"],
            weights=[25, 25, 10, 15, 4, 4, 4, 4, 5, 4],
        )[0]
        if op == "order":
            service, country = rng.choice(PAIRS)
            body = {"service_id": service, "country_id": country}
            if rng.random() < 0.15:
                body["max_price"] = rng.choice([1, 20, 60, 10000])
            call = self.call(client, player, op, "POST", "activations", rng, **body)
            if call.status == 200:
                with self._lock:
                    player.ids.append(call.body["data"]["id"])
        elif op in ("poll", "get"):
            activation_id = rng.choice(ids)
            self.call(client, player, op, "GET", f"activations/{activation_id}{'/poll' if op == 'poll' else ''}", rng)
        elif op in ("cancel", "retry", "finalize"):
            self.call(client, player, op, "POST", f"activations/{rng.choice(ids)}/{op}", rng)
        elif op == "list":
            self.call(client, player, op, "GET", "activations", rng, page=1, limit=rng.choice([5, 50]))
        elif op == "wallet":
            self.call(client, player, op, "GET", "wallet", rng, transactions=1)
        elif op == "price":
            service, country = rng.choice(PAIRS)
            self.call(client, player, op, "GET", "price", rng, service_id=service, country_id=country)
        elif op == "foreign" and others:
            # Somebody else's activation (same or other tenant): must be 404, never touched.
            target = rng.choice(others)
            path = rng.choice([f"activations/{target}", f"activations/{target}/poll", f"activations/{target}/cancel"])
            self.call(client, player, op, "POST" if path.endswith("cancel") else "GET", path, rng)

    # --- the upstream's own life ------------------------------------------------------------------------

    def world_step(self, rng: random.Random) -> None:
        """An SMS arrives for a random waiting number (webhooks go out, or get lost), or a number expires."""
        waiting = [
            a
            for a in self.emulator.activations()
            if a["activation_status"] == "active" and a["sms_status"] in {"smsRequested", "retryRequested"}
        ]
        if not waiting:
            return
        target = rng.choice(waiting)
        try:
            if rng.random() < 0.8:
                code = f"{rng.randrange(10**6):06d}"
                self.emulator.deliver_sms(target["activation_id"], code=code, text=f"Your code is {code}")
                with self._lock:
                    self.delivered[target["activation_id"]] = code
            else:
                self.emulator.expire_activation(target["activation_id"])
        except EmulatorError:
            pass  # the number was canceled or finalized a moment ago: the SMS has nowhere to go

    def ensure_delivered(self, count: int, *, attempts: int = 200) -> None:
        """Deliver SMS to waiting numbers until ``count`` were delivered in all: how many the world thread
        managed depends on thread timing, and a run must have some to lose."""
        rng = random.Random(self.seed + 1)
        for _ in range(attempts):
            if len(self.delivered) >= count:
                return
            self.world_step(rng)

    # --- running ----------------------------------------------------------------------------------------

    def run_sequential(self, steps: int) -> None:
        rng = random.Random(self.seed)
        clients = {id(p): api_client() for p in self.players}
        for _ in range(steps):
            if rng.random() < 0.25:
                self.world_step(rng)
            else:
                player = rng.choice(self.players)
                self.client_step(player, clients[id(player)], rng)

    def run_threads(self, steps_per_client: int, *, world_pause: float = 0.02) -> list[BaseException]:
        """One thread per player, and one for the upstream's world for as long as the players play.
        Returns what the threads raised."""
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(self.players) + 1)
        playing = threading.Semaphore(0)

        def guarded(target: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    barrier.wait(10)
                    target()
                except BaseException as exc:  # collected and asserted by the test
                    errors.append(exc)
                finally:
                    connection.close()

            return run

        def player_loop(n: int, player: Player) -> Callable[[], None]:
            def loop() -> None:
                rng, client = random.Random(self.seed * 1000 + n), api_client()
                try:
                    for _ in range(steps_per_client):
                        self.client_step(player, client, rng)
                finally:
                    playing.release()

            return loop

        def world_loop() -> None:
            rng = random.Random(self.seed * 1000 + 999)
            finished = 0
            while finished < len(self.players):
                self.world_step(rng)
                while finished < len(self.players) and playing.acquire(timeout=world_pause):
                    finished += 1

        threads = [threading.Thread(target=guarded(player_loop(n, p))) for n, p in enumerate(self.players)]
        threads.append(threading.Thread(target=guarded(world_loop)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(240)
        errors += [RuntimeError(f"{t.name} still running") for t in threads if t.is_alive()]
        return errors

    # --- letting it settle ------------------------------------------------------------------------------

    def converge(self, *, rounds: int = 2, run_beat: bool = True) -> None:
        """Faults lifted, time passes: the beat's tasks run and every owner reads each of its activations."""
        self.emulator.clear_faults()
        rng = random.Random(self.seed + 1)
        for _ in range(rounds):
            cache.clear()  # upstream backoffs, budgets and price caches have run out
            age_activations()
            if run_beat:
                with later(minutes=10):  # old enough for reconcile to judge lost and unknown orders
                    tasks.reconcile()
                tasks.sync_due()
                tasks.expire_overdue()
            for player in self.players:
                client = api_client()
                for activation_id in player.ids:
                    self.call(client, player, "poll", "GET", f"activations/{activation_id}/poll", rng)

    def close_every_number(self) -> None:
        """The numbers still waiting expire upstream: afterwards no hold has a reason to exist."""
        for a in self.emulator.activations():
            if a["activation_status"] == "active" and a["sms_status"] not in SMS_STATUSES:
                self.emulator.expire_activation(a["activation_id"])

    def visibility_problems(self) -> list[str]:
        """Every SMS the upstream delivered on an order the user got is visible to its owner, with its code."""
        problems = []
        sms = upstream_sms(self.emulator)
        owners = {i: p for p in self.players for i in p.ids}
        for activation in Activation.objects.filter(order_status="placed", upstream_id__in=list(sms)):
            player = owners.get(activation.pk)
            if player is None:
                problems.append(f"activation #{activation.pk} placed but its order was never answered 200")
                continue
            response = api_client().get(f"/api/v1/activations/{activation.pk}", HTTP_X_API_KEY=player.key)
            if response.status_code == 429:
                # The rate limiter fails closed when its counter vanishes from a shared, flushed cache.
                response = api_client().get(f"/api/v1/activations/{activation.pk}", HTTP_X_API_KEY=player.key)
            data = response.json().get("data") or {}
            if response.status_code != 200 or data.get("sms_code") != sms[activation.upstream_id]["sms_code"]:
                problems.append(
                    f"activation #{activation.pk}: upstream code {sms[activation.upstream_id]['sms_code']!r}, "
                    f"API answered {response.status_code} {data.get('sms_code')!r}"
                )
        return problems
