"""``place_hold(new_key=True)``: an order's first hold, on a key named after the activation its own transaction
has just inserted (issue 14). No look-ups and no savepoints, and still never two holds for one key."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.wallet.checks import assert_ledger_is_consistent
from tests.wallet.test_services import fund, wallet_of
from wallet import services
from wallet.errors import InsufficientBalance
from wallet.models import Hold

pytestmark = pytest.mark.django_db(transaction=True)  # real transactions: savepoints only where the code takes them


def test_a_new_key_hold_is_placed_in_the_callers_transaction_without_look_ups_or_savepoints(alice):
    fund(alice, 1_000)
    services.place_hold(user=alice, amount_cents=1, idempotency_key="warm-up")  # creates nothing new below
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        placed = services.place_hold(
            user=alice, amount_cents=300, idempotency_key="activation:1:hold:300", new_key=True
        )
    sent = [q["sql"] for q in captured.captured_queries]
    assert not [sql for sql in sent if "SAVEPOINT" in sql.upper()], sent
    assert sum('FROM "wallet_hold"' in sql for sql in sent) == 0, sent  # no look-up of the key
    assert len(sent) == 4, sent  # the wallet, its lock, the hold, the held amount
    assert placed.amount_cents == 300 and wallet_of(alice).held_cents == 301
    assert_ledger_is_consistent()


def test_a_reused_new_key_is_refused_by_the_index_and_aborts_the_whole_transaction(alice):
    fund(alice, 1_000)
    with pytest.raises(IntegrityError), transaction.atomic():
        services.place_hold(user=alice, amount_cents=300, idempotency_key="activation:2:hold:300", new_key=True)
        services.place_hold(user=alice, amount_cents=300, idempotency_key="activation:2:hold:300", new_key=True)
    assert not Hold.objects.exists() and wallet_of(alice).held_cents == 0  # nothing of it stayed


def test_short_funds_abort_the_callers_transaction_with_nothing_written(alice):
    fund(alice, 100)
    with pytest.raises(InsufficientBalance), transaction.atomic():
        services.place_hold(user=alice, amount_cents=99, idempotency_key="other", new_key=False)
        services.place_hold(user=alice, amount_cents=50, idempotency_key="activation:3:hold:50", new_key=True)
    assert not Hold.objects.exists() and wallet_of(alice).held_cents == 0
