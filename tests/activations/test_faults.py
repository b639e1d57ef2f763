"""Upstream faults never lose money or an SMS (races are in ``test_races``)."""

import pytest
from django.core.management import call_command

from activations import services
from activations.models import Activation
from wallet import selectors as wallet_selectors

from .test_api_flow import age, assert_error, order


def balance(user):
    return wallet_selectors.wallet_summary(user=user)


@pytest.mark.django_db
class TestFaults:
    @pytest.mark.parametrize("kind", ["timeout", "error", "garbage"])
    def test_a_failed_create_releases_the_hold_and_is_kept_for_reconciliation(
        self, api, emulator, alice, alice_key, fund, kind
    ):
        # given
        fund(alice, 5000)
        api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key)  # quote cached
        emulator.add_fault(endpoint="create_activation", kind=kind, count=1)
        # when
        response = order(api, alice_key)
        # then
        assert_error(response, 503, "upstream_unavailable")
        assert balance(alice).held_cents == 0 and balance(alice).balance_cents == 5000
        lost = Activation.objects.get()
        assert lost.order_status == "lost" and lost.billing_status == "released"
        assert api.get("/api/v1/activations", HTTP_X_API_KEY=alice_key).json()["data"]["total"] == 0
        call_command("verify_ledger")

    def test_an_upstream_429_on_create_is_503_with_nothing_held(self, api, emulator, alice, alice_key, fund):
        fund(alice, 5000)
        api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key)
        emulator.add_fault(endpoint="create_activation", kind="ratelimit", count=1)
        assert_error(order(api, alice_key), 503, "upstream_unavailable")
        assert balance(alice).held_cents == 0
        assert Activation.objects.get().order_status == "failed"

    @pytest.mark.parametrize("kind", ["timeout", "error", "garbage", "ratelimit"])
    def test_get_and_poll_answer_from_the_database_when_the_upstream_fails(
        self, api, emulator, alice, alice_key, fund, kind
    ):
        # given
        fund(alice, 5000)
        data = order(api, alice_key).json()["data"]
        age(data["id"])
        emulator.add_fault(endpoint="get_activation", kind=kind, count=10)
        # when
        poll = api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key)
        got = api.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=alice_key)
        # then
        assert poll.status_code == 200 and got.status_code == 200
        assert poll.json()["data"]["sms_status"] == "smsRequested"
        assert got.json()["data"]["billing_status"] == "held"

    def test_an_sms_delivered_during_an_outage_is_charged_once_it_is_seen(self, api, emulator, alice, alice_key, fund):
        # given
        fund(alice, 5000)
        data = order(api, alice_key).json()["data"]
        emulator.add_fault(endpoint="get_activation", kind="error", count=3)
        emulator.deliver_sms(data["activation_id"], code="777")
        for _ in range(3):
            age(data["id"])
            api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key)
        # when the upstream is back
        age(data["id"])
        poll = api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key).json()["data"]
        # then
        assert poll["sms_code"] == "777"
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
        call_command("verify_ledger")

    def test_a_stale_snapshot_changes_nothing(self, api, emulator, alice, alice_key, fund):
        # given
        fund(alice, 5000)
        data = order(api, alice_key).json()["data"]
        emulator.deliver_sms(data["activation_id"], code="1")
        age(data["id"])
        api.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=alice_key)
        activation = Activation.objects.get(pk=data["id"])
        from dataclasses import replace

        from platfone.types import Activation as Snapshot

        fresh = Snapshot.from_json(emulator.activations()[0])
        stale = replace(
            fresh,
            sms_status="smsRequested",
            sms_code=None,
            sms_text=None,
            billing_status="reserved",
            updated_at=fresh.updated_at - 10,
        )
        # when
        services.apply_upstream_state(activation, stale, actor="test")
        # then
        activation.refresh_from_db()
        assert activation.sms_status == "smsReceived" and activation.sms_code == "1"
        assert activation.billing_status == "billed"


@pytest.mark.django_db
def test_an_order_cut_off_mid_way_is_closed_by_the_beat_and_its_hold_released(emulator, alice, fund):
    # given: a process died between placing the hold and hearing from the upstream
    from datetime import timedelta

    from django.utils import timezone

    from activations import tasks
    from activations.services.ordering import _open_order

    fund(alice, 1000)
    activation = _open_order(user=alice, tenant=alice.tenant, service_id="whatsapp", country_id="us", sell_cents=300,
                             max_sell=300,
                             idempotency_key=None)
    Activation.objects.filter(pk=activation.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert balance(alice).held_cents == 300
    # when
    tasks.expire_overdue()
    # then
    activation.refresh_from_db()
    assert activation.order_status == "lost" and activation.billing_status == "released"
    assert balance(alice).held_cents == 0 and balance(alice).balance_cents == 1000


@pytest.mark.django_db
def test_an_unexpected_crash_while_ordering_keeps_the_order_as_lost_and_releases_the_hold(
    api, emulator, alice, alice_key, fund, monkeypatch
):
    # given
    from platfone.client import PlatfoneClient

    fund(alice, 1000)
    api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key)

    def explode(self, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(PlatfoneClient, "create_activation", explode)
    api.raise_request_exception = False
    # when
    response = order(api, alice_key)
    # then
    assert_error(response, 500, "server_error")
    lost = Activation.objects.get()
    assert lost.order_status == "lost" and lost.billing_status == "released"
    assert balance(alice).held_cents == 0
