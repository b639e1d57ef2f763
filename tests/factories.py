"""factory_boy factories for the whole suite. Add yours below; keep them generic."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import Tenant, TenantDomain, User
from accounts.services import IssuedApiKey, api_key_create

TEST_PASSWORD = "correct-horse-battery-staple"


class TenantFactory(DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant{n}")
    name = factory.LazyAttribute(lambda tenant: tenant.slug.capitalize())
    support_email = factory.LazyAttribute(lambda tenant: f"support@{tenant.slug}.test")


class TenantDomainFactory(DjangoModelFactory):
    class Meta:
        model = TenantDomain

    tenant = factory.SubFactory(TenantFactory)
    host = factory.LazyAttribute(lambda domain: f"{domain.tenant.slug}.test")
    is_primary = True


class UserFactory(DjangoModelFactory):
    """A storefront user of a tenant (password: ``TEST_PASSWORD``)."""

    class Meta:
        model = User

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


class OperatorFactory(DjangoModelFactory):
    """A platform operator: no tenant, staff and superuser (password: ``TEST_PASSWORD``)."""

    class Meta:
        model = User

    tenant = None
    email = factory.Sequence(lambda n: f"operator{n}@platform.test")
    password = factory.django.Password(TEST_PASSWORD)
    is_staff = True
    is_superuser = True


def issue_api_key(user: User, name: str = "default") -> IssuedApiKey:
    """A fresh API key for ``user``: ``.raw_key`` goes into requests, ``.api_key`` is the stored row."""
    return api_key_create(user=user, name=name)
