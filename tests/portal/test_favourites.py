"""Favourites (stored on the server, per user) and "buy again" on the catalog."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import Favourite
from tests.portal.test_history_and_reports import placed

pytestmark = pytest.mark.django_db


def test_starring_a_service_and_a_country_shows_them_first_and_unstarring_removes_them(synced, alice_client, alice):
    # when
    alice_client.post(reverse("portal:favourite", args=["service", "telegram"]))
    alice_client.post(reverse("portal:favourite", args=["country", "uk"]))
    # then
    catalog = alice_client.get(reverse("portal:catalog")).content.decode()
    favourites = catalog.split('id="favourites"')[1].split("</div>")[0]
    assert 'href="/services/telegram/"' in favourites and 'href="/countries/uk/"' in favourites
    page = alice_client.get(reverse("portal:service", args=["telegram"])).content.decode()
    assert 'data-star="service:telegram"' in page and 'aria-pressed="true"' in page
    # unstar
    alice_client.post(reverse("portal:favourite", args=["service", "telegram"]))
    assert list(Favourite.objects.filter(user=alice).values_list("kind", "item_id")) == [("country", "uk")]


def test_favourites_are_per_user(synced, alice_client, alice, bob):
    alice_client.post(reverse("portal:favourite", args=["service", "telegram"]))
    assert not Favourite.objects.filter(user=bob).exists()


def test_an_unknown_or_other_tenants_item_cannot_be_starred(synced, alice_client, alice):
    response = alice_client.post(reverse("portal:favourite", args=["service", "nosuchservice"]))
    assert response.status_code == 404
    assert not Favourite.objects.exists()


def test_starring_needs_a_post_and_a_login(synced, alice_client, acme_client):
    assert alice_client.get(reverse("portal:favourite", args=["service", "telegram"])).status_code == 405
    response = acme_client.post(reverse("portal:favourite", args=["service", "telegram"]))
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_the_htmx_toggle_answers_the_button_alone(synced, alice_client):
    response = alice_client.post(reverse("portal:favourite", args=["country", "uk"]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.startswith("<form") and 'aria-pressed="true"' in html


def test_buy_again_lists_the_last_distinct_purchases(synced, alice_client, alice):
    placed(alice, service="telegram", country="uk")
    placed(alice, service="whatsapp", country="us")
    placed(alice, service="whatsapp", country="us")
    catalog = alice_client.get(reverse("portal:catalog")).content.decode()
    again = catalog.split('id="buy-again"')[1].split("</div>")[0]
    assert again.count("<li>") == 2
    assert reverse("portal:buy", args=["whatsapp", "us"]) in again
    assert reverse("portal:buy", args=["telegram", "uk"]) in again


def test_an_anonymous_catalog_shows_no_personal_sections(synced, acme_client):
    catalog = acme_client.get(reverse("portal:catalog")).content.decode()
    assert 'id="favourites"' not in catalog and 'id="buy-again"' not in catalog
