"""The public API's answers, pinned byte for byte.

One scripted session walks every documented endpoint and error (catalog, auth, wallet, price, the whole
activation flow, routing styles, plumbing errors, rate limit, upstream webhooks) against the in-process
emulator, and compares each answer (status, the headers clients read, the exact body) with
``api_contract.json``. Volatile values (our ids, the supplier's ids, timestamps, ETags) are replaced by
placeholders numbered by first appearance, so everything else must match to the byte.

A refactor must leave this file unchanged; a deliberate change of an answer is made by re-recording
(``UPDATE_API_CONTRACT=1 make test PYTEST_ARGS=tests/contract``) and shows up in review as a diff of the
JSON file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Tenant
from catalog import services as catalog_services
from catalog import upstream
from platfone.emulator import Emulator, emulator_session
from tests.factories import TenantDomainFactory, TenantFactory, UserFactory, issue_api_key
from wallet import services as wallet

pytestmark = pytest.mark.django_db

CONTRACT_FILE = Path(__file__).with_name("api_contract.json")
HEADERS_KEPT = (
    "Content-Type",
    "Allow",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "Cache-Control",
    "X-Price-Stale",
    "WWW-Authenticate",
    "Vary",
)
EMULATOR_BASE = "http://platfone.test/api/v1"


class Normalizer:
    """Replaces volatile values with stable placeholders, numbered in order of first appearance.

    Only values in known places are replaced (``"id":N``, ``"activation_id":"…"``, ``"phone":"…"``, ids in
    messages after ``#``), so a number elsewhere in a body is compared as it is.
    """

    TIMESTAMP = re.compile(r'"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"')
    UNIX = re.compile(r'("(?:expire_at|cancelable_at)":)\d{9,11}')
    FIELDS = {
        "id": re.compile(r'("id":|#)(\d+)'),
        "upstream": re.compile(r'("activation_id":")([^"]+)(")'),
        "phone": re.compile(r'("phone":")([^"]+)(")'),
    }

    def __init__(self) -> None:
        self.names: dict[tuple[str, str], str] = {}

    def _name(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self.names:
            count = sum(1 for known_kind, _ in self.names if known_kind == kind)
            self.names[key] = f"<{kind}{count + 1}>"
        return self.names[key]

    def text(self, text: str) -> str:
        text = self.TIMESTAMP.sub('"<time>"', text)
        text = self.UNIX.sub(r"\1<unix>", text)
        for kind, pattern in self.FIELDS.items():
            text = pattern.sub(
                lambda m, kind=kind: m.group(1) + self._name(kind, m.group(2)) + "".join(m.groups()[2:]), text
            )
        return text


@pytest.fixture
def world(monkeypatch):
    # One rate-limit window for the whole transcript: a minute boundary mid-test would reset the counters.
    monkeypatch.setattr("django_ratelimit.core.time.time", lambda: 1_800_000_000.0)
    emu = Emulator(api_keys={"acme-upstream": 1_000_000}, rate_limits=False, success_rate_block=False, seed=7)
    monkeypatch.setattr(upstream, "session_factory", lambda tenant: emulator_session(emu))
    tenant = TenantFactory(slug="acme", name="Acme Numbers")
    TenantDomainFactory(tenant=tenant, host="acme.test")
    Tenant.objects.filter(pk=tenant.pk).update(
        platfone_base_url=EMULATOR_BASE, platfone_api_key="acme-upstream", platfone_webhook_secret="whsec-contract"
    )
    tenant.refresh_from_db()
    catalog_services.catalog_sync(tenant=tenant)
    alice = UserFactory(tenant=tenant, email="alice@example.com")
    bob = UserFactory(tenant=tenant, email="bob@example.com")
    poor = UserFactory(tenant=tenant, email="poor@example.com")
    wallet.deposit(user=alice, amount_cents=5000, idempotency_key="contract:alice", actor="test")
    wallet.deposit(user=poor, amount_cents=3, idempotency_key="contract:poor", actor="test")
    cache.clear()
    yield {
        "emulator": emu,
        "tenant": tenant,
        "alice": issue_api_key(alice).raw_key,
        "bob": issue_api_key(bob).raw_key,
        "poor": issue_api_key(poor).raw_key,
        "alice_user": alice,
    }
    emu.close()


def test_every_documented_answer_is_unchanged(world):
    api = APIClient()
    norm = Normalizer()
    emu = world["emulator"]
    alice, bob, poor = world["alice"], world["bob"], world["poor"]
    transcript: list[dict] = []

    def norm_path(path: str) -> str:
        return re.sub(r"activations/(\d+)", lambda m: "activations/" + norm._name("id", m.group(1)), path)

    def call(label, method, path, *, key=None, bearer=None, body=None, fmt="json", host="acme.test", headers=None):
        extra = {"HTTP_HOST": host, **(headers or {})}
        if key:
            extra["HTTP_X_API_KEY"] = key
        if bearer:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
        if body is not None and fmt == "raw":
            response = getattr(api, method)(path, data=body, content_type="application/json", **extra)
        elif body is not None:
            response = getattr(api, method)(path, body, format=fmt, **extra)
        else:
            response = getattr(api, method)(path, **extra)
        raw = response.content.decode()
        data = json.loads(raw) if raw.startswith("{") else None
        transcript.append(
            {
                "label": label,
                "request": f"{method.upper()} {norm_path(path)}",
                "status": response.status_code,
                "headers": {name: response[name] for name in HEADERS_KEPT if response.has_header(name)},
                "body": raw,
            }
        )
        return data

    # --- catalog (no key) -----------------------------------------------------------------------------
    call("services", "get", "/api/services.php")
    call("services grouped", "get", "/api/services.php?grouped=1")
    call("services by type", "get", "/api/v1/services?type=messaging")
    call("services bad type", "get", "/api/services.php?type=nope")
    call("countries", "get", "/api/countries.php")
    call("countries unknown host", "get", "/api/countries.php", host="nowhere.test")

    # --- authentication -------------------------------------------------------------------------------
    call("no key", "get", "/api/v1/index.php?path=wallet")
    call("bad key", "get", "/api/v1/index.php?path=wallet", key="deadbeef.not-a-key")
    call("malformed key", "get", "/api/v1/wallet", key="garbage")
    call("bearer", "get", "/api/v1/index.php/wallet", bearer=alice)

    # --- wallet ---------------------------------------------------------------------------------------
    call("wallet", "get", "/api/v1/index.php?path=wallet", key=alice)
    call("wallet with transactions", "get", "/api/v1/index.php?path=wallet&transactions=1", key=alice)
    call("wallet POST", "post", "/api/v1/index.php?path=wallet", key=alice, body={})
    call("wallet OPTIONS", "options", "/api/v1/wallet", key=alice)

    # --- routing --------------------------------------------------------------------------------------
    call("index.php without path", "get", "/api/v1/index.php", key=alice)
    call("unknown path", "get", "/api/v1/index.php?path=nope", key=alice)
    call("unknown clean path", "get", "/api/v1/nope", key=alice)
    call("unknown api path", "get", "/api/whatever", key=alice)

    # --- price ----------------------------------------------------------------------------------------
    call("price missing params", "get", "/api/v1/index.php?path=price", key=alice)
    call("price bad service", "get", "/api/v1/index.php?path=price&service_id=b@d&country_id=us", key=alice)
    call("price bad country", "get", "/api/v1/index.php?path=price&service_id=whatsapp&country_id=u", key=alice)
    call("price unknown pair", "get", "/api/v1/index.php?path=price&service_id=nosuch&country_id=us", key=alice)
    call("price", "get", "/api/v1/index.php?path=price&service_id=whatsapp&country_id=us", key=alice)
    call("price cached", "get", "/api/v1/price?service_id=whatsapp&country_id=us", key=alice)
    emu.set_price("telegram", "uk", min=100, max=200, suggested=150, count=0)
    call("price no stock", "get", "/api/v1/price?service_id=telegram&country_id=uk", key=alice)
    emu.add_fault(kind="error", endpoint="get_price", probability=1)
    call("price upstream down", "get", "/api/v1/price?service_id=google&country_id=us", key=alice)
    emu.clear_faults()

    # --- activations ----------------------------------------------------------------------------------
    call("list empty", "get", "/api/v1/index.php?path=activations", key=alice)
    call("list bad limit", "get", "/api/v1/index.php?path=activations&limit=51", key=alice)
    call("create missing params", "post", "/api/v1/index.php?path=activations", key=alice, body={})
    call(
        "create bad max_price",
        "post",
        "/api/v1/activations",
        key=alice,
        body={"service_id": "whatsapp", "country_id": "us", "max_price": 0},
    )
    call(
        "create unknown pair",
        "post",
        "/api/v1/activations",
        key=alice,
        body={"service_id": "nosuch", "country_id": "us"},
    )
    call(
        "create no stock",
        "post",
        "/api/v1/activations",
        key=alice,
        body={"service_id": "telegram", "country_id": "uk"},
    )
    call(
        "create max_price too low",
        "post",
        "/api/v1/activations",
        key=alice,
        body={"service_id": "whatsapp", "country_id": "us", "max_price": 1},
    )
    call(
        "create insufficient balance",
        "post",
        "/api/v1/activations",
        key=poor,
        body={"service_id": "whatsapp", "country_id": "us"},
    )
    call(
        "create bad idempotency key",
        "post",
        "/api/v1/activations",
        key=alice,
        body={"service_id": "whatsapp", "country_id": "us"},
        headers={"HTTP_IDEMPOTENCY_KEY": "bad key with spaces"},
    )
    created = call(
        "create",
        "post",
        "/api/v1/index.php?path=activations",
        key=alice,
        body={"service_id": "whatsapp", "country_id": "us"},
        headers={"HTTP_IDEMPOTENCY_KEY": "order-1"},
    )
    call(
        "create replayed",
        "post",
        "/api/v1/index.php?path=activations",
        key=alice,
        body={"service_id": "whatsapp", "country_id": "us"},
        headers={"HTTP_IDEMPOTENCY_KEY": "order-1"},
    )
    call(
        "create key reused",
        "post",
        "/api/v1/activations",
        key=alice,
        body={"service_id": "telegram", "country_id": "us"},
        headers={"HTTP_IDEMPOTENCY_KEY": "order-1"},
    )
    first = created["data"]
    aid, upstream_id = first["id"], first["activation_id"]
    call("list", "get", "/api/v1/index.php?path=activations&page=1&limit=10", key=alice)
    call("get", "get", f"/api/v1/index.php?path=activations/{aid}", key=alice)
    call("poll waiting", "get", f"/api/v1/index.php?path=activations/{aid}/poll", key=alice)
    call("get of another user", "get", f"/api/v1/activations/{aid}", key=bob)
    call("get non-numeric id", "get", "/api/v1/activations/abc", key=alice)
    call("get unknown id", "get", "/api/v1/activations/999999", key=alice)
    call("retry before sms", "post", f"/api/v1/activations/{aid}/retry", key=alice)
    call("finalize before sms", "post", f"/api/v1/activations/{aid}/finalize", key=alice)
    call("report reasons", "get", f"/api/v1/activations/{aid}/report/reasons", key=alice)
    call("report bad reason", "post", f"/api/v1/activations/{aid}/report", key=alice, body={"reason_id": 0})

    emu.deliver_sms(upstream_id, code="123456", text="Your code is 123456")
    from activations.models import Activation

    Activation.objects.filter(pk=aid).update(next_sync_at=None, last_synced_at=None)
    call("poll after sms", "get", f"/api/v1/index.php/activations/{aid}/poll", key=alice)
    call("get after sms", "get", f"/api/v1/activations/{aid}", key=alice)
    call("wallet after charge", "get", "/api/v1/wallet?transactions=1", key=alice)
    call("retry", "post", f"/api/v1/activations/{aid}/retry", key=alice)
    emu.deliver_sms(upstream_id, code="654321", text="Your code is 654321")
    Activation.objects.filter(pk=aid).update(next_sync_at=None, last_synced_at=None)
    call("poll after retry sms", "get", f"/api/v1/activations/{aid}/poll", key=alice)
    call("cancel after sms", "post", f"/api/v1/index.php?path=activations/{aid}/cancel", key=alice)
    call("wallet after refund", "get", "/api/v1/wallet?transactions=1", key=alice)
    call("cancel again", "post", f"/api/v1/activations/{aid}/cancel", key=alice)
    call("cancel GET", "get", f"/api/v1/activations/{aid}/cancel", key=alice)

    second = call(
        "create second", "post", "/api/v1/activations", key=alice, body={"service_id": "telegram", "country_id": "us"}
    )["data"]
    call("cancel before sms", "post", f"/api/v1/activations/{second['id']}/cancel", key=alice)
    call("get canceled", "get", f"/api/v1/activations/{second['id']}", key=alice)

    emu.configure(cancel_delay=600)
    third = call(
        "create third", "post", "/api/v1/activations", key=alice, body={"service_id": "facebook", "country_id": "us"}
    )["data"]
    call("cancel too early", "post", f"/api/v1/activations/{third['id']}/cancel", key=alice)
    emu.deliver_sms(third["activation_id"], code="111222")
    Activation.objects.filter(pk=third["id"]).update(next_sync_at=None, last_synced_at=None)
    call("poll third", "get", f"/api/v1/activations/{third['id']}/poll", key=alice)
    call("finalize", "post", f"/api/v1/activations/{third['id']}/finalize", key=alice)
    call("finalize again", "post", f"/api/v1/activations/{third['id']}/finalize", key=alice)
    call("cancel finalized", "post", f"/api/v1/activations/{third['id']}/cancel", key=alice)
    call(
        "report",
        "post",
        f"/api/v1/activations/{third['id']}/report",
        key=alice,
        body={"reason_id": 2, "message": "wrong code"},
    )
    call("list after all", "get", "/api/v1/activations", key=alice)

    emu.add_fault(kind="timeout", endpoint="create_activation", when="after")
    call(
        "create upstream timeout",
        "post",
        "/api/v1/activations",
        key=alice,
        body={"service_id": "viber", "country_id": "us"},
    )
    emu.clear_faults()

    # --- plumbing -------------------------------------------------------------------------------------
    call("deep json", "post", "/api/v1/activations", key=alice, body="[" * 5000 + "]" * 5000, fmt="raw")
    call("not json", "post", "/api/v1/activations", key=alice, body="{not json", fmt="raw")
    call(
        "body too large",
        "post",
        "/api/v1/activations",
        key=alice,
        body=json.dumps({"service_id": "x" * 70000}),
        fmt="raw",
    )

    # --- upstream webhooks ----------------------------------------------------------------------------
    call("webhook GET", "get", "/webhooks/platfone/acme/")
    call("webhook unknown tenant", "post", "/webhooks/platfone/nobody/", body={}, fmt="json")
    call("webhook bad signature", "post", "/webhooks/platfone/acme/", body={"id": "x"}, fmt="json")

    # --- rate limit (last: it spends the key's minute) ------------------------------------------------
    Tenant.objects.filter(pk=world["tenant"].pk).update(rate_limit_per_minute=2)
    account_services_touch = getattr(account_services, "tenant_changed", None)
    if account_services_touch:  # invalidates cached tenant settings where the code caches them
        account_services_touch(tenant=world["tenant"])
    cache.clear()
    for attempt in range(3):
        call(f"rate limit {attempt}", "get", "/api/v1/wallet", key=bob)

    normalized = [{**entry, "body": norm.text(entry["body"])} for entry in transcript]
    for entry in normalized:
        entry["headers"] = {name: norm.text(value) for name, value in entry["headers"].items()}
    if os.environ.get("UPDATE_API_CONTRACT"):
        CONTRACT_FILE.write_text(json.dumps(normalized, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(CONTRACT_FILE.read_text())
    assert [entry["label"] for entry in normalized] == [entry["label"] for entry in expected]
    for got, want in zip(normalized, expected, strict=True):
        assert got == want, f"{got['label']}: the answer changed"
