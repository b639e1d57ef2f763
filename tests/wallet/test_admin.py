"""The operator admin of the ledger: read-only screens, and the one write it offers (an adjustment)."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.factories import OperatorFactory
from wallet import services
from wallet.models import Account, JournalEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def alices_wallet(alice):
    services.deposit(user=alice, amount_cents=1000, idempotency_key="d:1", actor="cli")
    services.place_hold(user=alice, amount_cents=300, idempotency_key="h:1")
    return Account.objects.get(user=alice)


def adjust_url(account) -> str:
    return reverse("admin:wallet_account_adjust", args=[account.pk])


def test_the_ledger_screens_render_and_are_read_only(admin_client, alices_wallet):
    entry = JournalEntry.objects.get()
    pages = [
        reverse("admin:wallet_account_changelist"),
        reverse("admin:wallet_account_changelist") + "?q=alice",
        reverse("admin:wallet_account_change", args=[alices_wallet.pk]),
        reverse("admin:wallet_journalentry_changelist") + "?q=d:1",
        reverse("admin:wallet_journalentry_change", args=[entry.pk]),
        reverse("admin:wallet_hold_changelist") + "?q=alice",
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url

    for model in ("account", "journalentry", "hold"):
        assert admin_client.get(reverse(f"admin:wallet_{model}_add")).status_code == 403
    assert admin_client.post(reverse("admin:wallet_account_delete", args=[alices_wallet.pk])).status_code == 403
    page = admin_client.get(reverse("admin:wallet_account_change", args=[alices_wallet.pk])).content.decode()
    assert adjust_url(alices_wallet) in page


def test_an_operator_adjusts_a_wallet_once_even_when_the_form_is_submitted_twice(admin_client, alices_wallet, operator):
    # given the form, rendered once
    form_page = admin_client.get(adjust_url(alices_wallet))
    submission_id = form_page.context["form"].initial["submission_id"]
    data = {"amount_cents": "-250", "reason": "Duplicate top-up", "submission_id": str(submission_id)}

    # when it is submitted twice
    first = admin_client.post(adjust_url(alices_wallet), data)
    second = admin_client.post(adjust_url(alices_wallet), data)

    # then
    assert first.status_code == second.status_code == 302
    entry = JournalEntry.objects.get(kind="adjustment")
    assert (entry.idempotency_key, entry.actor, entry.description) == (
        f"admin:adjust:{submission_id}",
        f"operator:{operator.pk}",
        "Duplicate top-up",
    )
    alices_wallet.refresh_from_db()
    assert alices_wallet.balance_cents == 750


def test_an_adjustment_beyond_the_available_funds_is_shown_as_an_error(admin_client, alices_wallet):
    data = {"amount_cents": "-701", "reason": "Too much", "submission_id": str(uuid.uuid4())}

    response = admin_client.post(adjust_url(alices_wallet), data)

    assert response.status_code == 200
    assert "Insufficient funds" in response.content.decode()
    assert not JournalEntry.objects.filter(kind="adjustment").exists()


@pytest.mark.parametrize(
    "data",
    [
        {"amount_cents": "0", "reason": "x"},
        {"amount_cents": "10", "reason": " "},
        {"amount_cents": "1.5", "reason": "x"},
        {"amount_cents": "10", "reason": "x", "submission_id": ""},
    ],
)
def test_the_adjustment_form_refuses_bad_input(admin_client, alices_wallet, data):
    data = {"submission_id": str(uuid.uuid4()), **data}

    response = admin_client.post(adjust_url(alices_wallet), data)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not JournalEntry.objects.filter(kind="adjustment").exists()


def test_only_user_wallets_can_be_adjusted(admin_client, alices_wallet):
    funding = Account.objects.get(type=Account.Type.FUNDING)

    assert admin_client.get(adjust_url(funding)).status_code == 404


def test_staff_without_the_adjust_permission_cannot_adjust(client, alices_wallet):
    client.force_login(OperatorFactory(is_superuser=False))

    response = client.post(
        adjust_url(alices_wallet), {"amount_cents": "5", "reason": "x", "submission_id": str(uuid.uuid4())}
    )

    assert response.status_code == 403
    assert not JournalEntry.objects.filter(kind="adjustment").exists()
