"""The user-row lock that serializes a user's money decisions never blocks a transaction that only references
the user (PostgreSQL). Settlement updates an activation row more than once in a transaction, so PostgreSQL
re-checks its foreign key to the user at commit (KEY SHARE on the user's row); with the lock taken FOR UPDATE,
a cancel holding it while waiting for that activation deadlocked with the settlement (the chaos test saw it)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from accounts import services
from webhooks.models import Endpoint

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_held_user_lock_lets_rows_that_reference_the_user_commit(alice):
    held, release = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                services.user_row_lock(user_id=alice.pk)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert held.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # FOR UPDATE would make the commit wait: an error
            # any row with a (deferred) foreign key to the user: its check runs at this commit
            Endpoint.objects.create(
                tenant_id=alice.tenant_id, user=alice, url="https://example.com/h", events=["*"], secret="s"
            )
        assert Endpoint.objects.filter(user=alice).exists()
    finally:
        release.set()
        holder.join(10)


def test_the_lock_still_serializes_the_users_own_decisions(alice):
    held, release, second_got_it = threading.Event(), threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                services.user_row_lock(user_id=alice.pk)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    def take_it_too():
        try:
            with transaction.atomic():
                services.user_row_lock(user_id=alice.pk)
                second_got_it.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert held.wait(10)
    second = threading.Thread(target=take_it_too)
    second.start()
    try:
        assert not second_got_it.wait(1)  # waits while the first holds it
    finally:
        release.set()
        holder.join(10)
        second.join(10)
    assert second_got_it.is_set()
