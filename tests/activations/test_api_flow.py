"""The documented activation flow against the in-process emulator: order, list, get, poll, cancel."""

import pytest
from django.core.management import call_command

from activations.models import Activation
from wallet import selectors as wallet_selectors
from wallet.models import JournalEntry

pytestmark = pytest.mark.django_db

STYLES = {
    "query": lambda p: f"/api/v1/index.php?path={p}",
    "path_info": lambda p: f"/api/v1/index.php/{p}",
    "clean": lambda p: f"/api/v1/{p}",
}


def url(style, path, query=""):
    base = STYLES[style](path)
    if not query:
        return base
    return f"{base}{'&' if '?' in base else '?'}{query}"


def order(api, key, style="clean", **body):
    body = {"service_id": "whatsapp", "country_id": "us", **body}
    return api.post(url(style, "activations"), body, format="json", HTTP_X_API_KEY=key)


def balance(user):
    return wallet_selectors.wallet_summary(user=user)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["ok"] is False and body["code"] == code and body["error"]
    return body


def age(activation_id):
    """Make the stored state older than the freshness window, as if the client polled seconds later."""
    Activation.objects.filter(pk=activation_id).update(next_sync_at=None, last_synced_at=None)


def assert_ledger_clean():
    call_command("verify_ledger")


@pytest.mark.parametrize("style", STYLES)
def test_the_whole_usage_flow_charges_once_when_the_sms_arrives(api, emulator, alice, alice_key, fund, style):
    # given
    fund(alice, 5000)
    # when: order
    created = order(api, alice_key, style)
    # then
    assert created.status_code == 200, created.content
    data = created.json()["data"]
    assert set(data) == {"id", "activation_id", "phone", "country_id", "service_id", "sell_price_cents", "price_cents"}
    assert data["phone"].startswith("+")
    assert (data["service_id"], data["country_id"]) == ("whatsapp", "us")
    assert data["sell_price_cents"] >= data["price_cents"] > 0
    sell = data["sell_price_cents"]
    assert balance(alice).held_cents == sell and balance(alice).balance_cents == 5000

    # when: poll before the SMS
    poll = api.get(url(style, f"activations/{data['id']}/poll"), HTTP_X_API_KEY=alice_key).json()["data"]
    assert poll == {
        "phone": data["phone"],
        "sms_status": "smsRequested",
        "activation_status": "active",
        "sms_code": None,
        "sms_text": None,
        "expired": False,
    }

    # when: the SMS arrives upstream, then the client polls and gets, many times
    emulator.deliver_sms(data["activation_id"], code="123456", text="Your code is 123456")
    age(data["id"])
    for _ in range(3):
        poll = api.get(url(style, f"activations/{data['id']}/poll"), HTTP_X_API_KEY=alice_key).json()["data"]
        got = api.get(url(style, f"activations/{data['id']}"), HTTP_X_API_KEY=alice_key).json()["data"]
        age(data["id"])

    # then
    assert poll["sms_status"] == "smsReceived" and poll["sms_code"] == "123456"
    assert got["billing_status"] == "billed"
    assert got["sms_text"] == "Your code is 123456"
    assert isinstance(got["expire_at"], int)
    assert set(got) >= {
        "id",
        "activation_id",
        "phone",
        "country_id",
        "service_id",
        "price_cents",
        "sell_price_cents",
        "sms_status",
        "activation_status",
        "billing_status",
        "sms_code",
        "sms_text",
        "expire_at",
        "is_retriable",
    }
    assert balance(alice).balance_cents == 5000 - sell
    assert balance(alice).held_cents == 0
    assert JournalEntry.objects.filter(idempotency_key=f"activation:{data['id']}:charge").count() == 1
    assert_ledger_clean()


def test_an_expired_activation_releases_the_hold(api, emulator, alice, alice_key, fund):
    # given
    fund(alice, 1000)
    data = order(api, alice_key).json()["data"]
    # when
    emulator.expire_activation(data["activation_id"])
    age(data["id"])
    poll = api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key).json()["data"]
    # then
    assert poll["expired"] is True and poll["activation_status"] == "expired"
    assert balance(alice).held_cents == 0 and balance(alice).balance_cents == 1000
    assert Activation.objects.get(pk=data["id"]).billing_status == "released"
    assert_ledger_clean()


