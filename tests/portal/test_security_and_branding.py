"""The storefront's security headers, CSRF, no inline script, one look per tenant, and bounded queries."""

import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from accounts.models import Tenant
from portal.branding import contrast, palette
from tests.portal.conftest import ACME, GLOBEX, host_client

pytestmark = pytest.mark.django_db

PAGES = ["/", "/countries/", "/developers/", "/account/login/", "/account/signup/", "/account/password-reset/"]


def test_pages_carry_a_csp_without_inline_script_or_style(synced, acme_client):
    for url in PAGES:
        response = acme_client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy, url
        html = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url  # every script is a file
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers


def test_every_form_needs_its_csrf_token(alice, tenant):
    client = Client(HTTP_HOST=ACME, enforce_csrf_checks=True)
    assert client.post(reverse("portal:login"), {"username": alice.email, "password": "x"}).status_code == 403
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    assert client.post(reverse("portal:api-keys"), {"name": "x"}).status_code == 403


def test_each_storefront_has_its_own_name_colour_and_logo(synced, tenant, other_tenant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    Tenant.objects.filter(pk=tenant.pk).update(brand_color="#0f766e")
    Tenant.objects.filter(pk=other_tenant.pk).update(brand_color="#fde047")  # light: needs dark text
    other_tenant.refresh_from_db()
    other_tenant.brand_logo.save("globex.png", ContentFile(b"\x89PNG\r\n\x1a\nfake"), save=True)
    acme_css = host_client(ACME).get(reverse("portal:theme-css")).content.decode()
    globex_css = host_client(GLOBEX).get(reverse("portal:theme-css")).content.decode()
    assert "--brand:#0f766e" in acme_css and "--on-brand:#ffffff" in acme_css
    assert "--brand:#fde047" in globex_css and "--on-brand:#000000" in globex_css
    globex_home = host_client(GLOBEX).get("/").content.decode()
    assert "Globex Numbers" in globex_home and reverse("portal:logo") in globex_home
    assert "Acme Numbers" not in globex_home
    logo = host_client(GLOBEX).get(reverse("portal:logo"))
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert host_client(ACME).get(reverse("portal:logo")).status_code == 404  # acme has none


@pytest.mark.parametrize("color", ["#2563eb", "#fde047", "#ffffff", "#000000", "#7c3aed", "#22c55e", "bad"])
def test_the_palette_keeps_text_readable_whatever_the_colour(color):
    colors = palette(color)
    # black or white always reaches 4.58:1 on some side of any colour
    assert contrast(colors.brand, colors.on_brand) >= 4.5
    assert contrast(colors.ink, "#ffffff") >= 4.5


def test_the_catalog_renders_in_a_bounded_number_of_queries(synced, alice_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert alice_client.get("/").status_code == 200


def test_the_dashboard_renders_in_a_bounded_number_of_queries(
    synced, alice_client, alice, fund, django_assert_max_num_queries
):
    from tests.portal.test_buy_and_numbers import buy, buy_form

    fund(alice, 10_000)
    for country in ("us", "uk", "de"):
        buy(alice_client, buy_form(alice_client, country=country), country=country)
    with django_assert_max_num_queries(12):
        response = alice_client.get(reverse("portal:dashboard"))
    assert response.status_code == 200 and response.content.decode().count('class="card ') == 3
