"""Racing workers on PostgreSQL, with real threads behind a barrier: two workers handed the same delivery send it
once, two fan-outs of the same event create its deliveries once, and concurrent registrations keep the limit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core import events
from core.errors import DomainError
from core.models import OutboxEvent
from webhooks import services
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import delivery as delivery_service
from webhooks.services.endpoints import MAX_ENDPOINTS_PER_USER

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 6


def race(action, racers: int = RACERS) -> list[object]:
    """Run ``action()`` in ``racers`` threads released together; returns what each returned or raised."""
    barrier = threading.Barrier(racers)
    results: list[object] = [None] * racers

    def run(index: int) -> None:
        try:
            barrier.wait(10)
            results[index] = action()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def committed_event(user, key: str) -> OutboxEvent:
    """A committed event whose after-commit hand-over has not run (the racers below are the hand-over)."""
    return OutboxEvent.objects.create(
        key=key, type=events.WALLET_CREDITED, tenant_id=user.tenant_id, user_id=user.pk, payload={}
    )


def test_workers_racing_for_one_delivery_send_it_once(alice, receiver, allow_loopback):
    # given: a due delivery
    services.endpoint_create(user=alice, url=receiver.url)
    event = committed_event(alice, "credit-1")
    [delivery_id] = delivery_service.fan_out_event(event_id=str(event.public_id), queue=False)
    # when: six workers got the same task
    results = race(lambda: delivery_service.delivery_attempt(delivery_id=delivery_id))
    # then
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(1 for r in results if isinstance(r, Attempt)) == 1
    assert len(receiver.wait_for(2, timeout=0.5)) == 1
    assert Attempt.objects.count() == 1 and Delivery.objects.get().status == "succeeded"


def test_racing_fan_outs_of_one_event_create_its_deliveries_once(alice, bob, receiver, allow_loopback):
    # given: alice has two endpoints; an event whose hand-over reached several workers (and the sweep)
    services.endpoint_create(user=alice, url=receiver.url)
    services.endpoint_create(user=alice, url=receiver.url)
    event = committed_event(alice, "credit-1")
    # when
    results = race(lambda: delivery_service.fan_out_event(event_id=str(event.public_id), queue=False))
    # then: one fan-out created both deliveries; the others found it dispatched
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(len(r) for r in results) == [0] * (RACERS - 1) + [2]
    assert Delivery.objects.filter(event=event).count() == 2


def test_concurrent_registrations_respect_the_limit(alice, allow_loopback):
    # given: one registration left before the limit
    for _ in range(MAX_ENDPOINTS_PER_USER - 1):
        services.endpoint_create(user=alice, url="http://127.0.0.1:9/hook")
    # when: six requests race for it
    results = race(lambda: services.endpoint_create(user=alice, url="http://127.0.0.1:9/hook"))
    # then
    assert sum(1 for r in results if isinstance(r, services.IssuedEndpoint)) == 1
    assert all(isinstance(r, services.IssuedEndpoint | DomainError) for r in results), results
    assert Endpoint.objects.filter(user=alice).count() == MAX_ENDPOINTS_PER_USER
