"""Crash recovery: a real Celery worker runs the beat's tasks during the chaos run and is killed (SIGKILL, by
its PID) while it holds a task; a new worker is started. Nothing is lost, nothing is charged twice.

The stack: the test's PostgreSQL database (the worker gets its name), a dedicated Redis database as the
worker's broker and cache, the emulator as a real HTTP server both processes call, clients using the API in
this process, and a "beat" thread enqueueing the periodic tasks (sync, expiry, reconciliation, finalizing)
on a queue of this test's own. The task the killed worker held (``acks_late``) is redelivered to the new one
(see ``celery_worker``); the money it may have half-moved was rolled back with the dead connection.

Afterwards, once the faults are lifted and time has passed: every SMS delivered upstream is visible and
charged exactly once, every hold is released or charged, ``verify_ledger`` is clean, and the API answered
no 5xx but the documented 503s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.db import connection

from platfone.emulator import RunningServer
from tests.reliability.celery_worker import VISIBILITY_TIMEOUT_SECONDS
from tests.reliability.chaos import MAY_BE_UPSTREAM_DOWN, Chaos, Player, add_chaos_faults
from tests.reliability.conftest import connect_tenants, make_emulator
from tests.reliability.support import CallLog, money_problems
from wallet.models import Hold

BEAT_TASKS = ["activations.sync_due", "activations.expire_overdue", "activations.reconcile", "activations.finalize_due"]
READY_TIMEOUT = 60


def worker_redis_url() -> str:
    """A Redis database for the worker's broker and cache: not the test process's (its cache is flushed
    between tests), and by default the last one (other suites and the benchmark use the low ones)."""
    explicit = os.environ.get("RELIABILITY_WORKER_REDIS_URL")
    if explicit:
        return explicit
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit(parts._replace(path="/15"))


def database_url() -> str:
    s = connection.settings_dict
    credentials = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    """One ``celery worker --pool solo`` process consuming this test's queue; stopped by its PID only."""

    def __init__(self, *, env: dict[str, str], queue: str, log: Path):
        self.log = log
        self._file = log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.reliability.celery_worker",
                "worker",
                "--pool",
                "solo",
                "-Q",
                queue,
                "-n",
                f"{queue}-{uuid.uuid4().hex[:6]}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],  # fmt: skip
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if " ready." in self.text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"worker {self.pid} did not start:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)
        self._file.close()


class Broker:
    """What this test's queue holds in Redis: waiting messages and those a worker took but did not ack."""

    def __init__(self, url: str, queue: str):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.queue = queue
        # Not the current app: the project's app (eager in tests) must stay the one later tests queue tasks on.
        self.producer = Celery("reliability-beat", broker=url, set_as_current=False)
        self.producer.conf.task_serializer = "json"

    def available(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:
            return False

    def send(self, name: str) -> None:
        self.producer.send_task(name, queue=self.queue)

    def unacked(self) -> dict[str, str]:
        """task id → task name of our messages delivered to a worker and not acknowledged."""
        held = {}
        for tag, raw in self.redis.hgetall("unacked").items():
            message, _exchange, routing_key = json.loads(raw)
            if routing_key == self.queue:
                held[message["headers"]["id"]] = (tag, message["headers"]["task"])
        return {task_id: name for task_id, (_tag, name) in held.items()}

    def waiting(self) -> int:
        return self.redis.llen(self.queue)

    def cleanup(self) -> None:
        for tag, raw in self.redis.hgetall("unacked").items():
            if json.loads(raw)[2] == self.queue:
                self.redis.hdel("unacked", tag)
                self.redis.zrem("unacked_index", tag)
        self.redis.delete(self.queue, f"_kombu.binding.{self.queue}")
        self.producer.close()


class UpstreamGate:
    """Holds the first call of one emulator method until the ``with`` block ends: the caller is stuck
    mid-request, the way a slow upstream leaves it."""

    def __init__(self, emulator, method: str):
        self.emulator, self.method = emulator, method
        self.original = getattr(emulator, method)
        self.entered, self.released = threading.Event(), threading.Event()

    def __enter__(self) -> UpstreamGate:
        def gated(*args, **kwargs):
            if not self.entered.is_set():
                self.entered.set()
                self.released.wait(10)
            return self.original(*args, **kwargs)

        setattr(self.emulator, self.method, gated)
        return self

    def __exit__(self, *exc) -> None:
        self.released.set()
        delattr(self.emulator, self.method)  # the class's method again


class Beat(threading.Thread):
    """Enqueues the periodic tasks in turn, as celery beat would on a fast schedule."""

    def __init__(self, broker: Broker, interval: float = 0.2):
        super().__init__(daemon=True)
        self.broker, self.interval = broker, interval
        self.stopped = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            if self.broker.waiting() < 8:  # a beat does not pile up work a dead worker cannot take
                self.broker.send(BEAT_TASKS[self.sent % len(BEAT_TASKS)])
                self.sent += 1
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join(10)


@pytest.mark.postgres
@pytest.mark.server
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_loses_no_sms_and_charges_nothing_twice(
    cast, tenant, other_tenant, webhook_router, settings, tmp_path
):
    queue = f"reliability-{uuid.uuid4().hex[:12]}"
    broker = Broker(worker_redis_url(), queue)
    if not broker.available():
        pytest.skip(f"Redis is not reachable at {worker_redis_url()}")
    # given: the emulator over HTTP (the worker is another process), timeouts short enough for a test
    emulator = make_emulator(webhook_router, latency_ms=10)
    server = RunningServer(emulator)
    connect_tenants([tenant, other_tenant], server.base_url)
    settings.PLATFONE_READ_TIMEOUT = 0.3
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reseller.test_settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": worker_redis_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PLATFONE_READ_TIMEOUT": "2",  # long enough to be killed while waiting for the gated upstream
        "LOG_LEVEL": "INFO",
    }
    log = CallLog()
    players = [Player(user=user, key=cast.keys[user]) for user in cast.users]
    chaos = Chaos(emulator=emulator, players=players, log=log, seed=5)
    webhook_router.drop, webhook_router.duplicate = 0.3, 0.2
    beat = Beat(broker)
    workers: list[Worker] = []
    try:
        held = run_with_a_crash(
            chaos=chaos, emulator=emulator, router=webhook_router, broker=broker, beat=beat, workers=workers,
            env=env, queue=queue, logs=tmp_path,
        )  # fmt: skip
        # when: time passes in this process too (the same tasks, run here)
        chaos.converge()
        chaos.close_every_number()
        chaos.converge()
    finally:
        server.stop()
    # then
    problems = log.server_errors(documented_503=MAY_BE_UPSTREAM_DOWN) + log.envelope_problems()
    problems += webhook_router.server_errors()
    problems += chaos.visibility_problems()
    problems += money_problems(users=cast.users, funded=cast.funded, emulator=emulator)
    assert problems == [], "\n".join(problems) + f"\n\nstatuses: {sorted(log.statuses().items())}"
    assert Hold.objects.filter(status=Hold.Status.ACTIVE).count() == 0
    assert len(chaos.delivered) >= 5 and beat.sent >= len(BEAT_TASKS)
    print(f"held at the kill: {held}; tasks sent: {beat.sent}; statuses: {sorted(log.statuses().items())}")


