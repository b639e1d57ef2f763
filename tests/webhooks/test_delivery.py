"""Delivering outbox events to customers' endpoints: the real flow from an SMS to a signed request, retries with
backoff for 24 h, at least once but not more, order per activation, the sweep, automatic disable with an
e-mail, manual redelivery and test events — against a real HTTP receiver on a local port."""

from __future__ import annotations

import json
import time

import pytest
from django.core import mail
from django.db import transaction

from core import events
from core.models import OutboxEvent
from tests.activations.test_api_flow import order
from webhooks import services, signing
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import delivery as delivery_service
from webhooks.services.delivery import fan_out_event, webhooks_sweep

pytestmark = pytest.mark.django_db


def register(user, receiver, events=None):
    return services.endpoint_create(user=user, url=receiver.url, events=events)


def emit(user, key, type=events.WALLET_CREDITED, ordering_key="", payload=None):
    """An event as the apps write it (in a transaction of their own)."""
    with transaction.atomic():
        events.emit(
            key=key,
            type=type,
            tenant_id=user.tenant_id,
            user_id=user.pk,
            payload=payload or {"n": key},
            ordering_key=ordering_key,
        )
    return OutboxEvent.objects.get(key=key)


def sweep(clock, seconds=0):
    """Let ``seconds`` pass, then run the beat's sweep (its tasks run in this thread)."""
    clock.advance(seconds)
    return webhooks_sweep()


def body_of(request):
    return json.loads(request.body)


# --- the tests --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_sms_delivered_by_the_emulator_reaches_the_receiver_signed_and_verifiable_within_1_s(
    api, hooked_emulator, alice, alice_key, fund, receiver, allow_loopback
):
    # given: alice has an endpoint for codes, and a number waiting for its SMS
    issued = register(alice, receiver, events=["activation.sms_received"])
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    # when: the service sends the SMS; the upstream tells us by webhook
    started = time.monotonic()
    hooked_emulator.deliver_sms(data["activation_id"], code="531902", text="Your code: 531902")
    [request] = receiver.wait_for(1, timeout=5)
    # then
    assert request.at - started < 1.0, f"the code reached the receiver after {request.at - started:.3f} s"
    assert signing.verify(issued.secret, request.headers["X-Signature"], request.body)
    event = body_of(request)
    assert event["type"] == "activation.sms_received" and request.headers["X-Event-Type"] == event["type"]
    assert request.headers["X-Event-Id"] == event["id"] and event["id"].startswith("evt_")
    assert event["data"]["activation"]["id"] == data["id"]
    assert (event["data"]["activation"]["sms_code"], event["data"]["activation"]["sms_text"]) == (
        "531902",
        "Your code: 531902",
    )
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert receiver.wait_for(2, timeout=0.3) == [request]  # nothing more (wallet events are not subscribed)


