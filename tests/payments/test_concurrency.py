"""Real threads against PostgreSQL: concurrent duplicate notifications, and notifications racing on one payment,
credit exactly once; concurrent top-ups cannot slip past the daily cap. (SQLite serializes writers: PostgreSQL
only.)"""

from __future__ import annotations

import pytest

from payments import services
from payments.errors import TopupDailyCap
from payments.models import Payment, PaymentEvent
from payments.providers import Incoming
from tests.payments.conftest import balance, demo_event, demo_headers, stripe_event, stripe_session, stripe_signature
from tests.wallet.checks import assert_ledger_is_consistent
from tests.wallet.test_concurrency import outcomes, run_together
from wallet.models import JournalEntry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12


def start(user, amount_cents=1500) -> Payment:
    return services.payment_start(
        user=user,
        amount_cents=amount_cents,
        return_url=lambda p: "http://acme.test/",
        notify_url=lambda provider: "http://acme.test/notify/",
    )


def receive(tenant, provider, body, headers):
    return services.notification_receive(
        tenant=tenant, provider_name=provider, incoming=Incoming(body=body, headers=headers)
    )


def test_the_same_notification_delivered_many_times_at_once_credits_once(tenant, alice, acme_settings):
    # given
    payment = start(alice)
    body = demo_event(payment.provider_txn_id, 1500)
    headers = demo_headers(body, acme_settings.demo_secret)

    # when the provider's retries all arrive together
    results = run_together([lambda: receive(tenant, "demo", body, headers) for _ in range(THREADS)])

    # then
    assert outcomes(results) == {"ok": THREADS}
    assert sorted(results).count("credited 1500 cents") == 1
    assert balance(alice) == 1500
    assert PaymentEvent.objects.count() == 1
    assert JournalEntry.objects.filter(kind="deposit").count() == 1
    assert_ledger_is_consistent()


def test_different_events_paying_one_checkout_at_once_credit_once(tenant, alice, acme_settings, settings, fake_api):
    # given a Stripe session (completed and async-succeeded events, under different ids)
    session_id = "cs_test_race_0001"
    server = fake_api(
        lambda path, body, headers: (
            200,
            {"id": session_id, "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/x"},
        )
    )
    settings.PAYMENTS_STRIPE_API_BASE = server.base
    acme_settings.provider = "stripe"
    acme_settings.save()
    start(alice, 2000)
    bodies = [
        stripe_event(
            "checkout.session.completed" if n % 2 else "checkout.session.async_payment_succeeded",
            stripe_session(session_id, 2000),
            event_id=f"evt_race_{n}",
        )
        for n in range(THREADS)
    ]

    # when
    results = run_together(
        [
            lambda body=body: receive(tenant, "stripe", body, {"Stripe-Signature": stripe_signature(body)})
            for body in bodies
        ]
    )

    # then
    assert outcomes(results) == {"ok": THREADS}
    assert [r for r in results if str(r).startswith("credited")] == ["credited 2000 cents"]
    assert balance(alice) == 2000 and PaymentEvent.objects.count() == THREADS
    assert_ledger_is_consistent()


def test_concurrent_top_ups_cannot_exceed_the_daily_cap(alice, acme_settings):
    # given a cap of $200 and $50 top-ups, 12 at once
    results = run_together([lambda: start(alice, 5000) for _ in range(THREADS)])
    # then exactly four fit
    assert outcomes(results) == {"ok": 4, TopupDailyCap.__name__: THREADS - 4}
    assert Payment.objects.filter(user=alice).count() == 4
