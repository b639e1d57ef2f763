"""The beat's tasks: expire what is overdue, finalize what is done, sync what is due — without anybody polling,
idempotently (a task run twice leaves the same state and the same money)."""

import pytest
from django.core.management import call_command

from accounts.models import Tenant
from activations import tasks
from activations.models import Activation, ReconciliationIssue
from wallet import selectors as wallet_selectors
from wallet.models import JournalEntry

from .test_api_flow import age, order

pytestmark = pytest.mark.django_db

LIFETIME = 1200  # the emulator's activation lifetime
GRACE = 120  # ACTIVATION_LOCAL_EXPIRY_GRACE_SECONDS


def balance(user):
    return wallet_selectors.wallet_summary(user=user)


def ordered(api, key, fund, user, cents=5000):
    fund(user, cents)
    response = order(api, key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def state(activation_id):
    activation = Activation.objects.get(pk=activation_id)
    return activation.activation_status, activation.billing_status


def ledger_snapshot():
    return sorted(JournalEntry.objects.values_list("idempotency_key", flat=True))


def assert_ledger_clean():
    call_command("verify_ledger")


class TestExpireOverdue:
    def test_it_releases_the_hold_of_an_activation_nobody_polls_once_the_upstream_expired_it(
        self, api, emulator, alice, alice_key, fund, time_travel
    ):
        # given: an order nobody polls again
        data = ordered(api, alice_key, fund, alice)
        assert balance(alice).held_cents == data["sell_price_cents"]
        # when: its lifetime passes and the beat runs
        time_travel(LIFETIME + 1)
        tasks.expire_overdue.delay()
        # then: the upstream confirmed the expiry; the user has all their money back
        assert state(data["id"]) == ("expired", "released")
        assert emulator.activations()[0]["activation_status"] == "expired"
        assert balance(alice).held_cents == 0 and balance(alice).balance_cents == 5000
        assert_ledger_clean()

    def test_it_leaves_an_activation_alone_before_its_expiry(self, api, emulator, alice, alice_key, fund, time_travel):
        data = ordered(api, alice_key, fund, alice)
        time_travel(LIFETIME - 60)
        emulator.reset_counters()
        tasks.expire_overdue.delay()
        assert state(data["id"]) == ("active", "held")
        assert emulator.request_count("get_activation") == 0

    def test_with_the_upstream_down_it_expires_locally_only_after_the_grace_period(
        self, api, emulator, alice, alice_key, fund, time_travel
    ):
        # given: the upstream cannot answer
        data = ordered(api, alice_key, fund, alice)
        emulator.add_fault(kind="error", endpoint="get_activation", count=1000)
        # when: just past expire_at, the beat runs
        time_travel(LIFETIME + 1)
        tasks.expire_overdue.delay()
        # then: nothing is decided while the upstream may still report an SMS
        assert state(data["id"]) == ("active", "held")
        # when: past the grace period
        time_travel(GRACE)
        tasks.expire_overdue.delay()
        # then: expired locally, hold released
        assert state(data["id"]) == ("expired", "released")
        assert balance(alice).held_cents == 0 and balance(alice).balance_cents == 5000
        assert_ledger_clean()

    def test_an_sms_the_upstream_delivered_during_the_outage_is_shown_unbilled_and_reported(
        self, api, emulator, alice, alice_key, fund, time_travel
    ):
        # given: the SMS arrives upstream while we cannot read it; we expire the activation locally
        data = ordered(api, alice_key, fund, alice)
        emulator.add_fault(kind="error", endpoint="get_activation", count=1000)
        time_travel(LIFETIME - 10)
        emulator.deliver_sms(data["activation_id"], code="1357")
        time_travel(10 + GRACE + 1)
        tasks.expire_overdue.delay()
        assert state(data["id"]) == ("expired", "released")
        # when: the upstream is back and the activation is synced
        emulator.clear_faults()
        age(data["id"])
        tasks.sync_due.delay()
        # then: the user sees the code, is not charged; operators are told the reseller paid for it
        activation = Activation.objects.get(pk=data["id"])
        assert activation.sms_code == "1357" and activation.billing_status == "released"
        assert balance(alice).balance_cents == 5000
        issue = ReconciliationIssue.objects.get(kind="late_sms")
        assert issue.activation_id == data["id"]
        assert_ledger_clean()

    def test_running_it_twice_changes_nothing_more(self, api, emulator, alice, alice_key, fund, time_travel):
        data = ordered(api, alice_key, fund, alice)
        time_travel(LIFETIME + 1)
        tasks.expire_overdue.delay()
        entries, events = ledger_snapshot(), Activation.objects.get(pk=data["id"]).events.count()
        emulator.reset_counters()
        tasks.expire_overdue.delay()
        assert ledger_snapshot() == entries
        assert Activation.objects.get(pk=data["id"]).events.count() == events
        assert emulator.request_count() == 0
        assert balance(alice).balance_cents == 5000


class TestFinalizeDue:
    @pytest.fixture
    def delay(self, tenant):
        Tenant.objects.filter(pk=tenant.pk).update(finalize_after_sms_seconds=300)
        return 300

    def charged(self, api, emulator, user, key, fund):
        data = ordered(api, key, fund, user)
        emulator.deliver_sms(data["activation_id"], code="2020")
        age(data["id"])
        api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=key)
        assert state(data["id"]) == ("active", "billed")
        return data

    def test_it_finalizes_after_the_tenants_delay_and_not_before(
        self, api, emulator, alice, alice_key, fund, time_travel, delay
    ):
        # given
        data = self.charged(api, emulator, alice, alice_key, fund)
        # when: before the delay
        time_travel(delay - 5)
        tasks.finalize_due.delay()
        # then
        assert state(data["id"]) == ("active", "billed")
        assert emulator.request_count("finalize_activation") == 0
        # when: after it
        time_travel(10)
        tasks.finalize_due.delay()
        # then: the upstream slot is free; the user paid once
        assert state(data["id"]) == ("finalized", "billed")
        assert emulator.activations()[0]["activation_status"] == "finalized"
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
        assert_ledger_clean()

    def test_it_never_finalizes_an_activation_without_an_sms(
        self, api, emulator, alice, alice_key, fund, time_travel, delay
    ):
        data = ordered(api, alice_key, fund, alice)
        time_travel(delay + 1)
        tasks.finalize_due.delay()
        assert state(data["id"]) == ("active", "held")
        assert emulator.request_count("finalize_activation") == 0

    def test_running_it_twice_finalizes_once(self, api, emulator, alice, alice_key, fund, time_travel, delay):
        data = self.charged(api, emulator, alice, alice_key, fund)
        time_travel(delay + 1)
        tasks.finalize_due.delay()
        entries = ledger_snapshot()
        tasks.finalize_due.delay()
        assert emulator.request_count("finalize_activation") == 1
        assert ledger_snapshot() == entries
        assert state(data["id"]) == ("finalized", "billed")

    def test_an_upstream_outage_postpones_finalizing_to_the_next_run(
        self, api, emulator, alice, alice_key, fund, time_travel, delay
    ):
        data = self.charged(api, emulator, alice, alice_key, fund)
        time_travel(delay + 1)
        emulator.add_fault(kind="error", endpoint="finalize_activation", count=1)
        tasks.finalize_due.delay()
        assert state(data["id"]) == ("active", "billed")
        tasks.finalize_due.delay()
        assert state(data["id"]) == ("finalized", "billed")


