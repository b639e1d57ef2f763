"""Fixtures of the operator console tests: tenant staff, a platform superuser, and a small world in which each
tenant owns a row of every table the console shows (so a scoping test can look for the other tenant's rows).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Tenant, User
from activations.models import Activation, ActivationEvent, ReconciliationIssue, UpstreamAccountStatus, WebhookEvent
from catalog import upstream
from catalog.models import CatalogSync, Country, MarkupRule, Service
from compat.models import CodeMapping
from console.models import Alert
from console.selectors import start_of_day
from core.audit import audit_record
from payments.models import Payment, PaymentEvent, PaymentReversal, PaymentSettings
from platfone.emulator import Emulator, emulator_session
from tests.factories import TEST_PASSWORD, issue_api_key
from wallet import services as wallet

EMULATOR_BASE = "http://platfone.test/api/v1"


@pytest.fixture
def acme_staff(tenant):
    return User.objects.create_user(email="ops@acme.test", password=TEST_PASSWORD, tenant=tenant, is_staff=True)


@pytest.fixture
def globex_staff(other_tenant):
    return User.objects.create_user(email="ops@globex.test", password=TEST_PASSWORD, tenant=other_tenant, is_staff=True)


@pytest.fixture
def staff_client(client, acme_staff):
    client.force_login(acme_staff)
    return client


@pytest.fixture
def super_client(operator):
    """A platform superuser's browser (its own client: a test may use it beside ``staff_client``)."""
    from django.test import Client

    superuser = Client()
    superuser.force_login(operator)
    return superuser


@pytest.fixture
def emulator(monkeypatch, tenant, other_tenant):
    """An in-process supplier: acme and globex each have their own account on it, with webhook secrets."""
    emu = Emulator(
        api_keys={"acme-upstream": 500_000, "globex-upstream": 700_000}, rate_limits=False, success_rate_block=False
    )
    monkeypatch.setattr(upstream, "session_factory", lambda tenant: emulator_session(emu))
    for t, key in ((tenant, "acme-upstream"), (other_tenant, "globex-upstream")):
        t.platfone_base_url, t.platfone_api_key, t.platfone_webhook_secret = EMULATOR_BASE, key, f"whsec-{t.slug}"
        t.platfone_account_digest = Tenant.upstream_account_digest(EMULATOR_BASE, key)
        t.save()
    yield emu
    emu.close()


def make_activation(user, **fields) -> Activation:
    defaults = {
        "tenant_id": user.tenant_id,
        "user": user,
        "service_id": "whatsapp",
        "country_id": "us",
        "sell_price_cents": 100,
        "max_price_cents": 100,
        "price_cents": 60,
        "order_status": Activation.OrderStatus.PLACED,
        "activation_status": "active",
        "billing_status": Activation.BillingStatus.HELD,
    }
    defaults.update(fields)
    created_at = defaults.pop("created_at", None)
    activation = Activation.objects.create(**defaults)
    if created_at is not None:
        Activation.objects.filter(pk=activation.pk).update(created_at=created_at)
        activation.refresh_from_db()
    return activation


