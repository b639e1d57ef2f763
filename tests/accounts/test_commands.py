"""The operator command line: create_tenant, create_user, create_api_key."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ApiKey, Tenant, TenantDomain, User
from accounts.selectors import api_key_authenticate

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_tenant_with_domains_and_upstream_credentials():
    # when
    run(
        "create_tenant",
        "acme",
        "--name",
        "Acme Numbers",
        "--domain",
        "Acme.example",
        "--domain",
        "www.acme.example",
        "--platfone-url",
        "http://127.0.0.1:8001/api/v1",
        "--platfone-key",
        "pk",
        "--webhook-secret",
        "ws",
    )
    # then
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.name == "Acme Numbers"
    assert tenant.rate_limit_per_minute == 180
    assert (tenant.platfone_api_key, tenant.platfone_webhook_secret) == ("pk", "ws")
    assert sorted(TenantDomain.objects.values_list("host", flat=True)) == ["acme.example", "www.acme.example"]


@pytest.mark.parametrize(
    "args",
    [
        ("create_tenant", "bad slug!", "--name", "X"),
        ("create_tenant", "acme", "--name", "   "),
        ("create_tenant", "fresh", "--name", "Fresh", "--domain", "taken.example"),
    ],
)
def test_create_tenant_refuses_bad_input_and_changes_nothing(tenant, args):
    # given
    TenantDomain.objects.create(tenant=tenant, host="taken.example")
    before = (Tenant.objects.count(), TenantDomain.objects.count())
    # when / then
    with pytest.raises(CommandError):
        run(*args)
    assert (Tenant.objects.count(), TenantDomain.objects.count()) == before


def test_create_tenant_refuses_a_duplicate_slug(tenant):
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", tenant.slug, "--name", "Again")


def test_the_same_email_registers_with_two_tenants_as_two_users(tenant, other_tenant):
    run("create_user", "--tenant", tenant.slug, "--email", "Same@Example.com", "--password", "pw-123456789")
    run("create_user", "--tenant", other_tenant.slug, "--email", "same@example.com")
    users = User.objects.filter(email="same@example.com")
    assert {u.tenant_id for u in users} == {tenant.pk, other_tenant.pk}


@pytest.mark.parametrize(
    ("tenant_slug", "email", "message"),
    [
        ("nope", "x@example.com", "Unknown tenant"),
        (None, "not-an-email", "Invalid e-mail"),
        (None, "dup@example.com", "already exists"),
    ],
)
def test_create_user_refuses_bad_input(tenant, tenant_slug, email, message):
    User.objects.create_user(email="dup@example.com", tenant=tenant)
    before = User.objects.count()
    with pytest.raises(CommandError, match=message):
        run("create_user", "--tenant", tenant_slug or tenant.slug, "--email", email)
    assert User.objects.count() == before


def test_create_api_key_prints_a_working_key_alone_on_the_last_line(alice):
    # when
    output = run("create_api_key", "--tenant", alice.tenant.slug, "--email", alice.email, "--name", "ci")
    # then
    raw_key = output.strip().splitlines()[-1]
    key = api_key_authenticate(raw_key=raw_key)
    assert key is not None and key.user == alice and key.name == "ci"
    assert raw_key not in repr(list(ApiKey.objects.values()))


@pytest.mark.parametrize(("tenant_slug", "email"), [("nope", "alice@example.com"), (None, "ghost@example.com")])
def test_create_api_key_refuses_unknown_tenant_or_user(alice, tenant_slug, email):
    with pytest.raises(CommandError):
        run("create_api_key", "--tenant", tenant_slug or alice.tenant.slug, "--email", email)
    assert ApiKey.objects.count() == 0


def test_two_tenants_cannot_share_one_upstream_account(tenant):
    run("create_tenant", "one", "--name", "One", "--platfone-url", "http://u.test/api/v1", "--platfone-key", "k1")
    with pytest.raises(CommandError, match="Platfone account"):
        run("create_tenant", "two", "--name", "Two", "--platfone-url", "http://u.test/api/v1", "--platfone-key", "k1")
    assert not Tenant.objects.filter(slug="two").exists()


@pytest.mark.parametrize("url", ["not-a-url", "ftp://u.test/api/v1", "u.test/api/v1", "http://"])
def test_create_tenant_refuses_a_supplier_url_that_is_not_an_http_url(db, url):
    with pytest.raises(CommandError, match="Invalid Platfone URL"):
        run("create_tenant", "acme", "--name", "Acme", "--platfone-url", url, "--platfone-key", "k")
    assert not Tenant.objects.filter(slug="acme").exists()


def test_create_tenant_warns_when_the_supplier_is_not_configured(db):
    out, err = StringIO(), StringIO()
    call_command("create_tenant", "acme", "--name", "Acme", stdout=out, stderr=err)
    assert "Created tenant acme" in out.getvalue()
    warning = err.getvalue()
    assert warning.startswith("Warning: tenant acme cannot sell numbers")
    assert "--platfone-url, --platfone-key, --webhook-secret" in warning and "doctor --tenant acme" in warning


def test_create_tenant_with_the_whole_supplier_says_nothing_more(db):
    err = StringIO()
    call_command(
        "create_tenant", "acme", "--name", "Acme", "--platfone-url", "https://u.test/api/v1", "--platfone-key", "k",
        "--webhook-secret", "s", stdout=StringIO(), stderr=err,
    )  # fmt: skip
    assert err.getvalue() == ""


@pytest.mark.parametrize(
    ("password", "reason"),
    [("123", "too short"), ("12345678901", "entirely numeric"), ("password123", "too common")],
)
def test_create_user_runs_the_password_through_djangos_validators(tenant, password, reason):
    with pytest.raises(CommandError, match=f"Password refused: .*{reason}"):
        run("create_user", "--tenant", tenant.slug, "--email", "new@example.com", "--password", password)
    assert not User.objects.filter(email="new@example.com").exists()