def test_cancel_before_the_sms_charges_nothing(api, emulator, alice, alice_key, fund):
    # given
    fund(alice, 1000)
    data = order(api, alice_key).json()["data"]
    # when
    response = api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key)
    again = api.post(f"/api/v1/index.php?path=activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key)
    # then
    assert response.json() == {"ok": True, "data": {"result": "canceled"}}
    assert again.json() == {"ok": True, "data": {"result": "canceled"}}
    assert balance(alice).balance_cents == 1000 and balance(alice).held_cents == 0
    assert emulator.activations()[0]["activation_status"] == "canceled"
    assert_ledger_clean()


def test_cancel_after_the_sms_refunds_once_and_finalizes_upstream(
    api, emulator, alice, alice_key, fund, django_capture_on_commit_callbacks
):
    # given
    fund(alice, 1000)
    data = order(api, alice_key).json()["data"]
    emulator.deliver_sms(data["activation_id"], code="4242")
    age(data["id"])
    api.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=alice_key)
    assert balance(alice).balance_cents == 1000 - data["sell_price_cents"]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key)
    second = api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key)
    # then
    assert first.json()["data"] == {"result": "canceled"} and second.json()["data"] == {"result": "canceled"}
    assert balance(alice).balance_cents == 1000
    assert JournalEntry.objects.filter(idempotency_key=f"activation:{data['id']}:refund").count() == 1
    assert emulator.activations()[0]["activation_status"] == "finalized"
    assert Activation.objects.get(pk=data["id"]).billing_status == "refunded"
    assert_ledger_clean()


def test_a_second_order_beyond_the_available_balance_is_402_while_the_first_is_pending(
    api, emulator, alice, alice_key, fund
):
    # given
    sell = assert_error(order(api, alice_key), 402, "insufficient_balance")["required_cents"]  # nothing funded yet
    fund(alice, sell + sell // 2)
    assert order(api, alice_key).status_code == 200
    # when
    second = order(api, alice_key)
    # then
    body = assert_error(second, 402, "insufficient_balance")
    # balance_cents is what this order could use: the first order's hold is set aside
    assert body["balance_cents"] == sell // 2
    assert body["held_cents"] == sell
    assert body["required_cents"] == sell
    assert Activation.objects.filter(order_status="placed").count() == 1


def test_an_insufficient_balance_names_the_numbers(api, emulator, alice, alice_key, fund):
    fund(alice, 1)
    body = assert_error(order(api, alice_key), 402, "insufficient_balance")
    assert body["balance_cents"] == 1 and body["required_cents"] > 1
    assert emulator.activations() == []


def test_the_users_cap_on_active_activations_is_429_with_its_own_code(api, emulator, alice, alice_key, fund):
    # given
    alice.tenant.max_active_activations_per_user = 2
    alice.tenant.save()
    fund(alice, 100_000)
    assert order(api, alice_key).status_code == 200
    assert order(api, alice_key).status_code == 200
    # when
    third = order(api, alice_key)
    # then
    assert_error(third, 429, "active_limit")
    assert len(emulator.activations()) == 2
    assert balance(alice).held_cents == sum(
        a.sell_price_cents for a in Activation.objects.filter(order_status="placed")
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_id": ""}, "service_id"),
        ({"service_id": "x" * 31}, "service_id"),
        ({"service_id": "what's app"}, "service_id"),
        ({"country_id": "u"}, "country_id"),
        ({"country_id": "abcdefghij"}, "country_id"),
        ({"max_price": 0}, "max_price"),
        ({"max_price": 10001}, "max_price"),
        ({"max_price": "cheap"}, "max_price"),
    ],
)
def test_invalid_order_parameters_are_400_naming_the_field(api, emulator, alice, alice_key, fund, body, field):
    fund(alice, 5000)
    response = order(api, alice_key, **body)
    assert field in assert_error(response, 400, "invalid_params")["error"]
    assert Activation.objects.count() == 0


def test_a_form_body_orders_too(api, emulator, alice, alice_key, fund):
    fund(alice, 5000)
    response = api.post(
        "/api/v1/index.php?path=activations", {"service_id": "telegram", "country_id": "uk"}, HTTP_X_API_KEY=alice_key
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["service_id"] == "telegram"


def test_max_price_below_the_sell_price_is_409_with_the_suggested_price(api, emulator, alice, alice_key, fund):
    fund(alice, 5000)
    body = assert_error(order(api, alice_key, max_price=1), 409, "max_price_exceeded")
    assert body["suggested_cents"] > 1
    assert balance(alice).held_cents == 0
    assert emulator.activations() == []


def test_a_price_rise_within_max_price_is_ordered_again_with_the_order_id(api, emulator, alice, alice_key, fund):
    # given: the quote is cached, then the upstream price rises
    fund(alice, 10_000)
    quote = api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key).json()["data"]
    emulator.set_price(
        "whatsapp",
        "us",
        min=quote["backend_cents"] + 50,
        max=quote["backend_cents"] + 200,
        suggested=quote["backend_cents"] + 50,
        count=100,
    )
    # when
    response = order(api, alice_key, max_price=quote["sell_price_cents"] + 500)
    # then
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["price_cents"] == quote["backend_cents"] + 50
    assert quote["sell_price_cents"] < data["sell_price_cents"] <= quote["sell_price_cents"] + 500
    assert balance(alice).held_cents == data["sell_price_cents"]


