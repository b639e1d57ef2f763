"""Buying from the storefront and watching the number: the same services as the JSON API, errors worded by
the portal's table, the live fragment within the API's upstream budget."""

import re

import pytest
from django.urls import reverse

from activations.models import Activation
from catalog.services import price_quote
from tests.portal.conftest import verified
from wallet.selectors import wallet_summary

pytestmark = pytest.mark.django_db


def buy_form(client, service="whatsapp", country="us"):
    html = client.get(reverse("portal:buy", args=[service, country])).content.decode()
    expected = re.search(r'name="expected_cents" value="(\d+)"', html).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    return {"expected_cents": expected, "idempotency_key": key}


def buy(client, form, service="whatsapp", country="us", **extra):
    return client.post(reverse("portal:buy", args=[service, country]), {**form, **extra})


def test_buying_holds_the_price_and_opens_the_activation_page(synced, alice_client, alice, fund, tenant):
    fund(alice, 1000)
    quote = price_quote(tenant=tenant, service_id="whatsapp", country_id="us")
    # when
    response = buy(alice_client, buy_form(alice_client))
    # then
    activation = Activation.objects.get(user=alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:activation", args=[activation.pk])
    assert activation.sell_price_cents == quote.sell_price_cents
    assert wallet_summary(user=alice).held_cents == quote.sell_price_cents
    page = alice_client.get(response["Location"]).content.decode()
    assert activation.phone.lstrip("+")[1:] in page and "Waiting for the SMS" in page


def test_submitting_the_same_confirmation_twice_orders_once(synced, alice_client, alice, fund):
    fund(alice, 1000)
    form = buy_form(alice_client)
    first, second = buy(alice_client, form), buy(alice_client, form)
    assert first["Location"] == second["Location"]
    assert Activation.objects.filter(user=alice).count() == 1


def test_too_little_balance_says_how_much_to_add(synced, alice_client, alice, fund, tenant):
    fund(alice, 50)
    quote = price_quote(tenant=tenant, service_id="whatsapp", country_id="us")
    response = buy(alice_client, buy_form(alice_client))
    html = response.content.decode()
    missing = quote.sell_price_cents - 50
    assert response.status_code == 200
    assert 'data-error-code="insufficient_balance"' in html
    assert f"${missing // 100}.{missing % 100:02d}" in html
    assert reverse("portal:wallet") in html
    assert wallet_summary(user=alice).held_cents == 0


def test_a_price_that_rose_asks_to_continue_at_the_new_price(synced, alice_client, alice, fund, tenant):
    fund(alice, 1000)
    quote = price_quote(tenant=tenant, service_id="whatsapp", country_id="us")
    form = buy_form(alice_client)
    # the user saw an older, lower price
    form["expected_cents"] = str(quote.sell_price_cents - 5)
    response = buy(alice_client, form)
    html = response.content.decode()
    assert 'data-error-code="max_price_exceeded"' in html
    assert "the price is now" in html.lower() or "it is now" in html
    assert f'name="expected_cents" value="{quote.sell_price_cents}"' in html
    assert not Activation.objects.filter(user=alice, order_status="placed").exists()
    # when they continue
    again = {
        "expected_cents": re.search(r'name="expected_cents" value="(\d+)"', html).group(1),
        "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1),
    }
    assert buy(alice_client, again).status_code == 302
    assert Activation.objects.get(user=alice, order_status="placed").sell_price_cents == quote.sell_price_cents


def test_an_unverified_user_is_asked_to_confirm_the_email_first(synced, alice, fund):
    from tests.portal.conftest import ACME, host_client

    client = host_client(ACME)
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    fund(alice, 1000)
    quote_page = client.get(reverse("portal:buy", args=["whatsapp", "us"])).content.decode()
    assert "confirm your e-mail address first" in quote_page
    response = client.post(
        reverse("portal:buy", args=["whatsapp", "us"]),
        {"expected_cents": "500", "idempotency_key": "x" * 20},
    )
    assert 'data-error-code="email_unverified"' in response.content.decode()
    assert not Activation.objects.filter(user=alice).exists()


def test_an_out_of_stock_pair_says_so(synced, alice_client, alice, fund):
    fund(alice, 1000)
    html = alice_client.get(reverse("portal:buy", args=["whatsapp", "us_v"])).content.decode()
    assert 'data-error-code="no_numbers"' in html


def test_buying_needs_a_log_in(synced, acme_client):
    response = acme_client.get(reverse("portal:buy", args=["whatsapp", "us"]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def _ordered(client, alice, fund):
    fund(alice, 1000)
    buy(client, buy_form(client))
    return Activation.objects.get(user=alice)


def test_another_users_or_storefronts_activation_is_404(synced, alice_client, alice, fund, bob, charlie_client):
    activation = _ordered(alice_client, alice, fund)
    verified(bob)
    from tests.portal.conftest import ACME, host_client

    bob_client = host_client(ACME)
    bob_client.force_login(bob, backend="accounts.backends.TenantEmailBackend")
    for client in (bob_client, charlie_client):
        assert client.get(reverse("portal:activation", args=[activation.pk])).status_code == 404
        assert client.get(reverse("portal:activation-status", args=[activation.pk])).status_code == 404
        assert client.post(reverse("portal:activation-action", args=[activation.pk, "cancel"])).status_code == 404


def test_the_live_fragment_shows_the_code_once_it_arrives_and_answers_204_while_nothing_changes(
    synced, alice_client, alice, fund
):
    activation = _ordered(alice_client, alice, fund)
    url = reverse("portal:activation-status", args=[activation.pk])
    first = alice_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    version = re.search(r"\?v=([0-9a-f]+)", first).group(1)
    assert alice_client.get(url, {"v": version}, HTTP_HX_REQUEST="true").status_code == 204
    # when the supplier delivers the SMS (no webhook here: the budgeted sync reads it once the state is stale)
    synced.deliver_sms(activation.upstream_id, code="123456", text="Your code is 123456")
    Activation.objects.filter(pk=activation.pk).update(last_synced_at=None)
    response = alice_client.get(url, {"v": version}, HTTP_HX_REQUEST="true")
    # then
    assert response.status_code == 200
    assert "123456" in response.content.decode() and "Your code is 123456" in response.content.decode()


def test_polling_the_page_costs_the_supplier_no_more_than_the_apis_budgeted_poll(synced, alice_client, alice, fund):
    activation = _ordered(alice_client, alice, fund)
    url = reverse("portal:activation-status", args=[activation.pk])
    synced.reset_counters()
    for _ in range(20):
        alice_client.get(url, HTTP_HX_REQUEST="true")
    # the state synced at order time is fresh for ACTIVATION_FRESH_SECONDS: no upstream read at all
    assert synced.request_count("get_activation") == 0


def test_canceling_before_the_sms_releases_the_hold(synced, alice_client, alice, fund):
    activation = _ordered(alice_client, alice, fund)
    assert wallet_summary(user=alice).held_cents > 0
    response = alice_client.post(reverse("portal:activation-action", args=[activation.pk, "cancel"]), follow=True)
    assert wallet_summary(user=alice).held_cents == 0
    assert wallet_summary(user=alice).balance_cents == 1000
    assert "Canceled" in response.content.decode()


def test_cancel_waits_for_the_supplier_with_a_countdown(synced, alice_client, alice, fund):
    synced.configure(cancel_delay=120)
    activation = _ordered(alice_client, alice, fund)
    page = alice_client.get(reverse("portal:activation", args=[activation.pk])).content.decode()
    assert re.search(r'<button class="button danger" type="submit" disabled data-enable-after="1[12]\d"', page)
    assert "available in 0" in page or "available in 01:" in page or "available in 02:" in page
    response = alice_client.post(reverse("portal:activation-action", args=[activation.pk, "cancel"]))
    assert 'data-error-code="not_cancelable_yet"' in response.content.decode()


def test_after_the_sms_another_sms_and_done(synced, alice_client, alice, fund):
    activation = _ordered(alice_client, alice, fund)
    synced.deliver_sms(activation.upstream_id, code="111111")
    Activation.objects.filter(pk=activation.pk).update(last_synced_at=None)
    alice_client.get(reverse("portal:activation-status", args=[activation.pk]))
    # another SMS
    retried = alice_client.post(reverse("portal:activation-action", args=[activation.pk, "retry"]), follow=True)
    assert "Waiting for another SMS" in retried.content.decode()
    synced.deliver_sms(activation.upstream_id, code="222222")
    Activation.objects.filter(pk=activation.pk).update(last_synced_at=None)
    assert "222222" in alice_client.get(reverse("portal:activation-status", args=[activation.pk])).content.decode()
    # done
    done = alice_client.post(reverse("portal:activation-action", args=[activation.pk, "finalize"]), follow=True)
    assert "This number receives no more SMS" in done.content.decode()
    assert Activation.objects.get(pk=activation.pk).activation_status == "finalized"
    assert wallet_summary(user=alice).balance_cents == 1000 - activation.sell_price_cents


def test_an_unknown_action_is_404(synced, alice_client, alice, fund):
    activation = _ordered(alice_client, alice, fund)
    assert alice_client.post(reverse("portal:activation-action", args=[activation.pk, "explode"])).status_code == 404


def test_the_dashboard_lists_active_numbers_and_its_live_part_answers_204_when_unchanged(
    synced, alice_client, alice, fund
):
    activation = _ordered(alice_client, alice, fund)
    html = alice_client.get(reverse("portal:dashboard")).content.decode()
    assert activation.phone.lstrip("+") in html
    version = re.search(r"numbers/live/\?v=([^\"]+)\"", html).group(1)
    live = alice_client.get(reverse("portal:dashboard-live"), {"v": version}, HTTP_HX_REQUEST="true")
    assert live.status_code == 204


def test_canceling_after_the_sms_refunds_the_charge(synced, alice_client, alice, fund):
    activation = _ordered(alice_client, alice, fund)
    synced.deliver_sms(activation.upstream_id, code="333333")
    Activation.objects.filter(pk=activation.pk).update(last_synced_at=None)
    alice_client.get(reverse("portal:activation-status", args=[activation.pk]))
    assert wallet_summary(user=alice).balance_cents == 1000 - activation.sell_price_cents
    page = alice_client.get(reverse("portal:activation", args=[activation.pk])).content.decode()
    assert "the charge is refunded to your balance" in page
    # when
    response = alice_client.post(reverse("portal:activation-action", args=[activation.pk, "cancel"]), follow=True)
    # then
    assert "Refunded" in response.content.decode()
    assert wallet_summary(user=alice).balance_cents == 1000


def test_an_expired_number_says_nothing_was_charged(synced, alice_client, alice, fund):
    activation = _ordered(alice_client, alice, fund)
    synced.expire_activation(activation.upstream_id)
    Activation.objects.filter(pk=activation.pk).update(last_synced_at=None)
    html = alice_client.get(reverse("portal:activation-status", args=[activation.pk])).content.decode()
    assert "No SMS came in time" in html and "hx-trigger" not in html  # the page stops polling
    assert wallet_summary(user=alice).held_cents == 0 and wallet_summary(user=alice).balance_cents == 1000


def test_without_a_price_list_the_countries_stay_buyable_and_the_confirmation_quotes_live(
    synced, alice_client, alice, fund
):
    # the supplier's price list is down (and nothing is cached): the table cannot show prices or stock
    synced.add_fault(kind="error", endpoint="prices_by_country", status=503, count=10)
    html = alice_client.get(reverse("portal:service", args=["whatsapp"])).content.decode()
    assert 'data-error-code="upstream_unavailable"' in html
    row = re.search(r'<tr id="row-us".*?</tr>', html, flags=re.S).group(0)
    assert "out of stock" not in row and "disabled" not in row
    fund(alice, 1000)
    assert 'name="expected_cents"' in alice_client.get(reverse("portal:buy", args=["whatsapp", "us"])).content.decode()
