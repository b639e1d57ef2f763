"""Alerts: each condition fires, is e-mailed to the tenant's operators once (not at every check), resolves when it
clears, and fires again (a new e-mail) when it comes back. The check is a beat task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Tenant
from activations.models import ReconciliationIssue, UpstreamAccountStatus
from console.alerts import alerts_check
from console.models import Alert
from console.supplier import supplier_balance
from console.tasks import check_alerts
from tests.console.conftest import SMS, make_activation
from wallet import services as wallet
from wallet.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    """One alert check of a tenant, with what it does after commit (the e-mail) carried out."""

    def run(tenant):
        cache.delete(f"console:ledger-check:{tenant.pk}")
        with django_capture_on_commit_callbacks(execute=True):
            return alerts_check(tenants=[Tenant.objects.get(pk=tenant.pk)])

    return run


def open_kinds(tenant) -> set[str]:
    return set(Alert.objects.filter(tenant=tenant, resolved_at__isnull=True).values_list("kind", flat=True))


def set_supplier_balance(emulator, tenant, cents):
    emulator.set_balance(f"{tenant.slug}-upstream", cents)
    supplier_balance(Tenant.objects.get(pk=tenant.pk), fresh=True)  # the check reads the cached balance


def test_a_low_supplier_balance_is_emailed_once_resolved_and_fired_again(
    emulator, tenant, acme_staff, globex_staff, check
):
    # given acme's threshold of $10 and a supplier balance of $5
    set_supplier_balance(emulator, tenant, 500)
    # when checked three times
    first = check(tenant)
    check(tenant)
    check(tenant)
    # then one alert, one e-mail, to acme's operators only
    assert open_kinds(tenant) == {Alert.Kind.LOW_SUPPLIER_BALANCE}
    assert len(first.opened) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@acme.test"] and "Low supplier balance" in mail.outbox[0].subject
    alert = Alert.objects.get()
    assert alert.notified_to == ["ops@acme.test"] and alert.details["available_cents"] == 500
    # when the supplier is topped up, the alert resolves
    set_supplier_balance(emulator, tenant, 500_000)
    assert check(tenant).resolved == 1
    assert open_kinds(tenant) == set()
    # when it drops again, a new alert and a new e-mail
    set_supplier_balance(emulator, tenant, 100)
    check(tenant)
    assert Alert.objects.filter(kind=Alert.Kind.LOW_SUPPLIER_BALANCE).count() == 2
    assert len(mail.outbox) == 2


def test_a_success_rate_within_three_points_of_the_block_fires(emulator, tenant, alice, acme_staff, check):
    # given 1 SMS in 10 finished orders over 24 h: 10 %, within 3 points of the 7 % block
    make_activation(
        alice, activation_status="finalized", billing_status="billed", sms_received_at=timezone.now(), **SMS
    )
    for _ in range(9):
        make_activation(alice, activation_status="expired", billing_status="released")
    check(tenant)
    assert Alert.Kind.SUCCESS_RATE_NEAR_BLOCK in open_kinds(tenant)
    # a healthy rate does not fire
    for _ in range(10):
        make_activation(
            alice, activation_status="finalized", billing_status="billed", sms_received_at=timezone.now(), **SMS
        )
    check(tenant)
    assert Alert.Kind.SUCCESS_RATE_NEAR_BLOCK not in open_kinds(tenant)


def test_ledger_drift_fires(emulator, tenant, alice, acme_staff, check):
    wallet.deposit(user=alice, amount_cents=100, idempotency_key="d:drift", actor="test")
    check(tenant)
    assert Alert.Kind.LEDGER_DRIFT not in open_kinds(tenant)
    Account.objects.filter(user=alice).update(balance_cents=99)
    check(tenant)
    alert = Alert.objects.get(kind=Alert.Kind.LEDGER_DRIFT)
    assert "drifted" in alert.message and alert.details["drifted_accounts"]


def test_webhook_silence_while_activations_are_open_fires(emulator, tenant, alice, acme_staff, check):
    now = timezone.now()
    UpstreamAccountStatus.objects.create(tenant=tenant, last_webhook_at=now - timedelta(hours=2))
    # a number ordered a minute ago is no reason to worry yet
    recent = make_activation(alice, created_at=now - timedelta(minutes=1))
    check(tenant)
    assert Alert.Kind.WEBHOOK_SILENCE not in open_kinds(tenant)
    # one open for 40 minutes (acme's silence threshold is 30) is
    recent.delete()
    make_activation(alice, created_at=now - timedelta(minutes=40))
    check(tenant)
    assert Alert.Kind.WEBHOOK_SILENCE in open_kinds(tenant)
    # a webhook arriving clears it
    UpstreamAccountStatus.objects.filter(tenant=tenant).update(last_webhook_at=timezone.now())
    check(tenant)
    assert Alert.Kind.WEBHOOK_SILENCE not in open_kinds(tenant)


def test_open_reconciliation_issues_fire(emulator, tenant, acme_staff, check):
    issue = ReconciliationIssue.objects.create(tenant=tenant, kind="late_sms", upstream_id="u1")
    check(tenant)
    assert Alert.Kind.RECONCILIATION_ISSUES in open_kinds(tenant)
    ReconciliationIssue.objects.filter(pk=issue.pk).update(resolved_at=timezone.now())
    check(tenant)
    assert Alert.Kind.RECONCILIATION_ISSUES not in open_kinds(tenant)


def test_supplier_429s_fire(emulator, tenant, acme_staff, check):
    emulator.add_fault(kind="ratelimit", endpoint="balance", count=1)
    result = supplier_balance(Tenant.objects.get(pk=tenant.pk), fresh=True)
    assert not result.ok
    check(tenant)
    alert = Alert.objects.get(kind=Alert.Kind.SUPPLIER_RATE_LIMITED)
    assert alert.details["by_method"] == {"balance": 1}


def test_without_staff_the_support_address_is_emailed(emulator, tenant, check):
    set_supplier_balance(emulator, tenant, 1)
    check(tenant)
    assert mail.outbox[0].to == [tenant.support_email]


def test_the_check_is_a_beat_task(emulator, tenant, acme_staff, django_capture_on_commit_callbacks):
    task = PeriodicTask.objects.get(name="Check operator alerts")
    assert task.task == "console.check_alerts" and task.enabled and task.interval.every == 60
    set_supplier_balance(emulator, tenant, 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert check_alerts.delay().get().startswith("1 opened")
    assert len(mail.outbox) == 1


def test_open_alerts_show_on_the_dashboard_of_their_tenant_only(
    emulator, tenant, other_tenant, client, acme_staff, globex_staff, check
):
    set_supplier_balance(emulator, tenant, 1)
    check(tenant)
    client.force_login(acme_staff)
    assert "Low supplier balance" in client.get(reverse("admin:index")).content.decode()
    client.force_login(globex_staff)
    assert "Low supplier balance" not in client.get(reverse("admin:index")).content.decode()
