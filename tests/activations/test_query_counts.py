"""The hot paths' SQL query counts, pinned (issue 14): a regression fails here, without any timing.

"Warm" means what a busy client sees: its key is in the key cache (its previous request filled it), the price of
the pair and the tenant's pricing terms are cached, and the activation's poll mark is recent. Counts include
savepoints, as ``django_assert_max_num_queries`` counts every statement; upstream calls go to the in-process
emulator and make no query.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hot_path_caches(settings):
    """The suite runs with these caches off (reseller/test_settings.py); here they are on, as in production."""
    settings.API_KEY_CACHE_SECONDS = 60
    settings.PRICING_TERMS_CACHE_SECONDS = 60


PRICE = "/api/v1/price?service_id=whatsapp&country_id=us"


@pytest.fixture
def client_of(api, emulator, alice, alice_key, fund):
    """alice, funded, with a placed activation; her key, the price and the poll mark warm."""
    fund(alice, 100_000)
    api.credentials(HTTP_X_API_KEY=alice_key)
    created = api.post("/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json")
    assert created.status_code == 200, created.content
    activation_id = created.json()["data"]["id"]
    assert api.get(f"/api/v1/activations/{activation_id}/poll").status_code == 200
    assert api.get(PRICE).status_code == 200
    api.activation_id = activation_id
    return api


def test_a_poll_makes_one_query(client_of, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client_of.get(f"/api/v1/activations/{client_of.activation_id}/poll")
    assert response.status_code == 200 and response.json()["data"]["phone"]


def test_getting_an_activation_makes_one_query(client_of, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client_of.get(f"/api/v1/activations/{client_of.activation_id}")
    assert response.status_code == 200 and response.json()["data"]["id"] == client_of.activation_id


def test_the_wallet_makes_one_query(client_of, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client_of.get("/api/v1/wallet")
    assert response.status_code == 200 and response.json()["data"]["balance_cents"] == 100_000


def test_a_warm_price_makes_at_most_one_query(client_of, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client_of.get(PRICE)
    assert response.status_code == 200 and response.json()["data"]["sell_price_cents"] > 0


def statements(captured) -> list[str]:
    """What the request sent to the database, as production counts it: SQLite's BEGIN IMMEDIATE and COMMIT
    (PostgreSQL's BEGIN and COMMIT are not in ``connection.queries``) left out."""
    return [q["sql"] for q in captured if q["sql"] not in ("BEGIN IMMEDIATE", "BEGIN", "COMMIT")]


@pytest.fixture
def handed_to_worker(monkeypatch):
    """Events announced after commit are handed to the worker (eager Celery would run them in the request)."""
    from webhooks import tasks

    handed = []
    monkeypatch.setattr(tasks.fan_out, "delay", handed.append)
    return handed


@pytest.mark.django_db(transaction=True)  # real transactions: savepoints only where production takes them
def test_an_order_makes_at_most_twelve_queries(client_of, emulator, handed_to_worker):
    # Issue 14's target. The first hold is placed on a key no row can have yet (new_key): no look-ups, no savepoints.
    with CaptureQueriesContext(connection) as captured:
        response = client_of.post("/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json")
    assert response.status_code == 200, response.content
    assert emulator.request_count("create_activation") == 2
    assert len(statements(captured)) <= 12, "\n".join(statements(captured))


@pytest.mark.django_db(transaction=True)
def test_a_cancel_makes_at_most_ten_queries(client_of, handed_to_worker):
    with CaptureQueriesContext(connection) as captured:
        response = client_of.post(f"/api/v1/activations/{client_of.activation_id}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["result"] == "canceled"
    assert len(statements(captured)) <= 10, "\n".join(statements(captured))
    assert len(handed_to_worker) == 1  # activation.canceled, for the customer's webhooks


def test_a_cold_key_costs_one_query_more_and_then_none(api, alice_key, alice, django_assert_max_num_queries):
    api.credentials(HTTP_X_API_KEY=alice_key)
    with django_assert_max_num_queries(3):  # the key with its user and tenant, its last-use mark, the wallet
        assert api.get("/api/v1/wallet").status_code == 200
    with django_assert_max_num_queries(1):
        assert api.get("/api/v1/wallet").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_supplier_webhook_is_stored_in_three_queries_and_applied_by_the_worker(
    api, hooked_emulator, alice, alice_key, fund, monkeypatch
):
    # Issue 14: the supplier's webhook is acknowledged in milliseconds. Its request looks the tenant up,
    # checks the webhook-seen mark (written at most every few seconds) and inserts the event; the apply, with its
    # locks and the charge, is the notify worker's.
    from activations import tasks
    from tests.activations.test_webhooks import activation_event, send

    fund(alice, 100_000)
    api.credentials(HTTP_X_API_KEY=alice_key)
    orders = [api.post("/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json")]
    orders.append(api.post("/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json"))
    assert all(o.status_code == 200 for o in orders)
    hooked_emulator.webhooks_paused = True
    first, second = (hooked_emulator.deliver_sms(o.json()["data"]["activation_id"], code="77") for o in orders)
    handed = []
    monkeypatch.setattr(tasks.apply_webhook_event, "delay", handed.append)
    assert send(activation_event(first, "warm-1")).status_code == 200  # the tenant and the seen mark, warm
    with CaptureQueriesContext(connection) as captured:
        response = send(activation_event(second, "measured-1"))
    assert response.status_code == 200
    assert len(statements(captured)) <= 3, "\n".join(statements(captured))
    assert len(handed) == 2
