"""Every race on an activation, in one place: webhooks, pollers, the beat, cancels and orders racing.

One charge, at most one refund, never an overspent wallet. Two kinds of tests: injected interleavings (the
competing write runs at an exact point inside the other caller, on any database), and real threads on
PostgreSQL, started in several orders. (The ledger's own races are in tests/wallet/test_concurrency.py; the
seeded random orderings against the live stack in tests/reliability/test_races.py.)
"""

import threading

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Tenant
from activations import tasks
from activations.models import Activation
from wallet import selectors as wallet_selectors
from wallet.models import JournalEntry

from .conftest import last_event_id
from .test_api_flow import age, order

FUNDS = 5000


def balance(user):
    return wallet_selectors.wallet_summary(user=user)


def entries(activation_id, kind):
    return JournalEntry.objects.filter(idempotency_key=f"activation:{activation_id}:{kind}").count()


def assert_money_exact(user, data, *, refunds):
    charges = entries(data["id"], "charge")
    assert charges == 1
    assert entries(data["id"], "refund") == refunds
    assert balance(user).balance_cents == FUNDS - data["sell_price_cents"] * (charges - refunds)
    assert balance(user).held_cents == 0
    call_command("verify_ledger")


def ordered(api, key, fund, user):
    fund(user, FUNDS)
    response = order(api, key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def sms_waiting_for_its_webhook(emu, data, code):
    """The SMS arrives upstream while the webhook receiver is unreachable; returns the event to deliver later."""
    emu.webhooks_paused = True
    emu.deliver_sms(data["activation_id"], code=code)
    emu.webhooks_paused = False
    return last_event_id(emu, "activation.updated")


@pytest.mark.django_db
class TestInjectedInterleavings:
    def test_a_webhook_landing_while_a_poll_reads_the_upstream_charges_once(
        self, api, hooked_emulator, alice, alice_key, fund, monkeypatch
    ):
        # given: the SMS is upstream; its webhook is delivered exactly while a poll's upstream read is in flight
        data = ordered(api, alice_key, fund, alice)
        event_id = sms_waiting_for_its_webhook(hooked_emulator, data, "7001")
        read = hooked_emulator.get_activation

        def read_then_webhook(api_key, activation_id):
            snapshot = read(api_key, activation_id)
            hooked_emulator.redeliver(event_id)
            return snapshot

        monkeypatch.setattr(hooked_emulator, "get_activation", read_then_webhook)
        age(data["id"])
        # when
        poll = api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key)
        # then
        assert poll.json()["data"]["sms_code"] == "7001"
        assert hooked_emulator.webhook_answers[-1].status_code == 200
        assert_money_exact(alice, data, refunds=0)

    def test_a_poll_applying_an_older_read_after_the_webhook_changes_nothing(
        self, api, hooked_emulator, alice, alice_key, fund, monkeypatch
    ):
        # given: a poll read the activation just before the SMS; the webhook lands before the poll applies it
        data = ordered(api, alice_key, fund, alice)
        read = hooked_emulator.get_activation

        def read_then_sms(api_key, activation_id):
            snapshot = read(api_key, activation_id)
            hooked_emulator.deliver_sms(data["activation_id"], code="7002")
            return snapshot

        monkeypatch.setattr(hooked_emulator, "get_activation", read_then_sms)
        age(data["id"])
        # when
        api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key)
        # then: the older read was ignored
        activation = Activation.objects.get(pk=data["id"])
        assert (activation.sms_status, activation.sms_code, activation.billing_status) == (
            "smsReceived",
            "7002",
            "billed",
        )
        assert_money_exact(alice, data, refunds=0)

    def test_an_sms_arriving_just_before_the_upstream_cancel_is_charged_then_refunded_once(
        self, api, hooked_emulator, alice, alice_key, fund, monkeypatch, django_capture_on_commit_callbacks
    ):
        # given: the user cancels; the SMS (and its webhook) land between our check and the upstream call
        data = ordered(api, alice_key, fund, alice)
        cancel = hooked_emulator.cancel_activation

        def sms_then_cancel(api_key, activation_id):
            hooked_emulator.deliver_sms(data["activation_id"], code="7003")
            return cancel(api_key, activation_id)

        monkeypatch.setattr(hooked_emulator, "cancel_activation", sms_then_cancel)
        # when
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key)
        # then: charged (the SMS came), refunded (the user canceled), the number finalized upstream
        assert response.status_code == 200, response.content
        assert Activation.objects.get(pk=data["id"]).billing_status == "refunded"
        assert hooked_emulator.activations("acme-upstream")[0]["activation_status"] == "finalized"
        assert_money_exact(alice, data, refunds=1)

    def test_a_replayed_webhook_during_the_beats_finalize_changes_nothing(
        self, api, hooked_emulator, alice, alice_key, fund, monkeypatch, tenant
    ):
        # given: charged by webhook; the beat finalizes; the upstream redelivers the SMS event meanwhile
        Tenant.objects.filter(pk=tenant.pk).update(finalize_after_sms_seconds=0)
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.deliver_sms(data["activation_id"], code="7004")
        event_id = last_event_id(hooked_emulator, "activation.updated")
        finalize = hooked_emulator.finalize_activation

        def replay_then_finalize(api_key, activation_id):
            hooked_emulator.redeliver(event_id)
            return finalize(api_key, activation_id)

        monkeypatch.setattr(hooked_emulator, "finalize_activation", replay_then_finalize)
        # when
        tasks.finalize_due.delay()
        tasks.finalize_due.delay()
        # then
        assert Activation.objects.get(pk=data["id"]).activation_status == "finalized"
        assert hooked_emulator.request_count("finalize_activation") == 1
        assert_money_exact(alice, data, refunds=0)

    def test_a_cancel_racing_the_beats_expiry_releases_the_hold_once(
        self, api, emulator, alice, alice_key, fund, monkeypatch, time_travel
    ):
        # given: past expire_at; the user cancels while the beat's read of the upstream is in flight
        data = ordered(api, alice_key, fund, alice)
        read = emulator.get_activation
        started, cancels = [], []

        def read_while_user_cancels(api_key, activation_id):
            if not started:
                started.append(True)
                cancels.append(api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key))
            return read(api_key, activation_id)

        monkeypatch.setattr(emulator, "get_activation", read_while_user_cancels)
        time_travel(1201)
        # when
        tasks.expire_overdue.delay()
        # then
        assert cancels[0].status_code == 200, cancels[0].content
        assert Activation.objects.get(pk=data["id"]).billing_status == "released"
        assert entries(data["id"], "charge") == 0
        assert balance(alice).balance_cents == FUNDS and balance(alice).held_cents == 0
        call_command("verify_ledger")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestThreads:
    ACTORS = ("webhook", "poller", "beat", "cancel")

    def run(self, jobs):
        """Run each job in its own thread, all released at once; returns the exceptions raised."""
        errors = []
        barrier = threading.Barrier(len(jobs))

        def runner(job):
            try:
                barrier.wait()
                job()
            except Exception as exc:  # collected and asserted by the caller
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=runner, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
        return errors

    @pytest.mark.parametrize("first", [None, *ACTORS])
    def test_webhook_pollers_beat_and_cancel_racing_charge_once_and_refund_at_most_once(
        self, hooked_emulator, alice, tenant, fund, first
    ):
        # given: an SMS is upstream, its webhook not yet delivered; the tenant finalizes right after an SMS
        from accounts.services import api_key_create

        Tenant.objects.filter(pk=tenant.pk).update(finalize_after_sms_seconds=0, rate_limit_per_minute=10_000)
        key = api_key_create(user=alice, name="racer").raw_key
        data = ordered(APIClient(), key, fund, alice)
        event_id = sms_waiting_for_its_webhook(hooked_emulator, data, "8080")
        answers = []

        def webhook():
            hooked_emulator.redeliver(event_id)

        def poller():
            age(data["id"])
            answers.append(APIClient().get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=key))

        def beat():
            for task in (tasks.sync_due, tasks.finalize_due, tasks.expire_overdue):
                results = task.apply().result
                assert "error" not in results.values(), (task.name, results)  # the task logs and goes on

        def cancel():
            answers.append(APIClient().post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=key))

        actors = {"webhook": [webhook], "poller": [poller] * 4, "beat": [beat], "cancel": [cancel]}
        # when: one actor first (or none), then everything else at once
        errors = []
        if first is not None:
            errors += self.run(actors.pop(first))
        errors += self.run([job for jobs in actors.values() for job in jobs])
        # then
        assert errors == []
        assert [r.status_code for r in answers] == [200] * len(answers)
        assert [r.status_code for r in hooked_emulator.webhook_answers] == [200]
        activation = Activation.objects.get(pk=data["id"])
        assert (activation.sms_code, activation.billing_status) == ("8080", "refunded")
        assert hooked_emulator.activations("acme-upstream")[0]["activation_status"] == "finalized"
        assert_money_exact(alice, data, refunds=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestApiThreads:
    def run_threads(self, target, count):
        errors = []
        barrier = threading.Barrier(count)

        def runner(n):
            try:
                barrier.wait()
                target(n)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=runner, args=(n,)) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return errors

    def test_many_pollers_and_cancels_racing_the_sms_charge_once_and_refund_at_most_once(self, emulator, alice, fund):
        # given
        from rest_framework.test import APIClient

        from accounts.services import api_key_create

        key = api_key_create(user=alice).raw_key
        fund(alice, 5000)
        data = order(APIClient(), key).json()["data"]
        emulator.deliver_sms(data["activation_id"], code="999")

        def worker(n):
            client = APIClient()
            age(data["id"])
            if n % 4 == 3:
                client.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=key)
            elif n % 2:
                client.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=key)
            else:
                client.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=key)

        # when
        errors = self.run_threads(worker, 16)
        # then
        assert errors == []
        charges = JournalEntry.objects.filter(idempotency_key=f"activation:{data['id']}:charge").count()
        refunds = JournalEntry.objects.filter(idempotency_key=f"activation:{data['id']}:refund").count()
        assert charges == 1 and refunds <= 1
        expected = 5000 - data["sell_price_cents"] * (charges - refunds)
        assert balance(alice).balance_cents == expected
        assert balance(alice).held_cents == 0
        call_command("verify_ledger")

    def test_concurrent_orders_of_one_user_never_overspend(self, emulator, alice, fund):
        from rest_framework.test import APIClient

        from accounts.services import api_key_create

        key = api_key_create(user=alice).raw_key
        alice.tenant.max_active_activations_per_user = 50
        alice.tenant.save()
        quote = APIClient().get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=key).json()["data"]
        fund(alice, quote["sell_price_cents"] * 3)
        statuses = []

        def worker(n):
            statuses.append(order(APIClient(), key).status_code)

        errors = self.run_threads(worker, 8)
        assert errors == []
        assert sorted(statuses) == [200] * 3 + [402] * 5
        assert balance(alice).held_cents == quote["sell_price_cents"] * 3
        assert len(emulator.activations()) == 3
