"""Help (the tenant's FAQ and contact text, the rules with its settings) and the guard screens (rate-limited
with when to retry, suspended, e-mail not verified yet)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Tenant, User
from tests.factories import TEST_PASSWORD
from tests.portal.conftest import ACME, host_client

pytestmark = pytest.mark.django_db


def test_the_faq_and_contact_are_the_tenants_text(tenant, other_tenant, acme_client, globex_client):
    Tenant.objects.filter(pk=tenant.pk).update(
        help_faq="How fast is the SMS?\nUsually under a minute.\n\nCan I pay by card?\nYes, <b>soon</b>.",
        help_contact="Telegram: @acme_support\nMon-Fri 9-18",
        support_email="help@acme.test",
    )
    page = acme_client.get(reverse("portal:help")).content.decode()
    assert "<dt>How fast is the SMS?</dt><dd>Usually under a minute.</dd>" in page
    assert "&lt;b&gt;soon&lt;/b&gt;" in page  # plain text, escaped
    contact = acme_client.get(reverse("portal:help-contact")).content.decode()
    assert "@acme_support" in contact and "help@acme.test" in contact
    other = globex_client.get(reverse("portal:help")).content.decode()
    assert "How fast is the SMS?" not in other


def test_the_rules_are_worded_with_the_tenants_settings(tenant, acme_client):
    Tenant.objects.filter(pk=tenant.pk).update(
        refund_on_cancel_after_sms=True, max_refunds_after_sms_per_day=4, max_active_activations_per_user=7
    )
    page = acme_client.get(reverse("portal:help")).content.decode()
    assert 'data-rule="refund-after-sms"' in page and "At most 4 such refunds" in page
    assert "7 active numbers at a time" in page
    Tenant.objects.filter(pk=tenant.pk).update(refund_on_cancel_after_sms=False, max_active_activations_per_user=1)
    page = acme_client.get(reverse("portal:help")).content.decode()
    assert 'data-rule="no-refund-after-sms"' in page and "1 active number at a time" in page


def test_too_many_writes_show_when_to_retry(synced, alice_client, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(rate_limit_per_minute=2)
    url = reverse("portal:favourite", args=["service", "telegram"])
    assert alice_client.post(url).status_code == 302
    assert alice_client.post(url).status_code == 302
    response = alice_client.post(url)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    html = response.content.decode()
    assert 'data-guard="rate-limited"' in html and "data-retry-at" in html
    assert f"wait {response['Retry-After']} second" in html


def test_a_suspended_user_logging_in_is_told_so(alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    client = host_client(ACME)
    response = client.post(reverse("portal:login"), {"username": alice.email, "password": TEST_PASSWORD})
    assert response.status_code == 403 and 'data-guard="suspended"' in response.content.decode()
    wrong = client.post(reverse("portal:login"), {"username": alice.email, "password": "not-it"})
    assert 'data-guard="suspended"' not in wrong.content.decode()  # only who knows the password learns it


def test_an_unverified_user_opening_a_buy_page_gets_the_guard_screen(synced, alice):
    client = host_client(ACME)
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    response = client.get(reverse("portal:buy", args=["whatsapp", "us"]))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-guard="unverified"' in html and reverse("portal:verify-email-resend") in html
