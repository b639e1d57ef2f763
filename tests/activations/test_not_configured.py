"""A storefront whose supplier is not configured says so (``not_configured``), instead of the retry-later
``upstream_unavailable`` that made a misconfigured tenant look like an outage; nothing is held or charged."""

import pytest

from activations.models import Activation
from wallet import selectors as wallet_selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded_alice(alice, fund):
    fund(alice, 5000)
    return alice


def assert_not_configured(response):
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["ok"] is False and body["code"] == "not_configured"
    assert "not configured" in body["error"] and "try again" not in body["error"].lower()
    assert "Retry-After" not in response


def test_an_order_on_a_storefront_without_a_supplier_is_not_configured(api, tenant, funded_alice, alice_key):
    # given acme has no supplier URL nor key
    assert not tenant.platfone_base_url and not tenant.platfone_api_key
    # when
    response = api.post(
        "/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json", HTTP_X_API_KEY=alice_key
    )
    # then a clear, final answer; nothing held or charged, no order left behind
    assert_not_configured(response)
    summary = wallet_selectors.wallet_summary(user=funded_alice)
    assert (summary.balance_cents, summary.held_cents) == (5000, 0)
    assert not Activation.objects.exists()


def test_a_price_on_a_storefront_without_a_supplier_is_not_configured(api, tenant, alice_key):
    response = api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key)
    assert_not_configured(response)


def test_a_configured_storefront_still_answers_upstream_unavailable_when_its_supplier_is_down(
    api, emulator, funded_alice, alice_key
):
    # the other answer stays what it was: a supplier that is configured but down is worth retrying
    emulator.add_fault(kind="error", endpoint="get_price", probability=1.0)
    response = api.get("/api/v1/price?service_id=whatsapp&country_id=us", HTTP_X_API_KEY=alice_key)
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "upstream_unavailable"


def test_the_sms_activate_endpoint_answers_no_numbers(client, tenant, funded_alice, alice_key):
    response = client.get(
        "/stubs/handler_api.php",
        {"api_key": alice_key, "action": "getNumber", "service": "wa", "country": "187"},
        HTTP_HOST="acme.test",
    )
    assert response.status_code == 200
    assert response.content.decode() == "NO_NUMBERS"
