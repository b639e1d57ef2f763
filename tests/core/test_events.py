"""core.events: the outbox records an event in the change's own transaction, once per change, and announces
it only after the commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core import events
from core.models import OutboxEvent


def emit(key="activation:1:sms_received", **overrides):
    fields = {
        "key": key,
        "type": events.ACTIVATION_SMS_RECEIVED,
        "tenant_id": 1,
        "user_id": 2,
        "payload": {"activation": {"id": 1}},
        "ordering_key": "activation:1",
        **overrides,
    }
    events.emit(**fields)


@pytest.fixture
def committed():
    """The event ids ``event_committed`` announced during the test."""
    seen: list[str] = []

    def receiver(sender, event_id, **kwargs):
        seen.append(event_id)

    events.event_committed.connect(receiver, dispatch_uid="test-events")
    yield seen
    events.event_committed.disconnect(dispatch_uid="test-events")


@pytest.mark.django_db
def test_an_event_is_recorded_in_the_callers_transaction_and_announced_after_its_commit(
    committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        emit()
        assert committed == []  # not before the commit
    event = OutboxEvent.objects.get()
    assert (event.type, event.tenant_id, event.user_id, event.ordering_key) == (
        "activation.sms_received",
        1,
        2,
        "activation:1",
    )
    assert committed == [str(event.public_id)]
    assert event.event_id == f"evt_{event.public_id.hex}"


@pytest.mark.django_db
def test_the_same_change_emitted_twice_is_recorded_once(committed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            emit()
        with transaction.atomic():
            emit(payload={"activation": {"id": 1, "other": True}})
    event = OutboxEvent.objects.get()
    assert event.payload == {"activation": {"id": 1}}  # the first one stands
    # The second announcement names an id no row carries: its consumer finds nothing to do.
    assert len(committed) == 2 and committed[0] == str(event.public_id)
    assert not OutboxEvent.objects.filter(public_id=committed[1]).exists()


@pytest.mark.django_db
def test_a_rolled_back_savepoint_records_and_announces_nothing(committed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                emit()
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert OutboxEvent.objects.count() == 0
    assert committed == [] and callbacks == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_records_and_announces_nothing(committed):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit()
        raise RuntimeError("the change failed")
    assert OutboxEvent.objects.count() == 0
    assert committed == []


@pytest.mark.django_db(transaction=True)
def test_emit_outside_a_transaction_is_a_bug():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        emit()
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_event_type_is_a_bug():
    with pytest.raises(ValueError, match="Unknown customer event type"), transaction.atomic():
        emit(type="activation.teleported")


@pytest.mark.django_db
def test_prune_deletes_old_dispatched_events_only():
    with transaction.atomic():
        emit(key="old-dispatched")
        emit(key="old-undispatched")
        emit(key="recent-dispatched")
    old = timezone.now() - timedelta(days=40)
    OutboxEvent.objects.filter(key__startswith="old").update(created_at=old)
    OutboxEvent.objects.exclude(key="old-undispatched").update(dispatched_at=timezone.now())
    deleted = events.outbox_prune(created_before=timezone.now() - timedelta(days=30))
    assert deleted == 1
    assert sorted(OutboxEvent.objects.values_list("key", flat=True)) == ["old-undispatched", "recent-dispatched"]
