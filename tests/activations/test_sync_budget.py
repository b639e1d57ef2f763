"""Coalesced, budgeted reads: what polls cost the shared upstream account.

Upstream reads are counted in the emulator (``request_count("get_activation")``), never inferred.
"""

import math
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Tenant
from accounts.services import api_key_create
from activations.models import Activation
from activations.services import activation_refresh, sync_due_activations
from activations.services import sync as sync_module
from catalog.upstream import client_for_tenant
from platfone import budget as budget_module
from platfone.budget import RequestBudget

from .test_api_flow import age, order


def poll(api, key, activation_id):
    response = api.get(f"/api/v1/activations/{activation_id}/poll", HTTP_X_API_KEY=key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def ordered(api, key, fund, user, cents=5000):
    fund(user, cents)
    response = order(api, key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


class FakeClock:
    def __init__(self, start):
        self.current = start

    def now(self):
        return self.current

    def advance(self, seconds):
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def no_api_rate_limit(tenant):
    """The tenant's per-key API rate limit is out of the way: these tests are about the upstream's."""
    Tenant.objects.filter(pk=tenant.pk).update(rate_limit_per_minute=1_000_000)
    tenant.refresh_from_db()


@pytest.fixture
def frozen_budget_window(monkeypatch):
    """A small get_activation budget (20 a minute, 18 after the client's safety margin), pinned to one
    one-minute window so that no test straddles two windows."""
    window = int(time.time() // 60)
    monkeypatch.setattr(RequestBudget, "_window", lambda self: (window, 60))
    monkeypatch.setattr(budget_module, "DEFAULT_LIMITS", {**budget_module.DEFAULT_LIMITS, "get_activation": 20})


def users_reserve(tenant):
    """What the background sync leaves of the minute's get_activation budget: 30 % of the limit."""
    return math.ceil(0.3 * client_for_tenant(tenant).budget.limit("get_activation"))


def spend_budget_down_to(tenant, method, remaining):
    client = client_for_tenant(tenant)
    while client.budget_remaining(method) > remaining:
        client.budget.spend(method)
    assert client.budget_remaining(method) == remaining


@pytest.mark.django_db
class TestCoalescedPolls:
    def test_sequential_polls_over_ten_seconds_cost_one_upstream_read_per_freshness_window(
        self, api, emulator, alice, alice_key, fund, settings, monkeypatch, no_api_rate_limit
    ):
        # given: webhooks are off; a 2 s freshness window; sync's clock is ours
        settings.ACTIVATION_FRESH_SECONDS = 2
        data = ordered(api, alice_key, fund, alice)
        clock = FakeClock(Activation.objects.get(pk=data["id"]).last_synced_at)
        monkeypatch.setattr(sync_module, "timezone", SimpleNamespace(now=clock.now))
        emulator.reset_counters()
        # when: 50 polls, one every 200 ms of (simulated) time: 10 s
        for _ in range(50):
            clock.advance(0.2)
            poll(api, alice_key, data["id"])
        # then: one upstream read every 2 s, not one per poll
        assert emulator.request_count("get_activation") == 5

    def test_many_clients_polling_at_once_cost_one_upstream_read(
        self, api, emulator, alice, alice_key, fund, settings, monkeypatch, no_api_rate_limit
    ):
        # given: 50 clients (5 keys) and a clock that does not move: every poll is inside one window
        settings.ACTIVATION_FRESH_SECONDS = 2
        data = ordered(api, alice_key, fund, alice)
        keys = [api_key_create(user=alice, name=f"client {n}").raw_key for n in range(5)]
        age(data["id"])
        clock = FakeClock(timezone.now())
        monkeypatch.setattr(sync_module, "timezone", SimpleNamespace(now=clock.now))
        emulator.reset_counters()
        # when
        for n in range(50):
            poll(APIClient(), keys[n % 5], data["id"])
        # then
        assert emulator.request_count("get_activation") == 1

    def test_callers_arriving_while_a_sync_is_in_flight_answer_from_the_database(
        self, emulator, alice, api, alice_key, fund, monkeypatch
    ):
        # given: while the upstream read is in flight, five more pollers arrive (injected at that exact point)
        data = ordered(api, alice_key, fund, alice)
        age(data["id"])
        upstream_read = emulator.get_activation
        during = []

        def get_activation(api_key, activation_id):
            if not during:
                during.append(None)
                for _ in range(5):
                    during.append(activation_refresh(activation=Activation.objects.get(pk=data["id"]), actor="test"))
            return upstream_read(api_key, activation_id)

        monkeypatch.setattr(emulator, "get_activation", get_activation)
        emulator.reset_counters()
        # when
        activation_refresh(activation=Activation.objects.get(pk=data["id"]), actor="test")
        # then
        assert emulator.request_count("get_activation") == 1
        assert all(a.sms_status == "smsRequested" for a in during[1:])

    def test_a_caller_that_read_the_row_before_anothers_sync_does_not_sync_again(
        self, emulator, alice, api, alice_key, fund
    ):
        # given: B loads the activation (due for a sync), then A syncs it completely
        data = ordered(api, alice_key, fund, alice)
        age(data["id"])
        loaded_by_b = Activation.objects.get(pk=data["id"])
        emulator.reset_counters()
        activation_refresh(activation=Activation.objects.get(pk=data["id"]), actor="a")
        # when: B goes on with what it loaded
        seen_by_b = activation_refresh(activation=loaded_by_b, actor="b")
        # then: A's fresh sync is B's answer; one upstream read in all
        assert emulator.request_count("get_activation") == 1
        assert seen_by_b.last_synced_at is not None

    def test_an_sms_arriving_between_syncs_is_seen_within_one_window(
        self, api, emulator, alice, alice_key, fund, settings, monkeypatch, no_api_rate_limit
    ):
        settings.ACTIVATION_FRESH_SECONDS = 2
        data = ordered(api, alice_key, fund, alice)
        clock = FakeClock(Activation.objects.get(pk=data["id"]).last_synced_at)
        monkeypatch.setattr(sync_module, "timezone", SimpleNamespace(now=clock.now))
        clock.advance(1)
        emulator.deliver_sms(data["activation_id"], code="4711")
        assert poll(api, alice_key, data["id"])["sms_code"] is None  # inside the window: the database answers
        clock.advance(1)
        assert poll(api, alice_key, data["id"])["sms_code"] == "4711"


@pytest.mark.django_db
class TestBudget:
    def test_with_the_budget_spent_polls_answer_from_the_database_without_an_upstream_call(
        self, api, emulator, alice, alice_key, fund
    ):
        # given: another process spent this minute's get_activation budget (and the next ones')
        data = ordered(api, alice_key, fund, alice)
        emulator.deliver_sms(data["activation_id"], code="12")
        client_for_tenant(alice.tenant).budget.exhaust_until("get_activation", int(time.time()) + 600)
        assert client_for_tenant(alice.tenant).budget_remaining("get_activation") == 0
        emulator.reset_counters()
        # when
        answers = []
        for _ in range(3):
            age(data["id"])
            answers.append(poll(api, alice_key, data["id"]))
        got = api.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=alice_key)
        # then: the last known state, no error, no upstream call
        assert got.status_code == 200 and got.json()["data"]["billing_status"] == "held"
        assert all(a["sms_status"] == "smsRequested" for a in answers)
        assert emulator.request_count("get_activation") == 0

    def test_an_upstream_429_closes_the_budget_for_every_activation_of_the_account(
        self, api, emulator, alice, alice_key, bob, bob_key, fund
    ):
        # given
        first = ordered(api, alice_key, fund, alice)
        second = ordered(api, bob_key, fund, bob)
        emulator.add_fault(kind="ratelimit", endpoint="get_activation", count=1, retry_after=120)
        emulator.reset_counters()
        # when
        age(first["id"])
        poll(api, alice_key, first["id"])
        age(second["id"])
        poll(api, bob_key, second["id"])
        # then: one refused call, then nobody asks again until the upstream's reset
        assert emulator.request_count("get_activation") == 1

    def test_sync_due_takes_the_recently_polled_first_and_leaves_the_reserve(
        self, api, emulator, alice, alice_key, bob, bob_key, fund, frozen_budget_window
    ):
        # given: five activations due for a sync; two were polled recently, one of them more recently
        ids = [ordered(api, alice_key if n % 2 else bob_key, fund, alice if n % 2 else bob)["id"] for n in range(5)]
        for pk in ids:
            age(pk)
        now = timezone.now()
        Activation.objects.filter(pk=ids[1]).update(last_polled_at=now - timedelta(seconds=30))
        Activation.objects.filter(pk=ids[3]).update(last_polled_at=now - timedelta(seconds=5))
        spend_budget_down_to(alice.tenant, "get_activation", users_reserve(alice.tenant) + 2)
        emulator.reset_counters()
        # when
        synced = sync_due_activations(tenant=alice.tenant)
        # then: 2 reads above the users' reserve, spent on the polled ones
        assert synced == 2
        assert emulator.request_count("get_activation") == 2
        fresh = set(Activation.objects.filter(pk__in=ids, last_synced_at__isnull=False).values_list("pk", flat=True))
        assert fresh == {ids[1], ids[3]}
        assert client_for_tenant(alice.tenant).budget_remaining("get_activation") == users_reserve(alice.tenant)

    def test_after_the_polled_ones_sync_due_takes_the_most_recently_created(
        self, api, emulator, alice, alice_key, bob, bob_key, fund, frozen_budget_window
    ):
        ids = [ordered(api, alice_key, fund, alice, cents=1000)["id"] for _ in range(3)]
        now = timezone.now()
        for n, pk in enumerate(ids):
            age(pk)
            Activation.objects.filter(pk=pk).update(created_at=now - timedelta(minutes=10 - n))
        spend_budget_down_to(alice.tenant, "get_activation", users_reserve(alice.tenant) + 1)
        emulator.reset_counters()
        assert sync_due_activations(tenant=alice.tenant) == 1
        assert list(Activation.objects.filter(last_synced_at__isnull=False).values_list("pk", flat=True)) == [ids[2]]

    def test_repeated_sync_runs_never_spend_the_reserved_share(
        self, api, emulator, alice, alice_key, fund, frozen_budget_window
    ):
        # given
        ids = [ordered(api, alice_key, fund, alice, cents=1000)["id"] for _ in range(4)]
        reserve = users_reserve(alice.tenant)
        spend_budget_down_to(alice.tenant, "get_activation", reserve + 10)
        emulator.reset_counters()
        # when: the beat runs six times in the minute, and everything is due again every time
        for _ in range(6):
            for pk in ids:
                age(pk)
            sync_due_activations(tenant=alice.tenant)
        # then: it spent what was above the reserve, and not one read of the users' 30 % of the limit
        assert emulator.request_count("get_activation") == 10
        assert client_for_tenant(alice.tenant).budget_remaining("get_activation") == reserve

    def test_sync_due_stops_at_the_reserve_when_failing_reads_cost_several_units(
        self, api, emulator, alice, alice_key, fund, frozen_budget_window
    ):
        # given: four activations due; the upstream fails every read (each is tried three times)
        ids = [ordered(api, alice_key, fund, alice, cents=1000)["id"] for _ in range(4)]
        for pk in ids:
            age(pk)
        reserve = users_reserve(alice.tenant)
        spend_budget_down_to(alice.tenant, "get_activation", reserve + 4)
        emulator.add_fault(kind="error", endpoint="get_activation", count=100)
        emulator.reset_counters()
        # when
        sync_due_activations(tenant=alice.tenant)
        # then: it stopped once the reserve was reached, not after four activations (12 units)
        assert emulator.request_count("get_activation") == 6
        assert Activation.objects.filter(pk__in=ids, next_sync_at__isnull=False).count() == 2

    def test_sync_due_with_the_budget_spent_reads_nothing(self, api, emulator, alice, alice_key, fund):
        data = ordered(api, alice_key, fund, alice)
        age(data["id"])
        client_for_tenant(alice.tenant).budget.exhaust_until("get_activation", int(time.time()) + 600)
        emulator.reset_counters()
        assert sync_due_activations(tenant=alice.tenant) == 0
        assert emulator.request_count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrentPolls:
    def test_fifty_clients_polling_for_three_seconds_cost_reads_bounded_by_the_window_not_the_polls(
        self, emulator, alice, fund, settings, no_api_rate_limit
    ):
        # given: webhooks off, a 1 s freshness window, 50 clients on 10 keys
        settings.ACTIVATION_FRESH_SECONDS = 1
        keys = [api_key_create(user=alice, name=f"client {n}").raw_key for n in range(10)]
        fund(alice, 5000)
        data = order(APIClient(), keys[0]).json()["data"]
        emulator.reset_counters()
        duration, polls, failures = 3.0, [], []
        barrier = threading.Barrier(50)

        def client(n):
            try:
                api = APIClient()
                barrier.wait()
                deadline = time.monotonic() + duration
                while time.monotonic() < deadline:
                    response = api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=keys[n % 10])
                    polls.append(response.status_code)
            except Exception as exc:  # collected and asserted below
                failures.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
        # when
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        # then: at most one read per window (plus the window in progress), however many polls there were
        reads = emulator.request_count("get_activation")
        assert failures == []
        assert set(polls) == {200}
        assert len(polls) >= 100
        assert 1 <= reads <= duration / 1 + 1
