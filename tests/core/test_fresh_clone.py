"""A fresh clone runs the Celery worker with its embedded beat on the embedded defaults (no DATABASE_URL, no
REDIS_URL): the folders of the file-system broker are created at start-up, not by ``make run``.

Each test starts its own worker in a new, empty ``VAR_DIR`` and stops exactly that process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")

pytestmark = pytest.mark.server


def fresh_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(VAR_DIR=str(var_dir), DEBUG="1", SECRET_KEY="", CELERY_TASK_ALWAYS_EAGER="")
    return env


def start_worker(var_dir: Path, log: Path) -> subprocess.Popen:
    argv = [str(CELERY), "-A", "reseller", "worker", "-B", "--loglevel", "INFO", "--concurrency", "1"]
    argv += ["--schedule", str(var_dir / "beat-schedule")]
    return subprocess.Popen(argv, cwd=ROOT, env=fresh_env(var_dir), stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_with_beat_runs_a_scheduled_task_on_a_fresh_clone(tmp_path):
    # given an empty VAR_DIR: no broker folders, no database (migrate is the documented first step)
    var_dir = tmp_path / "var"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=fresh_env(var_dir), check=True, timeout=180
    )
    for folder in var_dir.glob("broker*"):  # migrate (a Django process) made them: the worker must make its own
        shutil.rmtree(folder)
    log = tmp_path / "celery.log"
    # when
    worker = start_worker(var_dir, log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "succeeded" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            time.sleep(0.5)
        output = log.read_text()
    finally:
        stop(worker)
    # then beat sent a task through the file-system broker and the worker ran it, without an error
    assert "celery@" in output and " ready." in output, output
    assert "Task activations.sync_due" in output and "succeeded" in output, output
    assert "Traceback" not in output and "FileNotFoundError" not in output, output
    assert (var_dir / "broker").is_dir()


def test_a_worker_on_an_unmigrated_database_stops_and_says_what_to_do(tmp_path):
    var_dir = tmp_path / "var"
    log = tmp_path / "celery.log"
    worker = start_worker(var_dir, log)
    try:
        returncode = worker.wait(timeout=60)
    finally:
        stop(worker)
    assert returncode != 0
    assert "run `python manage.py migrate` first" in log.read_text()
