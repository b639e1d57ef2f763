"""The one outbound HTTP path: what an attempt records, redirects not followed, timeouts, the response cap."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from webhooks import transport


def post(url, *, read_timeout=2.0, body=b'{"id":"evt_1"}'):
    return transport.post(
        url,
        body,
        {"Content-Type": "application/json", "X-Event-Id": "evt_1"},
        connect_timeout=2,
        read_timeout=read_timeout,
        allow_loopback=True,
    )


def test_a_2xx_answer_is_a_success_with_latency_and_the_answer_recorded(receiver):
    result = post(receiver.url)
    assert result.succeeded and result.status_code == 200 and result.error == ""
    assert result.snippet == b'{"received": true}'
    assert 0 <= result.latency_ms < 2000
    [request] = receiver.requests
    assert request.body == b'{"id":"evt_1"}' and request.headers["X-Event-Id"] == "evt_1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_any_other_status_is_a_failure_with_its_status(receiver, status):
    receiver.script = [status]
    result = post(receiver.url)
    assert (result.succeeded, result.status_code) == (False, status)


def test_a_redirect_is_not_followed(receiver):
    receiver.script = [302]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    result = post(receiver.url)
    assert (result.succeeded, result.status_code) == (False, 302)
    assert len(receiver.requests) == 1


def test_at_most_1_kb_of_the_answer_is_read(receiver):
    receiver.answer_body = b"x" * 200_000
    result = post(receiver.url)
    assert result.succeeded and result.snippet == b"x" * 1024


def test_an_endpoint_that_answers_too_slowly_times_out(receiver):
    receiver.delay = 2.0
    result = post(receiver.url, read_timeout=0.3)
    assert result.status_code is None and result.error == "timed out waiting for the answer"


def test_a_closed_port_is_a_connection_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = post(f"http://127.0.0.1:{port}/hook")
    assert result.status_code is None and result.error.startswith("could not connect to 127.0.0.1")


def test_https_to_a_server_that_does_not_speak_tls_fails_cleanly(receiver):
    result = post(receiver.url.replace("http://", "https://"))
    assert result.status_code is None and result.error.startswith(("TLS error", "connection failed"))


def test_a_server_trickling_its_answer_cannot_hold_the_worker_past_the_deadline():
    # given: a server that sends its headers, then one byte every 0.2 s for ever (until we hang up)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def trickle():
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not stop.is_set():
                try:
                    connection.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        # when: each byte comes within the read timeout, but the whole answer never does
        started = time.monotonic()
        result = post(f"http://127.0.0.1:{server.getsockname()[1]}/hook", read_timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)
    # then: cut off at the deadline (twice the read timeout once connected), the status kept
    assert result.status_code == 200 and 0 < len(result.snippet) < 1024
    assert elapsed < 2 * 0.5 + 1
