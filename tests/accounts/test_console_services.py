"""The accounts services the operator console writes through: suspend/reactivate, tenant settings and supplier
credentials (one supplier account per tenant, kept on a keyed digest since the keys are encrypted)."""

from __future__ import annotations

import pytest

from accounts import selectors, services
from accounts.models import Tenant

pytestmark = pytest.mark.django_db


def test_suspending_is_compare_and_set(alice):
    assert services.user_set_active(user=alice, active=False) is True
    assert services.user_set_active(user=alice, active=False) is False
    alice.refresh_from_db()
    assert not alice.is_active
    assert services.user_set_active(user=alice, active=True) is True


def test_operators_are_not_suspended_here(operator):
    with pytest.raises(services.AccountError):
        services.user_set_active(user=operator, active=False)


def test_the_account_digest_follows_the_credentials(tenant):
    services.tenant_supplier_set(tenant=tenant, base_url="https://s.example/api/", api_key="pk-1", webhook_secret="w")
    tenant.refresh_from_db()
    assert tenant.platfone_account_digest == Tenant.upstream_account_digest("https://s.example/api", "pk-1")
    services.tenant_supplier_set(tenant=tenant, base_url="https://s.example/api", api_key="pk-2")
    tenant.refresh_from_db()
    assert (tenant.platfone_api_key, tenant.platfone_webhook_secret) == ("pk-2", "w")  # None kept the secret
    assert tenant.platfone_account_digest == Tenant.upstream_account_digest("https://s.example/api", "pk-2")
    assert selectors.upstream_account_in_use(base_url="https://s.example/api", api_key="pk-2")
    assert not selectors.upstream_account_in_use(
        base_url="https://s.example/api", api_key="pk-2", exclude_tenant_id=tenant.pk
    )


def test_two_tenants_cannot_share_a_supplier_account(tenant):
    services.tenant_supplier_set(tenant=tenant, base_url="https://s.example", api_key="shared")
    with pytest.raises(services.AccountError):
        services.tenant_create(
            slug="copycat", name="Copycat", platfone_base_url="https://s.example", platfone_api_key="shared"
        )
    assert not Tenant.objects.filter(slug="copycat").exists()
