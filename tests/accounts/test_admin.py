"""Operator screens for tenants, users and API keys: they render, keys show once, secrets never."""

import pytest
from django.urls import reverse

from accounts.models import ApiKey, Tenant
from accounts.selectors import api_key_authenticate

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


def test_the_account_screens_render(admin_client, tenant, alice):
    tenant.platfone_api_key = "pk-live-SECRET-0123456789"
    tenant.save()
    for url in [
        reverse("admin:accounts_tenant_changelist"),
        reverse("admin:accounts_tenant_change", args=[tenant.pk]),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[alice.pk]),
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:accounts_apikey_add"),
        reverse("admin:activations_activation_changelist"),
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert b"pk-live-SECRET-0123456789" not in response.content, url


def test_saving_a_tenant_with_empty_secret_fields_keeps_the_stored_secrets(admin_client, tenant):
    # given
    tenant.platfone_api_key, tenant.platfone_webhook_secret = "pk-old", "ws-old"
    tenant.save()
    url = reverse("admin:accounts_tenant_change", args=[tenant.pk])
    data = {
        "slug": tenant.slug, "name": "Renamed", "status": "active", "support_email": "", "rate_limit_per_minute": 180,
        "max_active_activations_per_user": 5, "finalize_after_sms_seconds": 600, "min_user_success_rate_percent": 20,
        "refund_on_cancel_after_sms": "on", "max_refunds_after_sms_per_day": 3, "upstream_fair_share_percent": 25,
        "success_guard_percent": 12, "platfone_base_url": "http://127.0.0.1:8001/api/v1",
        "platfone_api_key": "", "platfone_webhook_secret": "",
        "alert_supplier_balance_below_cents": 1000, "alert_webhook_silence_minutes": 30,
        "domains-TOTAL_FORMS": 0, "domains-INITIAL_FORMS": 0, "domains-MIN_NUM_FORMS": 0, "domains-MAX_NUM_FORMS": 1000,
    }
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302, response.content[:2000]
    tenant.refresh_from_db()
    assert tenant.name == "Renamed"
    assert (tenant.platfone_api_key, tenant.platfone_webhook_secret) == ("pk-old", "ws-old")


def test_adding_an_api_key_shows_it_once_and_stores_only_its_hash(admin_client, alice):
    # when
    response = admin_client.post(reverse("admin:accounts_apikey_add"), {"user": alice.pk, "name": "ops-issued"},
                                 follow=True)
    # then
    messages = [str(m) for m in response.context["messages"]]
    shown = [m.split(": ", 1)[1] for m in messages if "shown only now" in m]
    assert len(shown) == 1
    key = api_key_authenticate(raw_key=shown[0])
    assert key is not None and key.user == alice and key.name == "ops-issued"
    assert ApiKey.objects.count() == 1
    page = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk]))
    assert shown[0].encode() not in page.content


def test_the_revoke_action_revokes_for_good(admin_client, alice):
    from accounts.services import api_key_create

    issued = api_key_create(user=alice)
    admin_client.post(reverse("admin:accounts_apikey_changelist"),
                      {"action": "revoke", "_selected_action": [issued.api_key.pk]})
    assert api_key_authenticate(raw_key=issued.raw_key) is None
    assert Tenant.objects.count() == 1


def test_operators_see_each_users_success_rate(admin_client, alice):
    from activations.models import Activation

    for n in range(4):
        Activation.objects.create(
            tenant=alice.tenant, user=alice, service_id="x", country_id="us", sell_price_cents=10, max_price_cents=10,
            order_status="placed", activation_status="expired" if n else "finalized",
            sms_received_at=None if n else alice.date_joined,
        )
    response = admin_client.get(reverse("admin:accounts_user_changelist"))
    assert b"25 % of 4" in response.content
