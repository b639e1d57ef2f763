"""The client's IP address: ``REMOTE_ADDR``, unless the direct peer is one of our ``TRUSTED_PROXIES``.

Behind trusted proxies the client is the right-most hop of ``X-Forwarded-For`` that is not itself a trusted
proxy: everything left of it was written by the client and may be forged, so it is never believed (a client
changing X-Forwarded-For on every request must not get a fresh per-IP rate limit each time).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(_address(remote), networks):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote  # garbage where an address belongs: believe only the proxy we know
        if not _trusted(address, networks):
            return str(address)
    return remote  # every hop is one of our proxies
