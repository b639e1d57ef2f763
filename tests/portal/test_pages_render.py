"""Every storefront page renders for its audience, on its own host, with the tenant's look."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_catalog_lists_services_by_category_with_popular_ones_first(synced, acme_client):
    response = acme_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "WhatsApp" in html
    assert html.index("Popular") < html.index("Messaging")
    assert "Acme Numbers" in html


def test_every_page_renders(synced, alice_client, fund, alice):
    fund(alice, 1000)
    for url in [
        "/",
        reverse("portal:service", args=["whatsapp"]),
        reverse("portal:countries"),
        reverse("portal:country", args=["us"]),
        reverse("portal:buy", args=["whatsapp", "us"]),
        reverse("portal:dashboard"),
        reverse("portal:wallet"),
        reverse("portal:api-keys"),
        reverse("portal:api-docs"),
        reverse("portal:theme-css"),
    ]:
        response = alice_client.get(url)
        assert response.status_code == 200, (url, response.content[:500])
