"""Case 6 (hostile use): the catalog's per-IP limit cannot be bypassed with a forged X-Forwarded-For, and
requests without a valid key are limited per IP too.

The client IP comes from X-Forwarded-For only when the direct peer is one of ``TRUSTED_PROXIES`` (the
right-most hop that is not a trusted proxy); otherwise it is ``REMOTE_ADDR``.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import RequestFactory

pytestmark = pytest.mark.django_db

FROZEN = mock.patch("django_ratelimit.core.time.time", return_value=1_800_000_000.0)


def ip_of(settings, remote, forwarded=None, proxies=()):
    from core.api.clientip import client_ip

    settings.TRUSTED_PROXIES = list(proxies)
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("198.51.100.7", "203.0.113.1", (), "198.51.100.7"),  # no trusted proxy: the header is ignored
        ("198.51.100.7", "203.0.113.1", ("10.0.0.1",), "198.51.100.7"),  # the peer is not our proxy
        ("10.0.0.1", "203.0.113.1", ("10.0.0.1",), "203.0.113.1"),
        ("10.0.0.1", "6.6.6.6, 203.0.113.1", ("10.0.0.1",), "203.0.113.1"),  # the forged left part is ignored
        ("10.0.0.2", "6.6.6.6, 203.0.113.1, 10.0.0.9", ("10.0.0.0/24",), "203.0.113.1"),  # proxies in a chain
        ("10.0.0.1", "garbage", ("10.0.0.1",), "10.0.0.1"),
        ("10.0.0.1", "", ("10.0.0.1",), "10.0.0.1"),
        ("10.0.0.1", None, ("10.0.0.1",), "10.0.0.1"),
        ("::1", "2001:db8::5", ("::1",), "2001:db8::5"),
    ],
)
def test_case6_the_client_ip_believes_forwarded_for_only_from_trusted_proxies(
    settings, remote, forwarded, proxies, expected
):
    assert ip_of(settings, remote, forwarded, proxies) == expected


def test_case6_changing_x_forwarded_for_does_not_bypass_the_catalogs_limit(client, tenant, settings):
    settings.CATALOG_RATE_LIMIT_PER_MINUTE = 3
    # Behind a proxy, but this request comes straight from the client (its peer is not the proxy). The setting
    # that used to trust X-Forwarded-For from anyone (RATELIMIT_IP_META_KEY) is gone; set it as an operator
    # would have, to show it no longer matters.
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    with FROZEN:
        statuses = [
            client.get("/api/services.php", HTTP_HOST="acme.test", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
            for n in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


def test_case6_behind_a_trusted_proxy_each_client_has_its_own_limit(client, tenant, settings):
    settings.CATALOG_RATE_LIMIT_PER_MINUTE = 2
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    with FROZEN:
        first = [
            client.get("/api/services.php", HTTP_HOST="acme.test", HTTP_X_FORWARDED_FOR="203.0.113.1") for _ in range(3)
        ]
        other = client.get("/api/services.php", HTTP_HOST="acme.test", HTTP_X_FORWARDED_FOR="203.0.113.2")
    assert [r.status_code for r in first] == [200, 200, 429]
    assert other.status_code == 200


def test_case6_requests_without_a_valid_key_are_limited_per_ip(api, alice_key, settings):
    settings.UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE = 3
    with FROZEN:
        guesses = [api.get("/api/v1/wallet", HTTP_X_API_KEY=f"deadbeef.guess{n}").status_code for n in range(5)]
        anonymous = api.get("/api/v1/wallet").status_code
        elsewhere = api.get("/api/v1/wallet", REMOTE_ADDR="198.51.100.99", HTTP_X_API_KEY="deadbeef.x").status_code
        keyed = api.get("/api/v1/wallet", HTTP_X_API_KEY=alice_key).status_code
    assert guesses == [401, 401, 401, 429, 429]
    assert anonymous == 429
    assert elsewhere == 401  # another client is not affected
    assert keyed == 200  # and a valid key is counted per key, as before
