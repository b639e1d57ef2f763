"""The wallet page (running balance, pages, the tenant's top-up text), API keys (secret shown once, usable
with the JSON API, revocable) and the storefront's API documentation."""

import re

import pytest
from django.urls import reverse

from accounts.models import ApiKey, Tenant
from tests.portal.conftest import ACME, host_client

pytestmark = pytest.mark.django_db


def test_the_wallet_shows_transactions_with_their_running_balance_page_by_page(alice_client, alice, fund, tenant):
    for _ in range(25):
        fund(alice, 100)
    Tenant.objects.filter(pk=tenant.pk).update(topup_instructions="Pay by IBAN XX00 1234.")
    first = alice_client.get(reverse("portal:wallet")).content.decode()
    assert first.count("+$1.00") == 20
    assert "$25.00" in first  # the newest balance after
    assert "Pay by IBAN XX00 1234." in first
    assert 'rel="next"' in first
    second = alice_client.get(reverse("portal:wallet"), {"page": 2}).content.decode()
    assert second.count("+$1.00") == 5 and 'rel="next"' not in second and 'rel="prev"' in second
    assert alice_client.get(reverse("portal:wallet"), {"page": "x"}).status_code == 200


def test_an_api_key_is_shown_once_works_with_the_api_and_stops_when_revoked(alice_client, alice, api):
    # when
    response = alice_client.post(reverse("portal:api-keys"), {"name": "my bot"})
    html = response.content.decode()
    raw = re.search(r"<code data-new-key>([^<]+)</code>", html).group(1)
    # then it is shown with a warning, never stored in the clear, and not cached
    assert "shown only once" in html
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    key = ApiKey.objects.get(user=alice)
    assert key.name == "my bot" and raw.startswith(key.prefix) and raw not in key.hashed_key
    again = alice_client.get(reverse("portal:api-keys")).content.decode()
    assert raw not in again and f"{key.prefix}…" in again and "180" in again
    # it works with the JSON API
    ok = api.get("/api/v1/wallet", HTTP_X_API_KEY=raw)
    assert ok.status_code == 200
    # revoke, with a confirmation
    confirm = alice_client.get(reverse("portal:api-key-revoke", args=[key.pk]))
    assert b"Revoke the key" in confirm.content
    alice_client.post(reverse("portal:api-key-revoke", args=[key.pk]))
    assert api.get("/api/v1/wallet", HTTP_X_API_KEY=raw).status_code == 401


def test_an_unverified_user_cannot_create_a_key(alice):
    client = host_client(ACME)
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    response = client.post(reverse("portal:api-keys"), {"name": "x"})
    assert 'data-error-code="email_unverified"' in response.content.decode()
    assert not ApiKey.objects.filter(user=alice).exists()


def test_another_users_key_cannot_be_revoked(alice_client, bob):
    from tests.factories import issue_api_key

    bobs = issue_api_key(bob, "bob's").api_key
    assert alice_client.get(reverse("portal:api-key-revoke", args=[bobs.pk])).status_code == 404
    assert alice_client.post(reverse("portal:api-key-revoke", args=[bobs.pk])).status_code == 404
    bobs.refresh_from_db()
    assert bobs.revoked_at is None


def test_the_api_docs_fill_in_this_storefronts_base_url_and_the_users_key_prefix(alice_client, alice, acme_client):
    from tests.factories import issue_api_key

    key = issue_api_key(alice, "k").api_key
    html = alice_client.get(reverse("portal:api-docs")).content.decode()
    assert f"B=http://{ACME}" in html and f"KEY={key.prefix}.YOUR-SECRET" in html
    assert "/api/v1/docs/" in html
    anonymous = acme_client.get(reverse("portal:api-docs")).content.decode()
    assert "KEY=YOUR-API-KEY" in anonymous
