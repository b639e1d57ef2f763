"""The API key cache (issue 14): warm requests read no key row, and revocation, user suspension and tenant
suspension take effect on the very next request, never after the cache's TTL."""

import pytest
from django.core.cache import cache

from accounts import key_cache, selectors, services
from accounts.keys import hash_api_key
from accounts.models import ApiKey, Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hot_path_caches(settings):
    """The suite runs with these caches off (reseller/test_settings.py); here they are on, as in production."""
    settings.API_KEY_CACHE_SECONDS = 60
    settings.PRICING_TERMS_CACHE_SECONDS = 60

WALLET = "/api/v1/wallet"


def warm(api, key):
    """Two requests: the first fills the cache, the second is served from it."""
    assert api.get(WALLET, HTTP_X_API_KEY=key).status_code == 200
    assert selectors.api_key_is_cached(selectors.api_key_authenticate(raw_key=key))
    assert api.get(WALLET, HTTP_X_API_KEY=key).status_code == 200


def assert_refused(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "invalid_key"


def test_a_warm_key_reads_no_key_row(api, alice_key, django_assert_max_num_queries):
    warm(api, alice_key)
    with django_assert_max_num_queries(0):
        key = selectors.api_key_authenticate(raw_key=alice_key)
    assert key.user.email == "alice@example.com" and key.user.tenant.slug == "acme"


def test_revoking_a_key_refuses_it_on_the_next_request(api, alice, alice_key):
    warm(api, alice_key)
    services.api_key_revoke(api_key=ApiKey.objects.get(user=alice))
    assert_refused(api.get(WALLET, HTTP_X_API_KEY=alice_key))


def test_suspending_a_user_refuses_their_keys_on_the_next_request_and_reactivating_restores_them(
    api, alice, alice_key
):
    warm(api, alice_key)
    services.user_set_active(user=alice, active=False)
    assert_refused(api.get(WALLET, HTTP_X_API_KEY=alice_key))
    services.user_set_active(user=alice, active=True)
    assert api.get(WALLET, HTTP_X_API_KEY=alice_key).status_code == 200


def test_suspending_a_tenant_refuses_its_users_keys_on_the_next_request(api, tenant, alice_key, bob_key):
    warm(api, alice_key)
    warm(api, bob_key)
    tenant.status = Tenant.Status.SUSPENDED
    services.tenant_settings_save(tenant=tenant)
    assert_refused(api.get(WALLET, HTTP_X_API_KEY=alice_key))
    assert_refused(api.get(WALLET, HTTP_X_API_KEY=bob_key))


def test_a_suspension_saved_on_the_model_also_takes_effect_at_once(api, alice, alice_key):
    warm(api, alice_key)
    alice.is_active = False
    alice.save()  # e.g. an operator screen that saves the user
    assert_refused(api.get(WALLET, HTTP_X_API_KEY=alice_key))


def test_another_tenants_suspension_leaves_this_tenants_keys_cached(api, other_tenant, alice_key, charlie_key):
    warm(api, alice_key)
    other_tenant.status = Tenant.Status.SUSPENDED
    services.tenant_settings_save(tenant=other_tenant)
    assert_refused(api.get(WALLET, HTTP_X_API_KEY=charlie_key))
    assert selectors.api_key_is_cached(selectors.api_key_authenticate(raw_key=alice_key))


def test_a_fill_that_read_the_key_before_its_revocation_cannot_bring_it_back(api, alice, alice_key):
    stale = selectors.api_key_authenticate_uncached(raw_key=alice_key)  # a request read the row ...
    services.api_key_revoke(api_key=ApiKey.objects.get(user=alice))  # ... the key is revoked ...
    key_cache.fill(stale)  # ... and that request fills the cache afterwards
    assert selectors.api_key_authenticate(raw_key=alice_key) is None
    assert_refused(api.get(WALLET, HTTP_X_API_KEY=alice_key))


def test_a_changed_rate_limit_applies_to_the_next_request(api, tenant, alice_key):
    warm(api, alice_key)
    tenant.rate_limit_per_minute = 2
    services.tenant_settings_save(tenant=tenant)
    response = api.get(WALLET, HTTP_X_API_KEY=alice_key)
    assert response["X-RateLimit-Limit"] == "2"


def test_the_cache_holds_no_password_hash_and_no_plaintext_supplier_secret(api, tenant, alice_key):
    services.tenant_supplier_set(
        tenant=tenant, base_url="https://platfone.test/api/v1", api_key="sk-live-123", webhook_secret="whsec-456"
    )
    cache.clear()  # the save's tombstones have expired
    warm(api, alice_key)
    entry = cache.get(key_cache.cache_key(hash_api_key(alice_key)))
    flat = repr(entry)
    assert "sk-live-123" not in flat and "whsec-456" not in flat
    assert "md5$" not in flat and "pbkdf2" not in flat and "!" not in [v for v in entry[1] if isinstance(v, str)]
    key = selectors.api_key_authenticate(raw_key=alice_key)
    assert key.user.tenant.platfone_api_key == "sk-live-123"
    assert key.user.tenant.platfone_webhook_secret == "whsec-456"
