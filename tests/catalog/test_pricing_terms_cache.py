"""A warm GET price answers from one cache read (issue 14), yet a markup rule edited or deleted, or a service that
becomes unavailable in a sync, applies to the very next quote."""

import pytest
from django.core.cache import cache

from catalog import services
from catalog.models import MarkupRule, Service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hot_path_caches(settings):
    """The suite runs with these caches off (reseller/test_settings.py); here they are on, as in production."""
    settings.API_KEY_CACHE_SECONDS = 60
    settings.PRICING_TERMS_CACHE_SECONDS = 60


def sell(api, key, service_id="whatsapp"):
    response = api.get(f"/api/v1/price?service_id={service_id}&country_id=us", HTTP_X_API_KEY=key)
    return response.status_code, response.json()


def test_a_warm_price_reads_no_row(api, synced, alice_key, django_assert_max_num_queries):
    cache.clear()  # the sync's invalidation has expired
    sell(api, alice_key)
    with django_assert_max_num_queries(0):
        status, _ = sell(api, alice_key)
    assert status == 200


def test_an_edited_rule_applies_to_the_next_quote(api, synced, alice_key):
    rule = MarkupRule.objects.create(tenant=synced, percent_bp=0, fixed_cents=10, min_margin_cents=0)
    _, before = sell(api, alice_key)
    rule.fixed_cents = 70
    services.markup_rule_save(rule=rule)
    _, after = sell(api, alice_key)
    assert after["data"]["sell_price_cents"] == before["data"]["sell_price_cents"] + 60


def test_a_deleted_rule_stops_applying_at_once(api, synced, alice_key):
    _, default = sell(api, alice_key)
    rule = MarkupRule.objects.create(tenant=synced, percent_bp=0, fixed_cents=500, min_margin_cents=0)
    _, marked_up = sell(api, alice_key)
    rule.delete()
    _, again = sell(api, alice_key)
    assert marked_up["data"]["sell_price_cents"] != default["data"]["sell_price_cents"]
    assert again["data"]["sell_price_cents"] == default["data"]["sell_price_cents"]


def test_a_service_made_unavailable_is_not_found_on_the_next_quote(api, synced, alice_key):
    assert sell(api, alice_key)[0] == 200
    service = Service.objects.get(tenant=synced, service_id="whatsapp")
    service.is_available = False
    service.save()
    status, body = sell(api, alice_key)
    assert status == 404 and body["code"] == "not_found"
