"""`manage.py doctor [--tenant SLUG]`: one ✓/✗ line per check with the fix, non-zero exit on any ✗."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Tenant
from activations.models import Activation, UpstreamAccountStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ALLOWED = ["acme.test", "127.0.0.1"]


def doctor(*args):
    out = StringIO()
    try:
        call_command("doctor", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def line(output, name):
    found = [text.strip() for text in output.splitlines() if text.strip()[2:].startswith(f"{name}:")]
    assert len(found) == 1, output
    return found[0]


@pytest.fixture
def beat_ran():
    PeriodicTask.objects.filter(enabled=True).update(last_run_at=timezone.now() - timedelta(seconds=20))


@pytest.fixture
def good_acme(emulator, tenant, beat_ran):
    call_command("sync_catalog", "--tenant", tenant.slug, stdout=StringIO())
    UpstreamAccountStatus.objects.update_or_create(
        tenant=tenant, defaults={"last_webhook_at": timezone.now() - timedelta(minutes=3)}
    )
    return tenant


@override_settings(ALLOWED_HOSTS=ALLOWED)
def test_a_well_set_up_tenant_passes_every_check(good_acme):
    output, error = doctor("--tenant", "acme")
    assert error is None, output
    assert re.fullmatch(r"✓ beat: a periodic task ran \d+ s ago\.", line(output, "beat"))
    assert line(output, "supplier URL") == "✓ supplier URL: http://platfone.test/api/v1"
    assert line(output, "supplier key").startswith("✓ supplier key: works (supplier balance $")
    assert line(output, "webhook secret") == "✓ webhook secret: set."
    assert line(output, "webhooks received") == "✓ webhooks received: the last one 3 min ago."
    assert line(output, "domains") == "✓ domains: acme.test (all in ALLOWED_HOSTS)."
    assert line(output, "catalog") == "✓ catalog: synced."
    assert "✗" not in output and output.rstrip().endswith("All checks passed.")
    assert "globex" not in output  # --tenant: that tenant only


@override_settings(ALLOWED_HOSTS=ALLOWED)
def test_a_broken_tenant_gets_a_cross_and_the_fix_for_each_problem(good_acme, other_tenant):
    # given globex: a key the supplier refuses, no webhook secret, a domain outside ALLOWED_HOSTS, never synced,
    # and an SMS that came by polling long after the last webhook
    Tenant.objects.filter(pk=other_tenant.pk).update(
        platfone_base_url="http://platfone.test/api/v1", platfone_api_key="wrong-key"
    )
    user = UserFactory(tenant=other_tenant, email="dave@example.com")
    Activation.objects.create(
        tenant=other_tenant, user=user, service_id="whatsapp", country_id="us", sell_price_cents=10, max_price_cents=10,
        sms_received_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip
    # when
    output, error = doctor("--tenant", "globex")
    # then
    assert error == "5 check(s) failed: fix the ✗ lines above."
    assert line(output, "supplier URL").startswith("✓")
    key = line(output, "supplier key")
    assert key.startswith("✗ supplier key: the supplier refused the key") and "Fix: set the supplier's API key" in key
    assert line(output, "webhook secret").startswith("✗ webhook secret: not set") and "Fix:" in line(
        output, "webhook secret"
    )
    webhooks = line(output, "webhooks received")
    assert webhooks.startswith("✗ webhooks received: none ever, yet 1 SMS arrived since")
    assert "https://globex.test/webhooks/platfone/globex/" in webhooks
    domains = line(output, "domains")
    assert domains.startswith("✗ domains: not in ALLOWED_HOSTS: globex.test") and "Fix: add them" in domains
    assert line(output, "catalog").startswith("✗ catalog: never synced") and "sync_catalog --tenant globex" in output


@override_settings(ALLOWED_HOSTS=ALLOWED)
def test_every_tenant_is_checked_without_a_slug_and_a_tenant_without_a_supplier_is_named(good_acme, other_tenant):
    output, error = doctor()
    assert error is not None
    assert "Tenant acme (Acme Numbers)" in output and "Tenant globex (Globex Numbers)" in output
    globex = output.split("Tenant globex")[1]
    assert line(globex, "supplier URL") == (
        "✗ supplier URL: not set. Fix: set the Platfone base URL in the admin (Tenants → globex → Supplier)."
    )
    assert line(globex, "supplier key").startswith("✗ supplier key: cannot be tried: no base URL and API key.")
    acme = output.split("Tenant globex")[0].split("Tenant acme")[1]
    assert "✗" not in acme


@override_settings(ALLOWED_HOSTS=ALLOWED)
def test_an_unreachable_supplier_says_where_it_tried(good_acme, emulator):
    emulator.add_fault(kind="error", endpoint="balance", probability=1.0)
    output, error = doctor("--tenant", "acme")
    assert error == "1 check(s) failed: fix the ✗ lines above."
    assert line(output, "supplier key").startswith("✗ supplier key: the balance call to http://platfone.test/api/v1")


@override_settings(ALLOWED_HOSTS=ALLOWED)
def test_a_beat_that_stopped_or_never_ran_is_a_cross(good_acme):
    PeriodicTask.objects.update(last_run_at=timezone.now() - timedelta(minutes=30))
    output, error = doctor("--tenant", "acme")
    assert error is not None
    assert line(output, "beat").startswith("✗ beat: the last periodic task ran 30 min ago. Fix: start exactly one beat")
    PeriodicTask.objects.update(last_run_at=None)
    output, _ = doctor("--tenant", "acme")
    assert line(output, "beat").startswith("✗ beat: no periodic task has ever run.")


def test_a_quiet_tenant_without_any_sms_is_not_blamed_for_missing_webhooks(good_acme):
    UpstreamAccountStatus.objects.filter(tenant=good_acme).update(last_webhook_at=None)
    output, _ = doctor("--tenant", "acme")
    assert line(output, "webhooks received") == (
        "✓ webhooks received: none ever; no SMS arrived without one (nothing was missed)."
    )


def test_an_unknown_tenant_is_a_one_line_error(db):
    with pytest.raises(CommandError, match="Unknown tenant 'nope'"):
        call_command("doctor", "--tenant", "nope", stdout=StringIO())
