"""Fixtures of the top-up tests: each tenant's payment settings, notifications signed with each provider's
documented scheme, and local fake servers for the providers' APIs (no network anywhere)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from payments.models import PaymentSettings
from payments.providers.cryptomus import callback_encoding
from payments.providers.demo import sign as demo_sign
from tests.factories import UserFactory
from wallet.models import Account

STRIPE_KEY, STRIPE_WHSEC = "sk_test_acme_0123456789", "whsec_acme_test_secret_0123456789"
CRYPTOMUS_MERCHANT, CRYPTOMUS_KEY = "c26b80a8-0000-4a1e-9b7e-000000000001", "cryptomus-payment-key-acme-0123456789"


def balance(user) -> int:
    account = Account.objects.filter(user=user, type="user_wallet").first()
    return account.balance_cents if account else 0


@pytest.fixture
def acme_settings(tenant):
    return PaymentSettings.objects.create(
        tenant=tenant,
        provider="demo",
        manual_enabled=True,
        min_amount_cents=500,
        max_amount_cents=50_000,
        daily_cap_cents=20_000,
        stripe_secret_key=STRIPE_KEY,
        stripe_webhook_secret=STRIPE_WHSEC,
        cryptomus_merchant_id=CRYPTOMUS_MERCHANT,
        cryptomus_api_key=CRYPTOMUS_KEY,
    )


@pytest.fixture
def globex_settings(other_tenant):
    return PaymentSettings.objects.create(tenant=other_tenant, provider="demo", manual_enabled=True)


@pytest.fixture
def notify():
    """POST a raw notification to a tenant's endpoint, as a provider does (no session, no CSRF token)."""
    client = Client(enforce_csrf_checks=True)

    def post(tenant_slug: str, provider: str, body: bytes, **headers: str):
        return client.post(
            f"/payments/{tenant_slug}/{provider}/notify/", data=body, content_type="application/json", headers=headers
        )

    return post


# --- the providers' signing schemes, written from their documentation (not with our code) -------------------


def demo_event(txn: str, amount_cents: int, *, event_id: str = "evt_demo_1", type: str = "payment.succeeded") -> bytes:
    return json.dumps(
        {"id": event_id, "type": type, "data": {"checkout_id": txn, "amount_cents": amount_cents, "currency": "usd"}}
    ).encode()


def demo_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    return {"X-Demo-Signature": demo_sign(body, secret, timestamp)}


def stripe_signature(payload: bytes, secret: str = STRIPE_WHSEC, timestamp: int | None = None) -> str:
    """Stripe's documented scheme: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy") -> bytes:
    """An event in the shape Stripe sends (API version 2024-06-20 payload shape)."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    ).encode()


def stripe_session(
    session_id: str, amount: int, *, payment_status: str = "paid", pi: str = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
):
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": "ignored-by-us",
        "currency": "usd",
        "customer_details": {"email": "alice@example.com"},
        "livemode": False,
        "metadata": {},
        "mode": "payment",
        "payment_intent": pi,
        "payment_status": payment_status,
        "status": "complete" if payment_status == "paid" else "open",
        "url": None,
    }


def cryptomus_callback(fields: dict[str, Any], api_key: str = CRYPTOMUS_KEY) -> bytes:
    """A callback as Cryptomus posts it: the fields plus ``sign`` = md5(base64(json_encode(fields)) . api_key)."""
    encoded = callback_encoding(fields)
    sign = hashlib.md5(base64.b64encode(encoded) + api_key.encode()).hexdigest()
    return json.dumps({**fields, "sign": sign}, ensure_ascii=False).replace("/", "\\/").encode()


# --- fake provider APIs ----------------------------------------------------------------------------------------


class FakeApi:
    """A local HTTP server answering like a provider's API; records every request it got."""

    def __init__(self, answer):
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, payload = answer(self.path, body, dict(self.headers))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api():
    servers: list[FakeApi] = []

    def start(answer) -> FakeApi:
        server = FakeApi(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def dave(tenant):
    """A second user of acme, for the per-user limits."""
    return UserFactory(tenant=tenant, email="dave@example.com")


@pytest.fixture
def acme_staff(tenant):
    from accounts.models import User
    from tests.factories import TEST_PASSWORD

    return User.objects.create_user(email="ops@acme.test", password=TEST_PASSWORD, tenant=tenant, is_staff=True)


@pytest.fixture
def globex_staff(other_tenant):
    from accounts.models import User
    from tests.factories import TEST_PASSWORD

    return User.objects.create_user(email="ops@globex.test", password=TEST_PASSWORD, tenant=other_tenant, is_staff=True)


@pytest.fixture
def staff_client(client, acme_staff):
    client.force_login(acme_staff)
    return client
