"""What a customer waits for travels on its own Celery queue.

Webhook fan-out and delivery and the code by e-mail go to the ``notify`` queue, which the Procfile's ``notify``
worker serves alone: a slow periodic task (a catalog or activation sync, the alert check) on the main worker can
never hold a code back. A worker started without ``-Q`` (``make run``, a one-process installation) serves both
queues, so nothing is stranded where no ``notify`` worker runs.

The last test starts real workers on the file-system broker of a fresh ``VAR_DIR`` and stops exactly them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from reseller.celery import app
from tests.core.test_fresh_clone import fresh_env, stop

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
NOTIFY_TASKS = ("activations.apply_webhook_event", "webhooks.fan_out", "webhooks.deliver", "portal.code_email")


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_the_tasks_a_customer_waits_for_go_to_the_notify_queue():
    app.loader.import_default_modules()
    registered = set(app.tasks)
    for name in NOTIFY_TASKS:
        assert name in registered, f"{name} is routed but no task has that name"
        assert queue_of(name) == "notify"


def test_every_other_task_stays_on_the_default_queue():
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    others = [name for name in ours if name not in NOTIFY_TASKS]
    assert {
        "activations.sync_due",
        "activations.sweep_webhook_events",
        "console.check_alerts",
        "webhooks.sweep",
    } <= set(others)
    assert {name: queue_of(name) for name in others} == dict.fromkeys(others, "celery")


def test_a_web_process_knows_the_tasks_its_requests_hand_over_by_name(tmp_path):
    # A gunicorn worker never runs Celery's autodiscovery: the supplier webhook's hand-over to
    # activations.apply_webhook_event must find the task registered by the app's own start-up.
    probe = "import django; django.setup(); from celery import current_app; print(sorted(current_app.tasks))"
    env = {**fresh_env(tmp_path), "DJANGO_SETTINGS_MODULE": "reseller.settings"}
    result = subprocess.run(  # noqa: S603 - fixed argv of our own interpreter
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    registered = result.stdout.strip().splitlines()[-1]
    assert "'activations.apply_webhook_event'" in registered and "'webhooks.deliver'" in registered


def test_a_worker_without_q_serves_both_queues():
    assert set(app.amqp.queues) == {"celery", "notify"}


def wait_for_line(log: Path, text: str, process: subprocess.Popen, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        output = log.read_text(errors="replace")
        if text in output:
            return output
        assert process.poll() is None, output
        time.sleep(0.25)
    raise AssertionError(f"{text!r} not in the log:\n{log.read_text(errors='replace')}")


@pytest.mark.server
def test_the_notify_worker_takes_only_the_notify_queue_and_a_plain_worker_takes_the_rest(tmp_path):
    var_dir = tmp_path / "var"
    env = fresh_env(var_dir)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=180)
    notify_log, plain_log = tmp_path / "notify.log", tmp_path / "plain.log"
    base = [str(CELERY), "-A", "reseller", "worker", "--pool", "solo", "--loglevel", "INFO"]
    notify = subprocess.Popen(  # noqa: S603 - fixed argv
        [*base, "-Q", "notify", "-n", "notify@%h"], cwd=ROOT, env=env, stdout=notify_log.open("w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    plain = None
    try:
        wait_for_line(notify_log, " ready.", notify)
        # when a customer-facing task and a periodic task are sent the way the code sends them
        send = (
            "import django; django.setup()\n"
            "from webhooks.tasks import fan_out\nfrom activations.tasks import sync_due\n"
            "fan_out.delay('00000000-0000-4000-8000-000000000000'); sync_due.delay()\n"
        )
        subprocess.run(
            [sys.executable, "-c", send], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "reseller.settings"},
            check=True, timeout=60,
        )  # fmt: skip
        # then the notify worker runs the fan-out and never sees the sync
        output = wait_for_line(notify_log, "Task webhooks.fan_out[", notify)
        wait_for_line(notify_log, "succeeded", notify)
        time.sleep(1.5)
        output = notify_log.read_text(errors="replace")
        assert "Task activations.sync_due[" not in output, output
        # and a worker started without -Q picks the sync up from the default queue
        plain = subprocess.Popen(  # noqa: S603 - fixed argv
            [*base, "-n", "plain@%h"], cwd=ROOT, env=env, stdout=plain_log.open("w"), stderr=subprocess.STDOUT
        )
        plain_output = wait_for_line(plain_log, "Task activations.sync_due[", plain)
        assert "Task webhooks.fan_out[" not in plain_output, plain_output
        assert "Traceback" not in output + plain_output
    finally:
        stop(notify)
        if plain is not None:
            stop(plain)
