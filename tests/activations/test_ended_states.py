"""The answers about an activation that has ended agree with each other, with the README and with the supplier's
rules (issue 19, item 6): an ended activation is never ``is_retriable``; a cancel that already happened answers
the same again (safe to retry, nothing changes); any other end (finalized, expired, refunded by someone else) is
409 ``not_cancelable`` with the reason."""

import pytest

from activations import services
from activations.models import Activation
from wallet import selectors as wallet_selectors
from wallet.models import JournalEntry

pytestmark = pytest.mark.django_db


def order(api, key):
    response = api.post(
        "/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json", HTTP_X_API_KEY=key
    )
    assert response.status_code == 200, response.content
    return response.json()["data"]


def fresh(api, key, activation_id):
    Activation.objects.filter(pk=activation_id).update(next_sync_at=None, last_synced_at=None)
    response = api.get(f"/api/v1/activations/{activation_id}", HTTP_X_API_KEY=key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def cancel(api, key, activation_id):
    return api.post(f"/api/v1/activations/{activation_id}/cancel", HTTP_X_API_KEY=key)


def charged_with_sms(api, emulator, key):
    data = order(api, key)
    emulator.deliver_sms(data["activation_id"], code="4242")
    state = fresh(api, key, data["id"])
    assert state["billing_status"] == "billed" and state["is_retriable"] is True  # the emulator allows retries
    return data


def assert_not_cancelable(response, reason):
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "not_cancelable" and reason in body["error"]


def test_a_canceled_activation_is_not_retriable_and_a_second_cancel_answers_the_same(
    api, emulator, alice, alice_key, fund
):
    fund(alice, 1000)
    data = order(api, alice_key)
    assert cancel(api, alice_key, data["id"]).json() == {"ok": True, "data": {"result": "canceled"}}
    # then the state says so, and canceling again is a harmless replay
    state = fresh(api, alice_key, data["id"])
    assert (state["activation_status"], state["billing_status"], state["is_retriable"]) == (
        "canceled",
        "released",
        False,
    )
    assert cancel(api, alice_key, data["id"]).json() == {"ok": True, "data": {"result": "canceled"}}
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == 1000


def test_a_finalized_activation_is_not_retriable_nor_cancelable(api, emulator, alice, alice_key, fund):
    fund(alice, 1000)
    data = charged_with_sms(api, emulator, alice_key)
    assert api.post(f"/api/v1/activations/{data['id']}/finalize", HTTP_X_API_KEY=alice_key).status_code == 200
    state = fresh(api, alice_key, data["id"])
    assert (state["activation_status"], state["is_retriable"]) == ("finalized", False)
    assert_not_cancelable(cancel(api, alice_key, data["id"]), "finished")
    retry = api.post(f"/api/v1/activations/{data['id']}/retry", HTTP_X_API_KEY=alice_key)
    assert retry.status_code == 409 and retry.json()["code"] == "not_retriable"


def test_a_cancel_after_the_sms_refunds_and_its_replay_answers_the_same_without_a_second_refund(
    api, emulator, alice, alice_key, fund
):
    fund(alice, 1000)
    data = charged_with_sms(api, emulator, alice_key)
    assert cancel(api, alice_key, data["id"]).status_code == 200
    state = fresh(api, alice_key, data["id"])
    assert (state["billing_status"], state["is_retriable"]) == ("refunded", False)
    # when the client retries (its first answer was lost)
    again = cancel(api, alice_key, data["id"])
    # then
    assert again.json() == {"ok": True, "data": {"result": "canceled"}}
    assert JournalEntry.objects.filter(idempotency_key=f"activation:{data['id']}:refund").count() == 1
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == 1000


def test_an_activation_refunded_by_an_operator_is_not_canceled_by_the_user(api, emulator, alice, alice_key, fund):
    # given an operator's goodwill refund (the number was closed, the money given back)
    fund(alice, 1000)
    data = charged_with_sms(api, emulator, alice_key)
    services.activation_refund(activation=Activation.objects.get(pk=data["id"]), actor="operator:1")
    # when the user cancels it: it was not canceled, it is over
    response = cancel(api, alice_key, data["id"])
    # then
    assert_not_cancelable(response, "already refunded")
    state = fresh(api, alice_key, data["id"])
    assert (state["billing_status"], state["is_retriable"]) == ("refunded", False)
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == 1000


def test_an_activation_that_expired_without_an_sms_is_not_cancelable(api, emulator, alice, alice_key, fund):
    fund(alice, 1000)
    data = order(api, alice_key)
    emulator.expire_activation(data["activation_id"])
    state = fresh(api, alice_key, data["id"])
    assert (state["activation_status"], state["billing_status"], state["is_retriable"]) == (
        "expired",
        "released",
        False,
    )
    assert_not_cancelable(cancel(api, alice_key, data["id"]), "nothing was charged")
    assert wallet_selectors.wallet_summary(user=alice).balance_cents == 1000