class TestSyncDue:
    def test_an_sms_nobody_polls_for_is_charged_once_by_the_sync(self, api, emulator, alice, alice_key, fund):
        # given
        data = ordered(api, alice_key, fund, alice)
        emulator.deliver_sms(data["activation_id"], code="8080")
        age(data["id"])
        # when: the beat runs twice, the state aged again in between
        tasks.sync_due.delay()
        age(data["id"])
        tasks.sync_due.delay()
        # then
        assert state(data["id"]) == ("active", "billed")
        assert JournalEntry.objects.filter(idempotency_key=f"activation:{data['id']}:charge").count() == 1
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
        assert_ledger_clean()

    def test_an_activation_the_upstream_ended_early_is_released_by_the_sync(
        self, api, emulator, alice, alice_key, fund
    ):
        data = ordered(api, alice_key, fund, alice)
        emulator.expire_activation(data["activation_id"])
        age(data["id"])
        tasks.sync_due.delay()
        assert state(data["id"]) == ("expired", "released")
        assert balance(alice).held_cents == 0

    def test_a_fresh_activation_is_not_read_again(self, api, emulator, alice, alice_key, fund):
        ordered(api, alice_key, fund, alice)
        emulator.reset_counters()
        tasks.sync_due.delay()
        assert emulator.request_count("get_activation") == 0

    def test_one_tenants_failure_does_not_stop_the_others(self, api, emulator, alice, alice_key, fund, monkeypatch):
        # given: acme's sync crashes; globex has an SMS waiting
        real = tasks.sync_due_activations

        def sync(*, tenant):
            if tenant.slug == "acme":
                raise RuntimeError("acme is broken")
            return real(tenant=tenant)

        monkeypatch.setattr(tasks, "sync_due_activations", sync)
        # when
        results = tasks.sync_due.apply().get()
        # then
        assert results == {"acme": "error", "globex": 0}
