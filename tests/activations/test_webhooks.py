"""Webhooks from the upstream: verified, de-duplicated, applied through the one settlement path, and what
makes polls free (webhook health lengthens the freshness window).

The emulator sends its webhooks itself (``hooked_emulator``): signed with acme's secret, posted synchronously
into Django's test client at ``/webhooks/platfone/acme/``.
"""

import json
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, TestCase
from django.utils import timezone

from accounts.models import Tenant
from activations import selectors, tasks
from activations.models import Activation, UpstreamAccountStatus, WebhookEvent
from activations.services.sync import freshness_window
from activations.services.webhooks import RETRY_WINDOW, SWEEP_AFTER, webhooks_healthy
from platfone.webhooks import signed_headers
from tests.supplier_webhooks import post_supplier_webhook
from wallet import selectors as wallet_selectors

from .conftest import WEBHOOK_PATH, WEBHOOK_SECRET, last_event_id
from .test_api_flow import order

pytestmark = pytest.mark.django_db


def balance(user):
    return wallet_selectors.wallet_summary(user=user)


def money(activation_id):
    activation = Activation.objects.select_related("tenant").get(pk=activation_id)
    return wallet_selectors.reference_money(tenant=activation.tenant, reference=f"activation:{activation_id}")


def poll(api, key, activation_id):
    response = api.get(f"/api/v1/activations/{activation_id}/poll", HTTP_X_API_KEY=key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def send(body: dict, *, secret=WEBHOOK_SECRET, event_id=None, timestamp=None, path=WEBHOOK_PATH, tamper=None):
    """POST one webhook the way the upstream does; ``tamper`` may change the raw body after signing."""
    event_id = event_id or body["id"]
    raw = json.dumps(body).encode()
    headers = signed_headers(secret, event_id, int(time.time()) if timestamp is None else timestamp, raw)
    if tamper is not None:
        raw = tamper(raw)
    return post_supplier_webhook(path, raw, headers)


def activation_event(snapshot: dict, event_id: str, kind: str = "activation.updated") -> dict:
    return {"id": event_id, "api_version": "1.0", "type": kind, "data": snapshot}


def ordered(api, key, fund, user, cents=5000):
    fund(user, cents)
    response = order(api, key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def assert_ledger_clean():
    call_command("verify_ledger")


class TestActivationUpdated:
    def test_a_signed_webhook_makes_the_code_visible_without_any_upstream_read_and_charges_once(
        self, api, hooked_emulator, alice, alice_key, fund
    ):
        # given: an order whose state was last synced a minute ago (older than the 5 s poll window)
        data = ordered(api, alice_key, fund, alice)
        Activation.objects.filter(pk=data["id"]).update(last_synced_at=timezone.now() - timedelta(seconds=60))
        hooked_emulator.reset_counters()
        # when: the SMS arrives; the upstream tells us by webhook; the client polls
        hooked_emulator.deliver_sms(data["activation_id"], code="531902")
        polls = [poll(api, alice_key, data["id"]) for _ in range(5)]
        # then
        assert [a.status_code for a in hooked_emulator.webhook_answers] == [200]
        assert hooked_emulator.webhook_answers[0].json() == {"result": "success"}
        assert all(p["sms_code"] == "531902" and p["sms_status"] == "smsReceived" for p in polls)
        assert hooked_emulator.request_count("get_activation") == 0
        assert money(data["id"]).charged_cents == data["sell_price_cents"]
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
        assert balance(alice).held_cents == 0
        assert_ledger_clean()

    def test_the_webhook_charges_even_if_nobody_polls(self, api, hooked_emulator, alice, alice_key, fund):
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.deliver_sms(data["activation_id"], code="1")
        activation = Activation.objects.get(pk=data["id"])
        assert activation.billing_status == "billed" and activation.sms_received_at is not None
        assert activation.events.filter(actor="webhook", kind="charged").count() == 1

    def test_a_replayed_event_id_is_answered_success_and_changes_nothing(
        self, api, hooked_emulator, alice, alice_key, fund
    ):
        # given
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.deliver_sms(data["activation_id"], code="77")
        event_id = last_event_id(hooked_emulator, "activation.updated")
        before = Activation.objects.get(pk=data["id"])
        # when: the upstream delivers the same event again (fresh timestamp, same id), twice
        hooked_emulator.redeliver(event_id)
        hooked_emulator.redeliver(event_id)
        # then
        replays = hooked_emulator.webhook_answers[1:]
        assert [(r.status_code, r.json()) for r in replays] == [(200, {"result": "success"})] * 2
        assert WebhookEvent.objects.filter(event_id=event_id).count() == 1
        after = Activation.objects.get(pk=data["id"])
        assert after.updated_at == before.updated_at
        assert money(data["id"]).charged_cents == data["sell_price_cents"]
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
        assert_ledger_clean()

    def test_a_stale_snapshot_changes_nothing(self, api, hooked_emulator, alice, alice_key, fund):
        # given: the SMS arrived and was applied; an older snapshot (before the SMS) is still in flight
        data = ordered(api, alice_key, fund, alice)
        before_sms = hooked_emulator.activations()[0]
        hooked_emulator.deliver_sms(data["activation_id"], code="2468")
        # when: it arrives late, correctly signed, with a new event id
        response = send(activation_event(before_sms, "late-event-1"))
        # then
        assert response.status_code == 200 and response.json() == {"result": "success"}
        activation = Activation.objects.get(pk=data["id"])
        assert (activation.sms_status, activation.sms_code, activation.billing_status) == (
            "smsReceived",
            "2468",
            "billed",
        )
        assert activation.upstream_updated_at > before_sms["updated_at"]
        assert money(data["id"]).charged_cents == data["sell_price_cents"]
        assert_ledger_clean()

    def test_a_bad_signature_is_401_and_changes_nothing(self, api, hooked_emulator, alice, alice_key, fund):
        # given: the SMS arrived upstream, but the receiver was down; nobody polled
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.webhooks_paused = True
        snapshot = hooked_emulator.deliver_sms(data["activation_id"], code="999")
        body = activation_event(snapshot, "forged-1")
        # when
        wrong_secret = send(body, secret="not-the-secret")
        tampered = send(body, tamper=lambda raw: raw.replace(b'"999"', b'"000"'))
        no_headers = Client().post(WEBHOOK_PATH, data=json.dumps(body), content_type="application/json")
        # then
        for response in (wrong_secret, tampered, no_headers):
            assert response.status_code == 401, response.content
            assert response.json()["code"] == "invalid_signature"
        activation = Activation.objects.get(pk=data["id"])
        assert activation.sms_code is None and activation.billing_status == "held"
        assert not WebhookEvent.objects.exists()
        assert not UpstreamAccountStatus.objects.filter(last_webhook_at__isnull=False).exists()
        assert balance(alice).held_cents == data["sell_price_cents"] and balance(alice).balance_cents == 5000
        # and the operators see three refused webhooks
        assert selectors.webhook_health(tenant_id=alice.tenant_id)["failures_24h"] == 3

    @pytest.mark.parametrize("skew", [-301, -3600, 301])
    def test_a_timestamp_outside_five_minutes_is_401_and_changes_nothing(
        self, api, hooked_emulator, alice, alice_key, fund, skew
    ):
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.webhooks_paused = True
        snapshot = hooked_emulator.deliver_sms(data["activation_id"], code="31")
        response = send(activation_event(snapshot, "old-1"), timestamp=int(time.time()) + skew)
        assert response.status_code == 401
        assert Activation.objects.get(pk=data["id"]).billing_status == "held"
        assert not WebhookEvent.objects.exists()

    def test_a_timestamp_within_five_minutes_is_accepted(self, api, hooked_emulator, alice, alice_key, fund):
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.webhooks_paused = True
        snapshot = hooked_emulator.deliver_sms(data["activation_id"], code="32")
        response = send(activation_event(snapshot, "recent-1"), timestamp=int(time.time()) - 240)
        assert response.status_code == 200
        assert Activation.objects.get(pk=data["id"]).billing_status == "billed"

    def test_an_event_for_an_activation_we_do_not_know_is_stored_and_left_unapplied(self, hooked_emulator, alice):
        # Its order may still be on its way back to us: the sweep applies it once the order is recorded (below);
        # one that never becomes known is left to reconciliation.
        snapshot = hooked_emulator.create_activation("acme-upstream", service_id="whatsapp", country_id="us")
        response = send(activation_event(snapshot, "stranger-1"))
        assert response.status_code == 200
        assert not Activation.objects.exists()
        stored = WebhookEvent.objects.get(event_id="stranger-1")
        assert stored.applied_at is None and stored.upstream_id == snapshot["activation_id"]
        assert console_webhook_failures() == 1  # counted once, by the worker's attempt

    def test_an_event_cannot_touch_another_tenants_activation(self, api, hooked_emulator, charlie, charlie_key, fund):
        # given: charlie (globex) has an activation; acme's secret signs an event naming its upstream id
        data = ordered(api, charlie_key, fund, charlie)
        snapshot = {**hooked_emulator.activations("globex-upstream")[0], "sms_status": "smsReceived"}
        snapshot.update(sms_code="1", updated_at=snapshot["updated_at"] + 10, billing_status="billed")
        # when
        response = send(activation_event(snapshot, "cross-tenant-1"))
        tasks.sweep_webhook_events()
        # then: acme does not know that activation; charlie's is untouched
        assert response.status_code == 200
        assert WebhookEvent.objects.get(event_id="cross-tenant-1").applied_at is None
        assert Activation.objects.get(pk=data["id"]).billing_status == "held"

    @pytest.mark.parametrize(
        "body",
        [b"not json", b"[]", b'{"id": "x", "type": "activation.updated"}', b'{"id": "x", "type": "nope", "data": {}}'],
    )
    def test_a_signed_body_that_is_not_an_event_is_400(self, hooked_emulator, body):
        headers = signed_headers(WEBHOOK_SECRET, "x", int(time.time()), body)
        extra = {k: v for k, v in headers.items() if k != "Content-Type"}
        response = Client().post(WEBHOOK_PATH, data=body, content_type="application/json", headers=extra)
        assert response.status_code == 400
        assert not WebhookEvent.objects.exists()


class TestEndpoint:
    def test_an_unknown_tenant_is_404(self, hooked_emulator):
        snapshot = hooked_emulator.create_activation("acme-upstream", service_id="whatsapp", country_id="us")
        response = send(activation_event(snapshot, "e-1"), path="/webhooks/platfone/nosuchtenant/")
        assert response.status_code == 404
        assert not WebhookEvent.objects.exists()

    def test_a_tenant_without_a_webhook_secret_is_404(self, emulator, other_tenant):
        snapshot = emulator.create_activation("globex-upstream", service_id="whatsapp", country_id="us")
        response = send(activation_event(snapshot, "e-2"), secret="", path="/webhooks/platfone/globex/")
        assert response.status_code == 404

    def test_only_post_is_allowed(self, hooked_emulator):
        assert Client().get(WEBHOOK_PATH).status_code == 405


class TestReportAndAccountEvents:
    def test_an_approved_report_refunds_once_by_webhook(self, api, hooked_emulator, alice, alice_key, fund):
        # given: charged, then reported
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.deliver_sms(data["activation_id"], code="55")
        report = api.post(
            f"/api/v1/activations/{data['id']}/report", {"reason_id": 2}, format="json", HTTP_X_API_KEY=alice_key
        )
        assert report.status_code == 200, report.content
        assert Activation.objects.get(pk=data["id"]).report_status == "inReview"
        # when: the upstream approves it (webhook), the event is replayed and the client polls
        hooked_emulator.decide_report(data["activation_id"], approve=True)
        hooked_emulator.redeliver(last_event_id(hooked_emulator, "activation_report.updated"))
        poll(api, alice_key, data["id"])
        # then
        activation = Activation.objects.get(pk=data["id"])
        assert (activation.billing_status, activation.report_status) == ("refunded", "approved")
        assert money(data["id"]).refunded_cents == data["sell_price_cents"]
        assert money(data["id"]).upstream_cost_cents == 0  # Platfone refunded the reseller too
        assert balance(alice).balance_cents == 5000
        assert activation.events.filter(kind="refunded").count() == 1
        assert_ledger_clean()

    def test_a_declined_report_refunds_nothing(self, api, hooked_emulator, alice, alice_key, fund):
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.deliver_sms(data["activation_id"], code="56")
        api.post(f"/api/v1/activations/{data['id']}/report", {"reason_id": 2}, format="json", HTTP_X_API_KEY=alice_key)
        hooked_emulator.decide_report(data["activation_id"], approve=False)
        activation = Activation.objects.get(pk=data["id"])
        assert (activation.billing_status, activation.report_status) == ("billed", "declined")
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]

    def test_a_low_balance_event_is_recorded_for_operators(self, hooked_emulator, tenant):
        # when: the reseller's upstream balance drops under the emulator's threshold (500)
        hooked_emulator.set_balance("acme-upstream", 321)
        # then
        assert [a.status_code for a in hooked_emulator.webhook_answers] == [200]
        status = UpstreamAccountStatus.objects.get(tenant=tenant)
        assert status.low_balance_cents == 321 and status.low_balance_at is not None
        assert WebhookEvent.objects.get().type == "account.low_balance"


class TestWebhookHealth:
    def test_a_verified_webhook_marks_the_tenant_healthy_and_lengthens_the_freshness_window(
        self, api, hooked_emulator, tenant, alice, alice_key, fund, settings
    ):
        # given
        settings.ACTIVATION_FRESH_SECONDS = 5
        settings.ACTIVATION_SAFETY_SYNC_SECONDS = 120
        data = ordered(api, alice_key, fund, alice)
        assert not webhooks_healthy(tenant)
        assert freshness_window(tenant) == timedelta(seconds=5)
        # when
        hooked_emulator.deliver_sms(data["activation_id"], code="8")
        cache.clear()  # the health flag is cached for a few seconds
        # then
        last = UpstreamAccountStatus.objects.get(tenant=tenant).last_webhook_at
        assert timezone.now() - last < timedelta(seconds=5)
        assert webhooks_healthy(tenant)
        assert freshness_window(tenant) == timedelta(seconds=120)

    def test_webhooks_that_stopped_arriving_are_not_trusted(self, tenant, webhook_secret, settings):
        settings.WEBHOOK_HEALTHY_SECONDS = 900
        settings.ACTIVATION_FRESH_SECONDS = 5
        UpstreamAccountStatus.objects.create(tenant=tenant, last_webhook_at=timezone.now() - timedelta(seconds=901))
        assert not webhooks_healthy(tenant)
        assert freshness_window(tenant) == timedelta(seconds=5)

    def test_a_tenant_without_a_secret_never_counts_as_healthy(self, tenant):
        UpstreamAccountStatus.objects.create(tenant=tenant, last_webhook_at=timezone.now())
        assert not webhooks_healthy(tenant)

    def test_with_healthy_webhooks_polls_cost_nothing_until_the_safety_sync_is_due(
        self, api, hooked_emulator, alice, alice_key, fund, settings
    ):
        # given: webhooks are healthy; the state was synced 100 s ago (window 120 s)
        settings.ACTIVATION_SAFETY_SYNC_SECONDS = 120
        data = ordered(api, alice_key, fund, alice)
        UpstreamAccountStatus.objects.update_or_create(
            tenant=alice.tenant, defaults={"last_webhook_at": timezone.now()}
        )
        Activation.objects.filter(pk=data["id"]).update(last_synced_at=timezone.now() - timedelta(seconds=100))
        hooked_emulator.reset_counters()
        # when
        for _ in range(10):
            poll(api, alice_key, data["id"])
        # then
        assert hooked_emulator.request_count("get_activation") == 0
        # when: the safety window has passed
        Activation.objects.filter(pk=data["id"]).update(last_synced_at=timezone.now() - timedelta(seconds=121))
        for _ in range(10):
            poll(api, alice_key, data["id"])
        # then: one safety sync, not ten
        assert hooked_emulator.request_count("get_activation") == 1


@pytest.mark.parametrize("length", ["abc", "-1", "1e9"])
def test_a_malformed_content_length_is_refused_not_a_server_error(hooked_emulator, length):
    body = json.dumps({"id": "e", "api_version": "1.0", "type": "account.low_balance", "data": {}}).encode()
    extra = {
        k: v for k, v in signed_headers(WEBHOOK_SECRET, "e", int(time.time()), body).items() if k != "Content-Type"
    }
    client = Client(raise_request_exception=False)
    response = client.post(
        WEBHOOK_PATH, data=body, content_type="application/json", headers=extra, CONTENT_LENGTH=length
    )
    assert 400 <= response.status_code < 500
    assert not WebhookEvent.objects.exists()


def test_a_body_over_the_limit_is_400(hooked_emulator):
    body = json.dumps({"id": "big", "type": "account.low_balance", "data": {"pad": "x" * 300_000}}).encode()
    response = send(json.loads(body))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_get_on_the_webhook_endpoint_is_405_in_json(client, tenant):
    response = client.get(f"/webhooks/platfone/{tenant.slug}/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"


def console_webhook_failures() -> int:
    from activations.selectors import webhook_failure_key

    hour = int(timezone.now().timestamp() // 3600)
    return sum(cache.get(webhook_failure_key(Tenant.objects.get(slug="acme").pk, hour - n), 0) for n in range(2))


class TestStoredThenApplied:
    """The request stores the event and answers; a notify worker applies it after the commit, and the beat's
    sweep applies what the queue missed (issue 14: the supplier's webhook acknowledged in milliseconds)."""

    def paused_sms(self, api, hooked_emulator, alice, alice_key, fund, code="4242"):
        data = ordered(api, alice_key, fund, alice)
        hooked_emulator.webhooks_paused = True
        snapshot = hooked_emulator.deliver_sms(data["activation_id"], code=code)
        return data, activation_event(snapshot, f"sms-{data['id']}")

    @staticmethod
    def store_only(body: dict):
        """POST a signed webhook and hold back what its commit hands to the worker: (response, the hand-overs)."""
        raw = json.dumps(body).encode()
        headers = dict(signed_headers(WEBHOOK_SECRET, body["id"], int(time.time()), raw))
        headers.pop("Content-Type")
        with TestCase.captureOnCommitCallbacks(execute=False) as handed:
            response = Client().post(WEBHOOK_PATH, data=raw, content_type="application/json", headers=headers)
        return response, handed

    def test_the_request_stores_the_event_and_applies_nothing(self, api, hooked_emulator, alice, alice_key, fund):
        # given
        data, event = self.paused_sms(api, hooked_emulator, alice, alice_key, fund)
        # when: the webhook is answered, and what its commit hands to the worker is held back
        response, handed = self.store_only(event)
        # then: stored, answered, nothing charged yet; one task for the worker
        assert response.status_code == 200 and response.json() == {"result": "success"}
        stored = WebhookEvent.objects.get(event_id=event["id"])
        assert stored.applied_at is None
        assert Activation.objects.get(pk=data["id"]).billing_status == "held"
        assert len(handed) == 1
        # when: the worker runs it, twice (a redelivered task)
        assert tasks.apply_webhook_event(stored.pk) is True
        assert tasks.apply_webhook_event(stored.pk) is False
        # then: charged once, and the event is marked applied
        assert WebhookEvent.objects.get(pk=stored.pk).applied_at is not None
        assert Activation.objects.get(pk=data["id"]).sms_code == "4242"
        assert money(data["id"]).charged_cents == data["sell_price_cents"]
        assert_ledger_clean()

    def test_the_sweep_applies_an_event_whose_task_was_lost(self, api, hooked_emulator, alice, alice_key, fund):
        # given: stored, but its task never ran (a lost publish, a worker killed mid-way)
        data, event = self.paused_sms(api, hooked_emulator, alice, alice_key, fund)
        assert self.store_only(event)[0].status_code == 200
        # when: the sweep runs before SWEEP_AFTER has passed, then after
        first = tasks.sweep_webhook_events()
        WebhookEvent.objects.update(received_at=timezone.now() - SWEEP_AFTER - timedelta(seconds=1))
        second = tasks.sweep_webhook_events()
        third = tasks.sweep_webhook_events()
        # then: applied once, by the second
        assert first == {"applied": 0, "not_known_yet": 0, "failed": 0}
        assert second == {"applied": 1, "not_known_yet": 0, "failed": 0}
        assert third == {"applied": 0, "not_known_yet": 0, "failed": 0}
        assert money(data["id"]).charged_cents == data["sell_price_cents"]
        assert_ledger_clean()

    def test_an_event_that_came_before_its_order_was_recorded_is_applied_by_the_sweep_once_it_is(
        self, api, hooked_emulator, alice, alice_key, fund
    ):
        # given: the SMS event arrives while our record of the order does not carry its upstream id yet
        data, event = self.paused_sms(api, hooked_emulator, alice, alice_key, fund)
        Activation.objects.filter(pk=data["id"]).update(upstream_id=None)
        assert send(event).status_code == 200
        WebhookEvent.objects.update(received_at=timezone.now() - SWEEP_AFTER - timedelta(seconds=1))
        assert tasks.sweep_webhook_events() == {"applied": 0, "not_known_yet": 1, "failed": 0}
        # when: the order's answer is recorded, and the sweep runs again
        Activation.objects.filter(pk=data["id"]).update(upstream_id=data["activation_id"])
        swept = tasks.sweep_webhook_events()
        # then
        assert swept == {"applied": 1, "not_known_yet": 0, "failed": 0}
        assert Activation.objects.get(pk=data["id"]).sms_code == "4242"
        assert money(data["id"]).charged_cents == data["sell_price_cents"]
        assert_ledger_clean()

    def test_the_sweep_gives_up_after_the_retry_window(self, hooked_emulator, alice):
        snapshot = hooked_emulator.create_activation("acme-upstream", service_id="whatsapp", country_id="us")
        send(activation_event(snapshot, "stranger-old"))
        WebhookEvent.objects.update(received_at=timezone.now() - RETRY_WINDOW - timedelta(seconds=1))
        assert tasks.sweep_webhook_events() == {"applied": 0, "not_known_yet": 0, "failed": 0}

    def test_a_low_balance_event_is_applied_by_the_worker_too(self, hooked_emulator, tenant):
        body = {"id": "low-1", "api_version": "1.0", "type": "account.low_balance", "data": {"balance": 123}}
        assert self.store_only(body)[0].json() == {"result": "success"}
        assert not UpstreamAccountStatus.objects.filter(tenant=tenant, low_balance_cents=123).exists()
        assert tasks.apply_webhook_event(WebhookEvent.objects.get(event_id="low-1").pk) is True
        assert UpstreamAccountStatus.objects.get(tenant=tenant).low_balance_cents == 123
