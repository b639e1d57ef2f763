"""The emulator over real HTTP: a server thread, `python -m platfone.emulator`, and the management command."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests

from platfone.client import PlatfoneClient
from platfone.emulator import Emulator, RunningServer
from platfone.errors import UpstreamUnavailable
from platfone.webhooks import parse_event, verify

pytestmark = pytest.mark.server

KEY = "server-test-key"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def lifecycle(base_url: str, control_url: str) -> None:
    """create → deliver SMS → get (smsReceived, billed) → retry → deliver → finalize, over HTTP."""
    client = PlatfoneClient(base_url=base_url, api_key=KEY, budget=False, read_timeout=5)

    activation = client.create_activation(service_id="telegram", country_id="uk")
    sms = requests.post(f"{control_url}/activations/{activation.activation_id}/sms", json={"code": "1234"}, timeout=5)
    assert sms.status_code == 200
    received = client.get_activation(activation.activation_id)
    assert (received.sms_status, received.billing_status, received.sms_code) == ("smsReceived", "billed", "1234")
    client.retry_activation(activation.activation_id)
    requests.post(f"{control_url}/activations/{activation.activation_id}/sms", json={"code": "5678"}, timeout=5)
    client.finalize_activation(activation.activation_id)
    final = client.get_activation(activation.activation_id)
    assert (final.activation_status, final.sms_status, final.sms_code) == ("finalized", "retryReceived", "5678")
    assert client.balance().total == 5000 - activation.price


def test_a_server_thread_serves_the_whole_lifecycle():
    with RunningServer(Emulator(api_keys={KEY: 5000})) as server:
        lifecycle(server.base_url, f"{server.url}/_emulator")


def test_a_timeout_fault_over_http_stalls_past_the_read_timeout():
    with RunningServer(Emulator(api_keys={KEY: 5000})) as server:
        requests.post(f"{server.url}/_emulator/faults", json={"kind": "timeout", "seconds": 0.3}, timeout=5)
        client = PlatfoneClient(base_url=server.base_url, api_key=KEY, budget=False, read_timeout=0.1, max_retries=0)

        with pytest.raises(UpstreamUnavailable, match="timed out"):
            client.balance()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_webhooks_are_posted_signed_and_retried_in_the_background():
    # given a receiver that fails the first delivery
    received, done = [], threading.Event()

    def receiver(environ, start_response):
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        received.append((environ["HTTP_X_WEBHOOK_ID"], environ["HTTP_X_TIMESTAMP"], environ["HTTP_X_SIGNATURE"], body))
        status = "500 Internal Server Error" if len(received) == 1 else "200 OK"
        start_response(status, [("Content-Type", "application/json")])
        if len(received) > 1:
            done.set()
        return [b'{"result": "success"}']

    hook_server = make_server("127.0.0.1", 0, receiver, handler_class=_QuietHandler)
    hook_thread = threading.Thread(target=hook_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    hook_thread.start()
    url = f"http://127.0.0.1:{hook_server.server_address[1]}/hook"
    emulator = Emulator(api_keys={KEY: 5000}, webhook_url=url, webhook_secret="s3cret", webhook_delays=(0.05,))
    try:
        with RunningServer(emulator) as server:
            client = PlatfoneClient(base_url=server.base_url, api_key=KEY, budget=False)
            activation = client.create_activation(service_id="telegram", country_id="uk")

            # when
            emulator.deliver_sms(activation.activation_id, code="42")

            # then
            assert done.wait(5)
    finally:
        hook_server.shutdown()
        hook_server.server_close()
        hook_thread.join(5)
    assert len(received) == 2 and received[0][0] == received[1][0]
    for webhook_id, timestamp, signature, body in received:
        assert verify("s3cret", webhook_id, timestamp, signature, body)
        assert parse_event(body).activation.sms_code == "42"


def start(command: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(  # noqa: S603 - fixed argv of our own interpreter
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else ""
    match = re.search(r"(http://127\.0\.0\.1:\d+)/api/v1", line)
    if not match:
        process.kill()
        _, stderr = process.communicate(timeout=5)
        pytest.fail(f"emulator did not start: {line!r} {stderr[-2000:]}")
    return process, match.group(1)


def stop(process: subprocess.Popen, signum: int) -> int:
    try:
        process.send_signal(signum)
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        process.stdout.close()
        process.stderr.close()


def test_the_emulator_process_serves_the_lifecycle_and_stops_on_sigterm():
    # given
    process, url = start(
        [sys.executable, "-m", "platfone.emulator", "--port", "0", "--api-key", KEY, "--balance", "5000"]
    )

    # when
    try:
        lifecycle(f"{url}/api/v1", f"{url}/_emulator")
    finally:
        returncode = stop(process, signal.SIGTERM)

    # then
    assert returncode == 0


def test_the_management_command_starts_and_stops_on_sigint():
    from django.conf import settings

    if not settings.configured:
        pytest.skip("needs the project's Django settings (run with pytest-django)")
    command = [sys.executable, "manage.py", "platfone_emulator", "--port", "0", "--api-key", KEY, "--balance", "5000"]
    process, url = start(command, {"DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "")})

    try:
        health = requests.get(f"{url}/_emulator/health", timeout=5)
    finally:
        returncode = stop(process, signal.SIGINT)

    assert health.json()["ok"] is True
    assert returncode == 0
