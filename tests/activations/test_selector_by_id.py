"""``activation_get_for_user`` runs the ORM's own query compiled once (issue 14): same scoping, same column
conversions as the ORM, whatever the database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from activations.models import Activation
from activations.selectors import activation_get_for_user

pytestmark = pytest.mark.django_db


def make(user, **fields) -> Activation:
    defaults = {
        "tenant": user.tenant,
        "user": user,
        "service_id": "whatsapp",
        "country_id": "us",
        "sell_price_cents": 150,
        "max_price_cents": 150,
        "order_status": Activation.OrderStatus.PLACED,
        "upstream_id": f"up-{user.pk}-{Activation.objects.count()}",
        "phone": "+15550001111",
        "expire_at": timezone.now() + timedelta(minutes=20),
    }
    return Activation.objects.create(**{**defaults, **fields})


def test_the_users_placed_activation_comes_back_whole_with_orm_types(alice):
    made = make(alice, sms_code="424242")
    got = activation_get_for_user(user=alice, activation_id=str(made.pk))
    assert got is not None and got.pk == made.pk
    for field in Activation._meta.concrete_fields:
        assert getattr(got, field.attname) == getattr(Activation.objects.get(pk=made.pk), field.attname), field.name
    assert isinstance(got.expire_at, datetime) and got.expire_at.tzinfo is not None
    assert got.user is alice and got.tenant == alice.tenant


def test_another_users_another_tenants_and_unplaced_orders_are_none(alice, bob, charlie):
    mine = make(alice)
    assert activation_get_for_user(user=bob, activation_id=mine.pk) is None
    assert activation_get_for_user(user=charlie, activation_id=mine.pk) is None
    for status in (Activation.OrderStatus.ORDERING, Activation.OrderStatus.FAILED, Activation.OrderStatus.LOST):
        other = make(alice, order_status=status)
        assert activation_get_for_user(user=alice, activation_id=other.pk) is None


@pytest.mark.parametrize("raw", ["0", "-1", "01", "1.0", "abc", str(2**63), ""])
def test_ids_that_cannot_exist_are_none_without_a_query(alice, raw, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert activation_get_for_user(user=alice, activation_id=raw) is None
