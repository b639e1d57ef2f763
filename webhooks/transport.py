"""The one way a customer webhook leaves our network: an HTTP POST that cannot be turned against us.

- The host name is resolved here, every address is checked (``targets.check_addresses``), and the connection
  is made to a checked address itself: nothing resolves the name a second time, so DNS rebinding cannot swap
  in an internal address between the check and the connection. TLS still verifies the certificate against
  the host name (SNI + hostname check).
- Redirects are never followed (a 3xx is a failed attempt); no proxy settings from the environment apply.
- Connect and read timeouts, a deadline for the whole exchange (twice the read timeout), and at most
  ``MAX_RESPONSE_BYTES`` of the answer are read (the delivery log keeps them); the rest is never downloaded.

Failures are returned as a ``Result`` with an ``error``, never raised: every attempt ends in the log.
Tests patch ``resolve`` to make a name resolve where they need it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from webhooks import targets

MAX_RESPONSE_BYTES = 1024
_ssl_context: ssl.SSLContext | None = None


@dataclass(frozen=True)
class Result:
    status_code: int | None
    latency_ms: int
    snippet: bytes = b""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def resolve_target(target: targets.Target, *, allow_loopback: bool) -> list[targets.IPAddress]:
    """The checked addresses of ``target``; ``TargetRefused`` when it must not be contacted."""
    literal = targets.ip_literal(target.host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise targets.TargetRefused(f"{target.host} does not resolve ({exc.__class__.__name__}).") from exc
    return targets.check_addresses(target, addresses, allow_loopback=allow_loopback)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
    allow_loopback: bool,
) -> Result:
    """POST ``body`` to ``url`` under the rules above. ``latency_ms`` runs from the start of the connection to
    the end of the (capped) response."""
    started = time.monotonic()
    try:
        target = targets.parse_url(url)
        addresses = resolve_target(target, allow_loopback=allow_loopback)
    except targets.TargetRefused as exc:
        return Result(status_code=None, latency_ms=_ms(started), error=f"refused: {exc}"[:200])
    last_error = "could not connect"
    for address in addresses:
        try:
            sock = socket.create_connection((str(address), target.port), timeout=connect_timeout)
        except OSError as exc:
            last_error = f"could not connect to {address}: {_reason(exc)}"
            continue
        try:
            # Once connected, the whole exchange gets at most twice the read timeout.
            deadline = time.monotonic() + 2 * read_timeout
            return _exchange(sock, target, body, headers, started=started, deadline=deadline, timeout=read_timeout)
        finally:
            sock.close()
    return Result(status_code=None, latency_ms=_ms(started), error=last_error[:200])


def _exchange(
    sock: socket.socket,
    target: targets.Target,
    body: bytes,
    headers: dict[str, str],
    *,
    started: float,
    deadline: float,
    timeout: float,
) -> Result:
    try:
        sock.settimeout(timeout)
        if target.scheme == "https":
            sock = _tls_context().wrap_socket(sock, server_hostname=target.host)
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
        connection.sock = sock  # connected to the checked address: http.client never resolves the name
        connection.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        request_headers = {
            **headers,
            "Host": target.host_header,
            "Content-Length": str(len(body)),
            "Accept-Encoding": "identity",  # a compressed answer could expand far beyond the cap
            "Connection": "close",
        }
        for name, value in request_headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        snippet = _read_capped(response, sock, deadline)
        return Result(status_code=response.status, latency_ms=_ms(started), snippet=snippet)
    except ssl.SSLError as exc:
        return Result(status_code=None, latency_ms=_ms(started), error=f"TLS error: {_reason(exc)}"[:200])
    except TimeoutError:
        return Result(status_code=None, latency_ms=_ms(started), error="timed out waiting for the answer")
    except (OSError, http.client.HTTPException) as exc:
        return Result(status_code=None, latency_ms=_ms(started), error=f"connection failed: {_reason(exc)}"[:200])


def _read_capped(response: http.client.HTTPResponse, sock: socket.socket, deadline: float) -> bytes:
    """At most ``MAX_RESPONSE_BYTES`` of the body, within the overall deadline (a trickling server cannot hold a
    worker); what is left unread is dropped with the connection."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_RESPONSE_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = response.read1(MAX_RESPONSE_BYTES - size)
        except (TimeoutError, OSError, http.client.HTTPException):
            break  # the status is what counts; a body cut short is still logged as far as it came
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _tls_context() -> ssl.SSLContext:
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()  # certificate and host name verified
    return _ssl_context


def _reason(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0] if text else exc.__class__.__name__


def _ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))
