"""Webhook endpoints on the storefront (issue 17's portal half): register with the secret shown once, change,
rotate, disable/enable, send a test event that reaches a real local receiver signed, read the delivery log,
redeliver, delete; the low-balance alert level; nobody reaches another user's endpoint."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.portal.conftest import ACME, host_client
from tests.webhooks.conftest import allow_loopback, production, receiver  # noqa: F401 - fixtures
from wallet.models import Account
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.signing import verify

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r"<code data-new-secret>([^<]+)</code>")


def register(client, url, events=("*",), description=""):
    return client.post(reverse("portal:webhooks"), {"url": url, "events": list(events), "description": description})


def test_an_endpoint_is_registered_with_its_secret_shown_once(alice_client, alice, receiver, allow_loopback):  # noqa: F811
    response = register(alice_client, receiver.url, ["activation.sms_received", "wallet.credited"], "my bot")
    html = response.content.decode()
    secret = SECRET_RE.search(html).group(1)
    assert "shown only once" in html
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    endpoint = Endpoint.objects.get(user=alice)
    assert endpoint.url == receiver.url and endpoint.secret == secret
    assert endpoint.events == ["activation.sms_received", "wallet.credited"] and endpoint.description == "my bot"
    # never again: neither the list nor the endpoint's page show it
    listing = alice_client.get(reverse("portal:webhooks")).content.decode()
    detail = alice_client.get(reverse("portal:webhook", args=[endpoint.pk])).content.decode()
    assert receiver.url in listing and secret not in listing and secret not in detail
    # the API keys page links here
    keys = alice_client.get(reverse("portal:api-keys")).content.decode()
    assert reverse("portal:webhooks") in keys


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.7/hook", "url:"),
        ("ftp://example.com/hook", "url:"),
        ("https://169.254.169.254/latest/meta-data", "url:"),
    ],
)
def test_a_refused_url_is_a_clear_error_and_registers_nothing(alice_client, alice, production, url, message):  # noqa: F811
    html = register(alice_client, url).content.decode()
    assert 'data-error-code="invalid_params"' in html and message in html
    assert not Endpoint.objects.filter(user=alice).exists()


def test_no_event_chosen_is_a_form_error(alice_client, alice, receiver, allow_loopback):  # noqa: F811
    response = alice_client.post(reverse("portal:webhooks"), {"url": receiver.url})
    assert "Choose at least one event." in response.content.decode()
    assert not Endpoint.objects.filter(user=alice).exists()


def test_an_unverified_user_cannot_register(alice, receiver, allow_loopback):  # noqa: F811
    client = host_client(ACME)
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    html = register(client, receiver.url).content.decode()
    assert 'data-error-code="email_unverified"' in html
    assert not Endpoint.objects.exists()


def test_change_rotate_disable_enable_and_delete(alice_client, alice, receiver, allow_loopback):  # noqa: F811
    first_secret = SECRET_RE.search(register(alice_client, receiver.url).content.decode()).group(1)
    endpoint = Endpoint.objects.get(user=alice)
    page = reverse("portal:webhook", args=[endpoint.pk])

    changed = alice_client.post(page, {"url": receiver.url, "events": ["wallet.low_balance"], "description": "low"})
    assert changed.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["wallet.low_balance"] and endpoint.description == "low"

    rotated = alice_client.post(reverse("portal:webhook-action", args=[endpoint.pk, "rotate"]))
    new_secret = SECRET_RE.search(rotated.content.decode()).group(1)
    assert new_secret != first_secret and "previous secret also signs" in rotated.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [new_secret, first_secret]

    alice_client.post(reverse("portal:webhook-action", args=[endpoint.pk, "disable"]))
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.disabled_reason == "user"
    assert "Disabled by you" in alice_client.get(page).content.decode()
    refused = alice_client.post(reverse("portal:webhook-action", args=[endpoint.pk, "test"]))
    assert refused.status_code == 409 and 'data-error-code="webhook_disabled"' in refused.content.decode()
    alice_client.post(reverse("portal:webhook-action", args=[endpoint.pk, "enable"]))
    endpoint.refresh_from_db()
    assert endpoint.is_enabled

    confirm = alice_client.get(reverse("portal:webhook-delete", args=[endpoint.pk]))
    assert b"Delete this endpoint?" in confirm.content and Endpoint.objects.filter(pk=endpoint.pk).exists()
    alice_client.post(reverse("portal:webhook-delete", args=[endpoint.pk]))
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_actions_are_post_only(alice_client, alice, receiver, allow_loopback):  # noqa: F811
    register(alice_client, receiver.url)
    endpoint = Endpoint.objects.get(user=alice)
    assert alice_client.get(reverse("portal:webhook-action", args=[endpoint.pk, "disable"])).status_code == 405
    assert alice_client.post(reverse("portal:webhook-action", args=[endpoint.pk, "explode"])).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.is_enabled


def test_a_test_event_reaches_the_receiver_signed_and_the_log_shows_it_and_redelivers(
    alice_client,
    alice,
    receiver,  # noqa: F811
    allow_loopback,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    secret = SECRET_RE.search(register(alice_client, receiver.url).content.decode()).group(1)
    endpoint = Endpoint.objects.get(user=alice)
    receiver.script = [503]
    receiver.answer_body = b"try later"
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("portal:webhook-action", args=[endpoint.pk, "test"]))
    request = receiver.wait_for(1, timeout=5)[0]
    assert verify(secret, request.headers["X-Signature"], request.body)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == Delivery.Status.PENDING  # the 503 is retried later

    log = alice_client.get(reverse("portal:webhook", args=[endpoint.pk])).content.decode()
    assert "webhook.test" in log and "HTTP 503" in log and "try later" in log and "retrying" in log

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("portal:webhook-redeliver", args=[endpoint.pk, delivery.pk]))
    receiver.wait_for(2, timeout=5)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert list(Attempt.objects.filter(delivery=delivery).values_list("manual", "status_code")) == [
        (False, 503),
        (True, 200),
    ]
    delivered = alice_client.get(reverse("portal:webhook", args=[endpoint.pk]), {"status": "succeeded"})
    assert "delivered" in delivered.content.decode() and "HTTP 200" in delivered.content.decode()
    none_failed = alice_client.get(reverse("portal:webhook", args=[endpoint.pk]), {"status": "failed"})
    assert "No deliveries yet" in none_failed.content.decode()


def test_another_users_endpoint_is_404_everywhere_and_untouched(
    alice_client,
    alice,
    bob,
    charlie_client,
    receiver,  # noqa: F811
    allow_loopback,  # noqa: F811
):
    from tests.portal.conftest import verified

    verified(bob)
    bob_client = host_client(ACME)
    bob_client.force_login(bob, backend="accounts.backends.TenantEmailBackend")
    register(alice_client, receiver.url)
    endpoint = Endpoint.objects.get(user=alice)
    delivery_free = [
        ("get", reverse("portal:webhook", args=[endpoint.pk])),
        ("post", reverse("portal:webhook", args=[endpoint.pk])),
        ("post", reverse("portal:webhook-action", args=[endpoint.pk, "disable"])),
        ("post", reverse("portal:webhook-action", args=[endpoint.pk, "rotate"])),
        ("get", reverse("portal:webhook-delete", args=[endpoint.pk])),
        ("post", reverse("portal:webhook-delete", args=[endpoint.pk])),
        ("post", reverse("portal:webhook-redeliver", args=[endpoint.pk, 1])),
    ]
    for client in (bob_client, charlie_client):
        for method, path in delivery_free:
            assert getattr(client, method)(path, {"url": "http://127.0.0.1/x", "events": ["*"]}).status_code == 404
        assert receiver.url not in client.get(reverse("portal:webhooks")).content.decode()
    fresh = Endpoint.objects.get(pk=endpoint.pk)
    assert fresh.is_enabled and fresh.secret == endpoint.secret and fresh.url == endpoint.url


def test_the_pages_need_a_login(acme_client, tenant):
    response = acme_client.get(reverse("portal:webhooks"))
    assert response.status_code == 302 and reverse("portal:login") in response["Location"]


def test_the_low_balance_alert_level_is_set_shown_and_removed(alice_client, alice):
    response = alice_client.post(reverse("portal:webhook-low-balance"), {"threshold": "5.00"})
    assert response.status_code == 302
    assert Account.objects.get(user=alice).low_balance_threshold_cents == 500
    assert "falls below $5.00" in alice_client.get(reverse("portal:webhooks")).content.decode()

    bad = alice_client.post(reverse("portal:webhook-low-balance"), {"threshold": "-1"})
    assert bad.status_code == 400
    assert Account.objects.get(user=alice).low_balance_threshold_cents == 500

    alice_client.post(reverse("portal:webhook-low-balance"), {"threshold": ""})
    assert Account.objects.get(user=alice).low_balance_threshold_cents is None
    assert "Off: no wallet.low_balance event" in alice_client.get(reverse("portal:webhooks")).content.decode()


def test_the_api_page_explains_webhooks_with_the_tested_verification_snippet(acme_client, tenant):
    html = acme_client.get(reverse("portal:api-docs")).content.decode()
    assert 'id="webhooks"' in html and "X-Signature" in html
    assert "def verify_webhook(secret: str, signature_header: str, raw_body: bytes" in html
