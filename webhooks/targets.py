"""Where a customer webhook may be sent: the URL rules and the address rules that keep it off our own network.

In production only public addresses are reachable: never loopback, private (RFC 1918, IPv6 unique local),
link-local (where cloud metadata lives: 169.254.169.254, fe80::/10), shared/carrier-grade NAT (100.64.0.0/10,
Alibaba's metadata), multicast, reserved or unspecified addresses. IPv6 forms that carry an IPv4 address
(mapped ``::ffff:127.0.0.1``, IPv4-compatible, 6to4, Teredo, NAT64) are judged by that address. IPv4 literals
must be written as four decimal numbers: the other forms the resolver accepts (``2130706433``, ``0x7f.1``,
``0177.0.0.1``, ``127.1``) exist only to slip past filters and are refused.

The rules are applied twice: when an endpoint is registered (a clear error for the user), and on every
delivery to the addresses the name resolves to at that moment, which are the ones connected to
(``webhooks.transport``), so a name that later resolves elsewhere (DNS rebinding) is caught too.

``allow_loopback`` (``settings.CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK``: tests and ``make run``) also admits loopback
addresses, and plain ``http`` to them only.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class TargetRefused(Exception):
    """The URL or the address it resolves to may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case; an IPv6 literal without brackets
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> Target:
    """The parts of a webhook URL, or ``TargetRefused``. Checks the form only (no DNS)."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("Give the URL of your endpoint.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if not url.isascii() or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("The URL contains spaces or characters that are not allowed; percent-encode them.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("The URL is not valid (check the host and the port).") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TargetRefused("The URL must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The URL must not contain a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("The URL has no host name.")
    if port == 0:
        raise TargetRefused("The URL's port must be between 1 and 65535.")
    literal = ip_literal(host)
    if literal is None and _is_other_ipv4_form(host):
        raise TargetRefused("Write an IPv4 address as four decimal numbers (like 203.0.113.7).")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path)


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_other_ipv4_form(host: str) -> bool:
    """True for numbers the C resolver reads as an IPv4 address though they are not dotted-quad decimals."""
    try:
        socket.inet_aton(host)
    except (OSError, ValueError):
        return False
    return True


def address_problem(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why webhooks may not be sent to ``address`` (None: they may)."""
    embedded = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if embedded:
        for inner in embedded:
            problem = address_problem(inner, allow_loopback=allow_loopback)
            if problem:
                return problem
        return None
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "an address that is not public"
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def check_addresses(target: Target, addresses: list[str], *, allow_loopback: bool) -> list[IPAddress]:
    """The addresses to connect to, in order, or ``TargetRefused``.

    Every address the name resolves to must be allowed (one bad record refuses the URL: a connection could
    otherwise fall back to it). Plain http only when every address is an allowed loopback address.
    """
    if not addresses:
        raise TargetRefused(f"{target.host} does not resolve to any address.")
    parsed: list[IPAddress] = []
    for text in addresses:
        address = ip_literal(text.split("%", 1)[0])
        if address is None:
            raise TargetRefused(f"{target.host} resolves to something that is not an IP address.")
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem:
            if ip_literal(target.host) is not None:
                raise TargetRefused(f"{target.host} is {problem}; only public addresses are allowed.")
            raise TargetRefused(f"{target.host} resolves to {problem} ({address}); only public addresses are allowed.")
        parsed.append(address)
    if target.scheme == "http" and not (allow_loopback and all(address.is_loopback for address in parsed)):
        raise TargetRefused("The URL must start with https:// (plain http is for local development only).")
    return parsed