def test_a_receiver_that_fails_3_times_then_succeeds_gets_the_event_once_more_and_no_more(
    alice, receiver, allow_loopback, clock
):
    # given
    register(alice, receiver)
    receiver.script = [500, 503, 502]
    emit(alice, "credit-1")
    # when: the sweep fans the event out, then retries whatever is due, for the next 25 hours
    sweep(clock, 6)
    for _ in range(200):
        sweep(clock, 15 * 60)
    # then: four requests in all, the fourth answered 200, and the same event every time
    assert [r.headers["X-Delivery-Attempt"] for r in receiver.requests] == ["1", "2", "3", "4"]
    assert len({r.headers["X-Event-Id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("succeeded", 4, None)
    log = list(delivery.attempt_log.values_list("status_code", "succeeded"))
    assert log == [(500, False), (503, False), (502, False), (200, True)]
    assert Endpoint.objects.get().failing_since is None


def test_retries_back_off_exponentially_for_24_h_then_the_delivery_fails(alice, receiver, allow_loopback, clock):
    # given: an endpoint that never answers 2xx (but another endpoint keeps the owner's history clean)
    register(alice, receiver)
    receiver.script = [500] * 100
    event = emit(alice, "credit-1")
    fan_out_event(event_id=str(event.public_id))
    delivery = Delivery.objects.get()
    # when: each attempt is made exactly when due
    offsets = []
    while delivery.status == Delivery.Status.PENDING:
        wait = (delivery.next_attempt_at - delivery_service.timezone.now()).total_seconds()
        clock.advance(max(wait, 0))
        assert delivery_service.delivery_attempt(delivery_id=delivery.pk) is not None
        offsets.append(round((delivery_service.timezone.now() - delivery.created_at).total_seconds()))
        delivery.refresh_from_db()
    # then: 15 s, then doubling (capped at 6 h), and a last attempt when the 24 h are over
    # (waits are measured from each attempt, read after it: a loaded machine's real seconds may add a little
    # to each wait; the last attempt is anchored at the end of the 24 h)
    expected = [0, 15, 45, 105, 225, 465, 945, 1905, 3825, 7665, 15345, 30705, 52305, 73905, 86400]
    assert len(offsets) == len(expected), offsets
    waits = [b - a for a, b in zip(offsets[:-1], offsets[1:-1])]
    expected_waits = [b - a for a, b in zip(expected[:-1], expected[1:-1])]
    assert all(0 <= got - want <= 2 for got, want in zip(waits, expected_waits, strict=True)), offsets
    assert 0 <= offsets[-1] - 86400 <= 2, offsets
    assert delivery.status == "failed" and "24 h" in delivery.failure_reason
    assert len(receiver.requests) == 15
    sweep(clock, 3600)
    assert len(receiver.requests) == 15


def test_24_h_of_failures_disable_the_endpoint_and_e_mail_its_owner(
    alice, receiver, allow_loopback, clock, django_capture_on_commit_callbacks
):
    # given: an endpoint that always fails, and a second event pending behind the first
    issued = register(alice, receiver)
    receiver.script = [500] * 100
    emit(alice, "credit-1")
    sweep(clock, 6)
    # when: the retries run for 24 hours
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(100):
            sweep(clock, 30 * 60)
    # then
    endpoint = Endpoint.objects.get()
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "failing")
    assert Delivery.objects.get().status == "failed"
    [message] = mail.outbox
    assert message.to == [alice.email]
    assert "disabled" in message.subject and issued.endpoint.url in message.body
    assert "HTTP 500" in message.body and f"webhooks/{endpoint.pk}/enable" in message.body
    # and: later events are not sent to it
    requests = len(receiver.requests)
    emit(alice, "credit-2")
    sweep(clock, 6)
    sweep(clock, 60)
    assert len(receiver.requests) == requests
    assert Delivery.objects.count() == 1


def test_a_success_ends_the_failure_run(alice, receiver, allow_loopback, clock):
    # given: an endpoint failing for 20 hours
    register(alice, receiver)
    receiver.script = [500] * 12
    emit(alice, "credit-1")
    sweep(clock, 6)
    for _ in range(40):
        sweep(clock, 30 * 60)
    assert Endpoint.objects.get().failing_since is None  # the 13th attempt (after ~14.5 h) succeeded
    # when: it fails again, for less than 24 h
    receiver.script = [500] * 5
    emit(alice, "credit-2")
    sweep(clock, 6)
    sweep(clock, 20)
    # then: still enabled
    assert Endpoint.objects.get().status == "enabled"


# --- fan-out ------------------------------------------------------------------------------------------------


def test_only_the_owners_enabled_endpoints_that_subscribe_get_the_event(
    alice, bob, charlie, receiver, allow_loopback, clock
):
    # given
    wanted = register(alice, receiver, events=["wallet.credited"]).endpoint
    register(alice, receiver, events=["activation.sms_received"])  # another type
    disabled = register(alice, receiver).endpoint
    services.endpoint_disable(endpoint=disabled)
    register(bob, receiver)  # same tenant, another user
    register(charlie, receiver)  # another tenant
    # when
    emit(alice, "credit-1")
    sweep(clock, 6)
    # then
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [wanted.pk]
    assert len(receiver.requests) == 1


def test_the_sweep_fans_out_an_event_whose_hand_over_was_lost(alice, receiver, allow_loopback, clock):
    # given: the event committed, but the process died before its after-commit hand-over
    register(alice, receiver)
    event = emit(alice, "credit-1")
    # when: the sweep runs within its grace period, then after it
    assert sweep(clock, 1)["events_fanned_out"] == 0
    assert sweep(clock, 5)["events_fanned_out"] == 1
    # then: delivered once; another sweep and a late hand-over change nothing
    assert fan_out_event(event_id=str(event.public_id)) == []
    sweep(clock, 60)
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == "succeeded"


def test_an_event_of_a_user_without_endpoints_is_dispatched_with_no_delivery(alice, clock):
    event = emit(alice, "credit-1")
    sweep(clock, 6)
    event.refresh_from_db()
    assert event.dispatched_at is not None and Delivery.objects.count() == 0


# --- at least once, never twice at once ---------------------------------------------------------------------


def test_a_crashed_workers_claim_expires_and_the_delivery_is_attempted_again(alice, receiver, allow_loopback, clock):
    # given: a worker claimed the delivery and died before recording anything
    register(alice, receiver)
    fan_out_event(event_id=str(emit(alice, "credit-1").public_id))
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        locked_until=delivery_service.timezone.now() + delivery_service.lease()
    )
    # when: while the claim holds, nobody else sends it
    assert delivery_service.delivery_attempt(delivery_id=delivery.pk) is None
    sweep(clock, 20)
    assert receiver.requests == []
    # then: once it has expired, the sweep sends it
    sweep(clock, delivery_service.lease().total_seconds())
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == "succeeded"


def test_a_duplicate_task_for_a_finished_delivery_sends_nothing(alice, receiver, allow_loopback, clock):
    register(alice, receiver)
    fan_out_event(event_id=str(emit(alice, "credit-1").public_id))
    delivery = Delivery.objects.get()
    assert delivery_service.delivery_attempt(delivery_id=delivery.pk) is not None
    assert delivery_service.delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1 and Attempt.objects.count() == 1


# --- order per activation -----------------------------------------------------------------------------------


def test_events_of_one_activation_reach_the_endpoint_in_the_order_they_happened(alice, receiver, allow_loopback, clock):
    # given: the code, then the refund of one activation; the first delivery fails once
    register(alice, receiver)
    receiver.script = [500]
    first = emit(alice, "a:1:sms", events.ACTIVATION_SMS_RECEIVED, ordering_key="activation:1")
    second = emit(alice, "a:1:refund", events.ACTIVATION_REFUNDED, ordering_key="activation:1")
    other = emit(alice, "a:2:sms", events.ACTIVATION_SMS_RECEIVED, ordering_key="activation:2")
    # when: the refund is fanned out first (two workers), and each delivery is tried at once
    for event in (second, first, other):
        for delivery_id in fan_out_event(event_id=str(event.public_id)):
            delivery_service.delivery_attempt(delivery_id=delivery_id)
    # then: the refund waited for the code (which failed); the other activation did not wait
    assert [body_of(r)["data"]["n"] for r in receiver.requests] == ["a:1:sms", "a:2:sms"]
    # when: the code's retry succeeds
    for _ in range(4):
        sweep(clock, 15)
    # then: the refund follows it, once
    assert [body_of(r)["data"]["n"] for r in receiver.requests] == ["a:1:sms", "a:2:sms", "a:1:sms", "a:1:refund"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_delivery_that_fails_for_good_lets_the_next_of_its_chain_go(alice, receiver, allow_loopback, clock):
    # given: the endpoint refuses one activation's code for ever, and works otherwise
    register(alice, receiver)
    receiver.fail_if = lambda body: b"a:1:sms" in body
    emit(alice, "a:1:sms", events.ACTIVATION_SMS_RECEIVED, ordering_key="activation:1")
    emit(alice, "a:1:expired", events.ACTIVATION_EXPIRED, ordering_key="activation:1")
    sweep(clock, 6)
    # when: 24 hours pass (another activation's event gets through meanwhile)
    for step in range(60):
        if step == 24:
            emit(alice, "a:2:sms", events.ACTIVATION_SMS_RECEIVED, ordering_key="activation:2")
        sweep(clock, 30 * 60)
    # then: the expiry waited until the code had failed for good, then went out
    sent = [body_of(r)["data"]["n"] for r in receiver.requests]
    assert sent[-1] == "a:1:expired" and sent.count("a:1:expired") == 1
    assert sent.index("a:1:expired") > max(i for i, n in enumerate(sent) if n == "a:1:sms")
    assert dict(Delivery.objects.values_list("event__key", "status")) == {
        "a:1:sms": "failed",
        "a:1:expired": "succeeded",
        "a:2:sms": "succeeded",
    }
    assert Endpoint.objects.get().status == "enabled"


# --- the owner's actions ------------------------------------------------------------------------------------


def test_redeliver_sends_the_same_event_again_marked_manual(alice, receiver, allow_loopback, clock):
    # given: a delivered event
    issued = register(alice, receiver)
    fan_out_event(event_id=str(emit(alice, "credit-1").public_id))
    delivery = Delivery.objects.get()
    delivery_service.delivery_attempt(delivery_id=delivery.pk)
    # when
    services.delivery_redeliver(endpoint=issued.endpoint, delivery=delivery)
    sweep(clock, 1)
    # then
    first, again = receiver.requests
    assert first.headers["X-Event-Id"] == again.headers["X-Event-Id"] and first.body == again.body
    assert list(Attempt.objects.values_list("number", "manual")) == [(1, False), (2, True)]
    assert Delivery.objects.get().status == "succeeded"


def test_a_test_event_goes_to_that_endpoint_only_signed_like_any_other(alice, receiver, allow_loopback, clock):
    issued = register(alice, receiver, events=["wallet.low_balance"])
    register(alice, receiver)
    services.endpoint_send_test(endpoint=issued.endpoint)
    sweep(clock, 1)
    [request] = receiver.requests
    assert body_of(request)["type"] == "webhook.test"
    assert body_of(request)["data"]["endpoint_id"] == issued.endpoint.pk
    assert signing.verify(issued.secret, request.headers["X-Signature"], request.body)
    assert Delivery.objects.get().endpoint_id == issued.endpoint.pk


def test_after_a_rotation_both_secrets_verify_for_24_h_then_only_the_new_one(alice, receiver, allow_loopback, clock):
    # given
    issued = register(alice, receiver)
    rotated = services.endpoint_rotate_secret(endpoint=issued.endpoint)
    # when: an event now, and one 24 h later
    fan_out_event(event_id=str(emit(alice, "credit-1").public_id))
    sweep(clock, 1)
    clock.advance(24 * 3600 + 1)
    fan_out_event(event_id=str(emit(alice, "credit-2").public_id))
    sweep(clock, 1)
    # then
    during, after = receiver.requests
    assert signing.verify(issued.secret, during.headers["X-Signature"], during.body)
    assert signing.verify(rotated.secret, during.headers["X-Signature"], during.body)
    assert not signing.verify(issued.secret, after.headers["X-Signature"], after.body)
    assert signing.verify(rotated.secret, after.headers["X-Signature"], after.body)
    assert rotated.secret != issued.secret


def test_a_disabled_endpoints_pending_deliveries_are_closed(alice, receiver, allow_loopback, clock):
    issued = register(alice, receiver)
    receiver.script = [500]
    emit(alice, "credit-1")
    sweep(clock, 6)
    services.endpoint_disable(endpoint=issued.endpoint)
    sweep(clock, 60)
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and "disabled" in delivery.failure_reason


def test_the_low_balance_alert_reaches_the_endpoint(alice, receiver, allow_loopback, clock):
    # given
    from wallet import services as wallet

    register(alice, receiver, events=["wallet.low_balance"])
    wallet.deposit(user=alice, amount_cents=1000, idempotency_key="f", actor="test")
    wallet.low_balance_threshold_set(user=alice, threshold_cents=500)
    hold = wallet.place_hold(user=alice, amount_cents=600, idempotency_key="h")
    # when
    wallet.charge(hold_id=hold.pk, idempotency_key="c", description="SMS", actor="test")
    sweep(clock, 6)
    # then
    [request] = receiver.requests
    assert body_of(request)["type"] == "wallet.low_balance"
    assert body_of(request)["data"] == {
        "threshold_cents": 500,
        "wallet": {"balance_cents": 400, "held_cents": 0, "available_cents": 400},
    }


def test_an_endpoint_deleted_while_its_delivery_is_in_flight_is_left_alone(
    alice, receiver, allow_loopback, monkeypatch
):
    # given: the owner deletes the endpoint while our request is on its way
    issued = register(alice, receiver)
    fan_out_event(event_id=str(emit(alice, "credit-1").public_id))
    real_post = delivery_service.transport.post

    def post_then_delete(*args, **kwargs):
        result = real_post(*args, **kwargs)
        services.endpoint_delete(endpoint=issued.endpoint)
        return result

    monkeypatch.setattr(delivery_service.transport, "post", post_then_delete)
    # when
    attempt = delivery_service.delivery_attempt(delivery_id=Delivery.objects.get().pk)
    # then
    assert attempt is None and len(receiver.requests) == 1
    assert Endpoint.objects.count() == Delivery.objects.count() == Attempt.objects.count() == 0


def test_fanning_out_an_event_of_a_user_without_endpoints_costs_three_queries(alice, django_assert_num_queries):
    event = emit(alice, "credit-1")
    # the event row (locked), the user's enabled endpoints, the dispatched mark (+ the savepoint around them)
    with django_assert_num_queries(5):
        assert fan_out_event(event_id=str(event.public_id)) == []