def test_a_price_rise_beyond_max_price_is_409_and_holds_nothing(api, emulator, alice, alice_key, fund):
    fund(alice, 10_000)
    quote = api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key).json()["data"]
    emulator.set_price(
        "whatsapp",
        "us",
        min=quote["backend_cents"] + 500,
        max=quote["backend_cents"] + 900,
        suggested=quote["backend_cents"] + 500,
        count=100,
    )
    body = assert_error(order(api, alice_key), 409, "max_price_exceeded")
    assert body["suggested_cents"] > quote["sell_price_cents"]
    assert balance(alice).held_cents == 0


def test_no_numbers_is_a_clear_error(api, emulator, alice, alice_key, fund):
    fund(alice, 10_000)
    emulator.set_price("whatsapp", "us", min=50, max=90, suggested=60, count=0)
    assert_error(order(api, alice_key), 404, "no_numbers")
    assert balance(alice).held_cents == 0


def test_the_same_idempotency_key_returns_the_first_result_and_orders_nothing_new(
    api, emulator, alice, alice_key, fund
):
    fund(alice, 10_000)
    first = api.post(
        "/api/v1/activations",
        {"service_id": "whatsapp", "country_id": "us"},
        format="json",
        HTTP_X_API_KEY=alice_key,
        HTTP_IDEMPOTENCY_KEY="order-1",
    )
    second = api.post(
        "/api/v1/activations",
        {"service_id": "whatsapp", "country_id": "us"},
        format="json",
        HTTP_X_API_KEY=alice_key,
        HTTP_IDEMPOTENCY_KEY="order-1",
    )
    other = api.post(
        "/api/v1/activations",
        {"service_id": "whatsapp", "country_id": "us"},
        format="json",
        HTTP_X_API_KEY=alice_key,
        HTTP_IDEMPOTENCY_KEY="order-2",
    )
    assert first.json() == second.json()
    assert other.json()["data"]["id"] != first.json()["data"]["id"]
    assert len(emulator.activations()) == 2


def test_list_is_paginated_most_recent_first(api, emulator, alice, alice_key, fund, django_assert_max_num_queries):
    # given
    fund(alice, 100_000)
    alice.tenant.max_active_activations_per_user = 10
    alice.tenant.save()
    ids = [order(api, alice_key).json()["data"]["id"] for _ in range(5)]
    # when
    with django_assert_max_num_queries(8):
        page1 = api.get("/api/v1/activations?page=1&limit=2", HTTP_X_API_KEY=alice_key).json()["data"]
    page3 = api.get("/api/v1/index.php?path=activations&page=3&limit=2", HTTP_X_API_KEY=alice_key).json()["data"]
    default = api.get("/api/v1/activations", HTTP_X_API_KEY=alice_key).json()["data"]
    # then
    assert [a["id"] for a in page1["activations"]] == ids[::-1][:2]
    assert (page1["page"], page1["limit"], page1["total"]) == (1, 2, 5)
    assert [a["id"] for a in page3["activations"]] == [ids[0]]
    assert (default["page"], default["limit"]) == (1, 20)
    item = page1["activations"][0]
    assert set(item) == {
        "id",
        "activation_id",
        "phone",
        "country_id",
        "service_id",
        "price_cents",
        "sell_price_cents",
        "sms_status",
        "activation_status",
        "created_at",
    }
    assert len(item["created_at"]) == 19


def test_the_list_costs_the_same_queries_for_5_or_25_items(
    api, emulator, alice, alice_key, fund, django_assert_num_queries
):
    fund(alice, 1_000_000)
    alice.tenant.max_active_activations_per_user = 50
    alice.tenant.save()
    for _ in range(5):
        order(api, alice_key)
    api.get("/api/v1/activations?limit=50", HTTP_X_API_KEY=alice_key)  # warm: key touch, rate-limit window
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        api.get("/api/v1/activations?limit=50", HTTP_X_API_KEY=alice_key)
    for _ in range(20):
        order(api, alice_key)
    with CaptureQueriesContext(connection) as twenty_five:
        api.get("/api/v1/activations?limit=50", HTTP_X_API_KEY=alice_key)
    assert len(twenty_five.captured_queries) == len(five.captured_queries)


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=x", "limit=0", "limit=51", "limit=abc"])
def test_bad_list_parameters_are_400(api, alice_key, query):
    assert_error(api.get(f"/api/v1/activations?{query}", HTTP_X_API_KEY=alice_key), 400, "invalid_params")