def run_with_a_crash(*, chaos, emulator, router, broker, beat, workers, env, queue, logs) -> dict[str, str]:
    """The chaos run with a worker that is killed mid-task and replaced; returns the task it held."""
    chaos_errors: list[BaseException] = []
    try:
        workers.append(Worker(env=env, queue=queue, log=logs / "worker-1.log"))
        workers[0].wait_ready()
        add_chaos_faults(emulator, rate=0.2, seed=chaos.seed, timeout_seconds=0.6)
        beat.start()
        # when: clients play while the worker runs the beat's tasks...
        players = threading.Thread(target=lambda: chaos_errors.extend(chaos.run_threads(steps_per_client=60)))
        players.start()
        # ...and, once it has done some of the work, the worker is killed in the middle of a task: while its
        # reconciliation waits for the upstream's history (which only the worker reads during the run)
        deadline = time.monotonic() + 30
        while workers[0].text().count(" succeeded in ") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        with UpstreamGate(emulator, "activation_history") as gate:
            assert gate.entered.wait(30), f"the worker never reconciled:\n{workers[0].text()[-3000:]}"
            held = broker.unacked()
            workers[0].kill()
        assert list(held.values()) == ["activations.reconcile"], held
        # and a new one is started once the broker may hand the held task on
        time.sleep(VISIBILITY_TIMEOUT_SECONDS + 0.5)
        workers.append(Worker(env=env, queue=queue, log=logs / "worker-2.log"))
        workers[1].wait_ready()
        players.join(300)
        assert not players.is_alive() and chaos_errors == []
        chaos.ensure_delivered(5)  # while faults and webhook loss are still on
        # when: the upstream recovers; the beat keeps running on the new worker
        emulator.clear_faults()
        router.drop = 0.0
        time.sleep(2)
        beat.stop()
        deadline = time.monotonic() + 60
        while (broker.waiting() or broker.unacked()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not broker.waiting() and not broker.unacked(), "the new worker did not drain the queue"
        # then: the held task was delivered again, to the new worker, and ran to the end
        survivor = workers[1].text()
        for task_id, name in held.items():
            assert f"{name}[{task_id}] succeeded" not in workers[0].text()
            assert f"{name}[{task_id}] succeeded" in survivor, f"{name}[{task_id}] was lost:\n{survivor[-3000:]}"
        return held
    finally:
        beat.stop()
        for worker in workers:
            worker.kill()
        broker.cleanup()
