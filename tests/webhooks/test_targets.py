"""SSRF: in production mode a webhook never reaches our own network — whatever form the address takes, checked
when the endpoint is registered and again, after DNS resolution, when each delivery connects."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from webhooks import services, transport
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch):
    """``dns["name"] = [addresses]``: what the resolver answers (anything else does not resolve)."""
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    monkeypatch.setattr(transport, "resolve", resolve)
    return table


def refused(user, url):
    with pytest.raises(InvalidInput) as error:
        services.endpoint_create(user=user, url=url)
    assert Endpoint.objects.count() == 0
    return error.value.message


PRIVATE_FORMS = {
    "decimal": "https://2130706433/hook",
    "hexadecimal": "https://0x7f000001/hook",
    "octal": "https://0177.0.0.1/hook",
    "short dotted": "https://127.1/hook",
    "IPv6-mapped IPv4 loopback": "https://[::ffff:127.0.0.1]/hook",
    "IPv6-mapped, hex form": "https://[::ffff:7f00:1]/hook",
    "IPv6-mapped metadata": "https://[::ffff:169.254.169.254]/latest/meta-data/",
    "IPv4-compatible IPv6": "https://[::127.0.0.1]/hook",
    "6to4 of loopback": "https://[2002:7f00:1::]/hook",
    "NAT64 of a private address": "https://[64:ff9b::a00:1]/hook",
    "Teredo": "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
    "loopback": "https://127.0.0.1/hook",
    "loopback elsewhere in 127/8": "https://127.45.0.3/hook",
    "IPv6 loopback": "https://[::1]/hook",
    "unspecified": "https://0.0.0.0/hook",
    "RFC 1918 10/8": "https://10.1.2.3/hook",
    "RFC 1918 172.16/12": "https://172.20.0.1/hook",
    "RFC 1918 192.168/16": "https://192.168.1.10/hook",
    "cloud metadata (link-local)": "https://169.254.169.254/latest/meta-data/",
    "Alibaba metadata (shared address space)": "https://100.100.100.200/latest/meta-data/",
    "IPv6 unique local (AWS metadata)": "https://[fd00:ec2::254]/hook",
    "IPv6 link-local": "https://[fe80::1]/hook",
    "multicast": "https://224.0.0.251/hook",
    "broadcast": "https://255.255.255.255/hook",
}


@pytest.mark.parametrize("form", PRIVATE_FORMS)
def test_registration_refuses_every_private_address_form(production, dns, alice, form):
    message = refused(alice, PRIVATE_FORMS[form])
    assert message.startswith("url: ")


def test_registration_refuses_a_name_that_resolves_to_loopback(production, dns, alice):
    dns["innocent.example.com"] = ["127.0.0.1"]
    assert "loopback" in refused(alice, "https://innocent.example.com/hook")


def test_registration_refuses_a_name_with_one_private_address_among_public_ones(production, dns, alice):
    dns["mixed.example.com"] = [PUBLIC, "10.0.0.7"]
    assert "private" in refused(alice, "https://mixed.example.com/hook")


def test_registration_refuses_a_name_that_does_not_resolve(production, dns, alice):
    assert "does not resolve" in refused(alice, "https://nowhere.example.com/hook")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"http://{PUBLIC}/hook", "https://"),
        ("ftp://hooks.example.com/hook", "https://"),
        ("https://user:pass@hooks.example.com/hook", "user name or password"),
        ("https:///hook", "no host"),
        ("https://hooks.example.com:99999/hook", "not valid"),
        ("https://hooks.example.com:0/hook", "port"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/" + "x" * 2000, "longer"),
        ("", "Give the URL"),
    ],
)
def test_registration_refuses_malformed_urls(production, dns, alice, url, why):
    dns["hooks.example.com"] = [PUBLIC]
    assert why in refused(alice, url)


def test_a_public_https_url_is_accepted(production, dns, alice):
    dns["hooks.example.com"] = [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    issued = services.endpoint_create(user=alice, url="https://hooks.example.com/reseller?token=abc")
    assert issued.endpoint.url == "https://hooks.example.com/reseller?token=abc"
    assert services.endpoint_create(user=alice, url="https://1.1.1.1:8443/x").endpoint.url == "https://1.1.1.1:8443/x"


def test_the_development_setting_admits_loopback_over_http_and_nothing_else(allow_loopback, dns, alice):
    dns["localhost"] = ["127.0.0.1", "::1"]
    dns["hooks.example.com"] = [PUBLIC]
    assert services.endpoint_create(user=alice, url="http://127.0.0.1:9000/hook").endpoint.pk
    assert services.endpoint_create(user=alice, url="http://localhost:9000/hook").endpoint.pk
    Endpoint.objects.all().delete()
    assert "private" in refused(alice, "http://10.0.0.5/hook")
    assert "link-local" in refused(alice, "https://169.254.169.254/")
    assert "https://" in refused(alice, "http://hooks.example.com/hook")


# --- at connect time -------------------------------------------------------------------------------------


def post(url):
    return transport.post(url, b"{}", {}, connect_timeout=2, read_timeout=2, allow_loopback=False)


@pytest.mark.parametrize("form", ["decimal", "IPv6-mapped IPv4 loopback", "loopback", "cloud metadata (link-local)"])
def test_a_delivery_refuses_private_forms_before_connecting(production, dns, receiver, form):
    port = receiver.url.split(":")[2].split("/")[0]
    url = PRIVATE_FORMS[form].replace("/hook", f":{port}/hook") if "[" not in PRIVATE_FORMS[form] else None
    result = post(url or f"https://[::ffff:127.0.0.1]:{port}/hook")
    assert result.status_code is None and result.error.startswith("refused:")
    assert receiver.requests == []


def test_a_name_that_resolves_to_loopback_at_delivery_time_is_refused(production, dns, alice, receiver):
    """DNS rebinding: public when registered, our own loopback (where something listens) when delivering."""
    # given
    dns["rebind.example.com"] = [PUBLIC]
    issued = services.endpoint_create(user=alice, url="https://rebind.example.com/hook")
    port = receiver.url.split(":")[2].split("/")[0]
    dns["rebind.example.com"] = ["127.0.0.1"]
    # when
    result = post(f"https://rebind.example.com:{port}/hook")
    # then
    assert result.status_code is None and "loopback" in result.error
    assert receiver.requests == []
    assert issued.endpoint.url == "https://rebind.example.com/hook"


def test_the_connection_goes_to_the_checked_address_and_never_resolves_the_name_again(allow_loopback, dns, receiver):
    # given: a name only our patched resolver knows, pointing at the local receiver
    port = receiver.url.split(":")[2].split("/")[0]
    dns["hooks.customer.test"] = ["127.0.0.1"]
    # when
    result = transport.post(
        f"http://hooks.customer.test:{port}/in?x=1",
        b'{"a":1}',
        {"Content-Type": "application/json"},
        connect_timeout=2,
        read_timeout=2,
        allow_loopback=True,
    )
    # then: the name reached the receiver in the Host header, the bytes as sent
    assert result.status_code == 200, result.error
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.customer.test:{port}"
    assert (request.path, request.body) == ("/in?x=1", b'{"a":1}')