@pytest.mark.parametrize(
    "path",
    [
        "activations/abc",
        "activations/-1",
        "activations/0",
        "activations/1e3",
        "activations/99999999999999999999999",
        "activations/123456/poll",
        "activations/007/cancel",
    ],
)
def test_unknown_or_absurd_ids_are_404(api, emulator, alice_key, path):
    method = api.post if path.endswith("cancel") else api.get
    assert_error(method(f"/api/v1/{path}", HTTP_X_API_KEY=alice_key), 404, "not_found")


def test_another_users_and_another_tenants_activations_are_404(
    api, emulator, alice, alice_key, bob_key, charlie_key, fund
):
    # given
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    for key in (bob_key, charlie_key):
        # when / then
        for path in (f"activations/{data['id']}", f"activations/{data['id']}/poll"):
            assert_error(api.get(f"/api/v1/{path}", HTTP_X_API_KEY=key), 404, "not_found")
        assert_error(api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=key), 404, "not_found")
        assert api.get("/api/v1/activations", HTTP_X_API_KEY=key).json()["data"]["total"] == 0
    assert Activation.objects.get(pk=data["id"]).activation_status == "active"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "activations"),
        ("delete", "activations/1"),
        ("post", "activations/1/poll"),
        ("get", "activations/1/cancel"),
        ("post", "activations/1"),
    ],
)
def test_wrong_methods_are_405(api, alice_key, method, path):
    response = getattr(api, method)(f"/api/v1/{path}", HTTP_X_API_KEY=alice_key)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"]


def test_a_cancel_before_cancelable_after_is_409_with_the_time(api, emulator, alice, alice_key, fund):
    emulator.configure(cancel_delay=120)
    fund(alice, 5000)
    data = order(api, alice_key).json()["data"]
    body = assert_error(
        api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key), 409, "not_cancelable_yet"
    )
    assert isinstance(body["cancelable_at"], int)
    assert balance(alice).held_cents == data["sell_price_cents"]


def test_a_finalized_activation_cannot_be_canceled_for_a_refund(api, emulator, alice, alice_key, fund):
    # given: the code arrived, was charged, and the user finalized
    fund(alice, 1000)
    data = order(api, alice_key).json()["data"]
    emulator.deliver_sms(data["activation_id"], code="5555")
    age(data["id"])
    api.get(f"/api/v1/activations/{data['id']}", HTTP_X_API_KEY=alice_key)
    assert api.post(f"/api/v1/activations/{data['id']}/finalize", HTTP_X_API_KEY=alice_key).status_code == 200
    # when
    response = api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key)
    # then
    assert_error(response, 409, "not_cancelable")
    assert balance(alice).balance_cents == 1000 - data["sell_price_cents"]


def test_a_cancel_the_supplier_refuses_is_409_not_a_false_success(api, emulator, alice, alice_key, fund):
    fund(alice, 1000)
    data = order(api, alice_key).json()["data"]
    emulator.add_fault(endpoint="cancel_activation", kind="error", status=400, count=1)
    assert_error(api.post(f"/api/v1/activations/{data['id']}/cancel", HTTP_X_API_KEY=alice_key), 409,
                 "not_cancelable")
    assert Activation.objects.get(pk=data["id"]).billing_status == "held"


def test_the_same_idempotency_key_for_a_different_order_is_409(api, emulator, alice, alice_key, fund):
    fund(alice, 10_000)
    first = api.post("/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json",
                     HTTP_X_API_KEY=alice_key, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 200
    other = api.post("/api/v1/activations", {"service_id": "telegram", "country_id": "uk"}, format="json",
                     HTTP_X_API_KEY=alice_key, HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(other, 409, "idempotency_key_reused")
    assert len(emulator.activations()) == 1


def test_an_idempotency_key_of_a_failed_order_may_be_used_again(api, emulator, alice, alice_key, fund):
    fund(alice, 10_000)
    emulator.set_price("whatsapp", "us", min=50, max=90, suggested=60, count=0)
    body = {"service_id": "whatsapp", "country_id": "us"}
    failed = api.post("/api/v1/activations", body, format="json", HTTP_X_API_KEY=alice_key, HTTP_IDEMPOTENCY_KEY="k-2")
    assert failed.status_code == 404
    emulator.set_price("whatsapp", "us", min=50, max=90, suggested=60, count=10)
    from django.core.cache import cache

    cache.clear()
    again = api.post("/api/v1/activations", body, format="json", HTTP_X_API_KEY=alice_key, HTTP_IDEMPOTENCY_KEY="k-2")
    assert again.status_code == 200, again.content