def populate(tenant, user, *, tag: str) -> dict:
    """One row of every console table for ``tenant``; every searchable text carries ``tag``."""
    now = timezone.now()
    key = issue_api_key(user, f"key-{tag}").api_key
    wallet.deposit(user=user, amount_cents=5000, idempotency_key=f"seed:{tag}:deposit", actor="test")
    wallet.place_hold(user=user, amount_cents=100, idempotency_key=f"seed:{tag}:hold", reference=f"activation:{tag}")
    activation = make_activation(
        user, upstream_id=f"up-{tag}", phone=f"+1555{tag}", service_id=f"svc{tag}", country_id="us"
    )
    ActivationEvent.objects.create(activation=activation, actor="test", kind="state", detail={"tag": tag})
    issue = ReconciliationIssue.objects.create(
        tenant=tenant, kind=ReconciliationIssue.Kind.LATE_SMS, upstream_id=f"up-{tag}", activation=activation
    )
    webhook = WebhookEvent.objects.create(
        tenant=tenant, event_id=f"evt-{tag}", type="activation.updated", upstream_id=f"up-{tag}"
    )
    status = UpstreamAccountStatus.objects.create(tenant=tenant, last_webhook_at=now - timedelta(minutes=1))
    service = Service.objects.create(tenant=tenant, service_id=f"svc{tag}", name=f"Service {tag}")
    country = Country.objects.create(tenant=tenant, country_id=f"c{tag}", name=f"Country {tag}")
    sync = CatalogSync.objects.create(tenant=tenant, kind=CatalogSync.Kind.SERVICES, etag=f"etag-{tag}")
    rule = MarkupRule.objects.create(tenant=tenant, service_id=f"svc{tag}", note=f"rule {tag}")
    alert = Alert.objects.create(tenant=tenant, kind=Alert.Kind.RECONCILIATION_ISSUES, message=f"alert {tag}")
    audit = audit_record(actor=user, action=f"test.{tag}", target=user, reason=f"reason {tag}")
    mapping = CodeMapping.objects.create(tenant=tenant, kind="service", code=f"x{tag}", our_id=f"svc{tag}", note=tag)
    payment_settings = PaymentSettings.objects.create(tenant=tenant, provider="demo", manual_enabled=True)
    payment = Payment.objects.create(
        tenant=tenant, user=user, provider="manual", status="pending", amount_cents=1000, reference=f"ref-{tag}"
    )
    payment_event = PaymentEvent.objects.create(
        tenant=tenant, provider="demo", event_id=f"evt-{tag}", kind="payment:paid", outcome=f"unmatched {tag}"
    )
    reversal = PaymentReversal.objects.create(
        tenant=tenant, payment=payment, kind="refund", provider_ref=f"re-{tag}", amount_cents=100
    )
    return {
        "tenant": tenant,
        "user": user,
        "api_key": key,
        "activation": activation,
        "issue": issue,
        "webhook": webhook,
        "status": status,
        "service": service,
        "country": country,
        "sync": sync,
        "rule": rule,
        "alert": alert,
        "audit": audit,
        "mapping": mapping,
        "payment_settings": payment_settings,
        "payment": payment,
        "payment_event": payment_event,
        "payment_reversal": reversal,
        "domain": tenant.domains.first(),
    }


SMS = {"sms_status": "smsReceived", "sms_code": "123456"}


@pytest.fixture
def seeded(tenant, other_tenant, alice, bob, charlie):
    """acme's orders (today, 3 and 20 days ago, and one older than 30 days) and one of globex's."""
    now = timezone.now()
    today = start_of_day(timezone.localdate(now)) + timedelta(minutes=1)
    three, twenty, forty = today - timedelta(days=3), today - timedelta(days=20), today - timedelta(days=40)
    billed = {"billing_status": "billed", "upstream_billing_status": "billed", "sms_received_at": now, **SMS}

    def whatsapp_us(user, when, **fields):
        return make_activation(
            user,
            created_at=when,
            service_id="whatsapp",
            country_id="us",
            sell_price_cents=100,
            price_cents=60,
            **fields,
        )

    def telegram_gb(user, when, **fields):
        return make_activation(
            user,
            created_at=when,
            service_id="telegram",
            country_id="gb",
            sell_price_cents=250,
            price_cents=150,
            **fields,
        )

    # today
    whatsapp_us(alice, today, activation_status="finalized", **billed)  # sold
    whatsapp_us(alice, today, activation_status="finalized", **{**billed, "billing_status": "refunded"})  # user cancel
    telegram_gb(bob, today, activation_status="canceled", billing_status="released")
    whatsapp_us(alice, today)  # still waiting for its SMS
    # 3 days ago
    telegram_gb(bob, three, activation_status="finalized", **billed)
    telegram_gb(bob, three, activation_status="expired", billing_status="released")
    whatsapp_us(
        alice,
        three,
        activation_status="finalized",
        report_status="approved",
        **{**billed, "billing_status": "refunded", "upstream_billing_status": "refunded"},
    )  # approved report
    # 20 days ago
    make_activation(
        alice,
        created_at=twenty,
        service_id="whatsapp",
        country_id="de",
        sell_price_cents=300,
        price_cents=200,
        activation_status="finalized",
        **billed,
    )
    # 40 days ago: out of every period
    make_activation(
        alice, created_at=forty, sell_price_cents=999, price_cents=1, activation_status="finalized", **billed
    )
    # globex
    make_activation(
        charlie, created_at=today, sell_price_cents=5000, price_cents=10, activation_status="finalized", **billed
    )
    return tenant


@pytest.fixture
def world(tenant, other_tenant, alice, charlie):
    """acme's rows (tag "acme") and globex's (tag "globex")."""
    return {"acme": populate(tenant, alice, tag="acme"), "globex": populate(other_tenant, charlie, tag="globex")}
