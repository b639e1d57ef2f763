"""Issue 18 in a real browser: the demo user adds funds from the wallet page through the demo provider's checkout,
and sees the balance rise (the signed notification credited it; the page back credits nothing by itself)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.portal.browser.conftest import DEMO_EMAIL, DEMO_PASSWORD, log_in, screenshot

pytestmark = [pytest.mark.server, pytest.mark.browser]


def cents(text: str) -> int:
    dollars, cents_part = re.sub(r"[^\d.]", "", text).split(".")
    return int(dollars) * 100 + int(cents_part)


def test_a_user_tops_up_through_the_demo_provider_and_sees_the_balance_rise(stack, new_page):
    page = new_page()
    log_in(page, stack.url, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{stack.url}/wallet/")
    before = cents(page.locator("[data-available]").inner_text())
    expect(page.locator("[data-topup-limits]")).to_contain_text("$5.00")
    screenshot(page, "wallet-add-funds")

    # too little: the store's minimum is explained, nothing starts
    page.fill("#id_amount", "1.00")
    page.click("[data-topup-form] button[type=submit]")
    expect(page.locator("[data-error-code=topup_amount_out_of_range]")).to_contain_text("between $5.00")

    # $12.50 through the demo checkout
    page.fill("#id_amount", "12.50")
    page.check("input[name=method][value=checkout]")
    page.click("[data-topup-form] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/payments/demo/checkout/"))
    expect(page.locator("[data-checkout-amount]")).to_have_text("$12.50")
    screenshot(page, "demo-checkout")
    page.click("button[value=pay]")

    # back on the store: paid, and the wallet shows it
    expect(page.locator("[data-topup-status]")).to_have_attribute("data-topup-status", "paid")
    expect(page.locator("[data-credited]")).to_have_text("$12.50")
    page.goto(f"{stack.url}/wallet/")
    assert cents(page.locator("[data-available]").inner_text()) == before + 1250
    expect(page.locator("table.list tbody tr").first).to_contain_text("Top-up")

    # a reported transfer is listed as pending and credits nothing until an operator approves it
    page.fill("#id_amount", "20")
    page.check("input[name=method][value=manual]")
    page.fill("#id_reference", "SEPA-E2E-1")
    page.click("[data-topup-form] button[type=submit]")
    expect(page.locator("[data-pending-payments]")).to_contain_text("SEPA-E2E-1")
    assert cents(page.locator("[data-available]").inner_text()) == before + 1250
    screenshot(page, "wallet-pending-topup")


@pytest.mark.parametrize("width", [1280, 360])
def test_the_top_up_pages_are_accessible_and_fit_a_phone(stack, new_page, width):
    from tests.portal.browser.test_accessibility import Audit

    audit = Audit()
    page = new_page(width=width)
    log_in(page, stack.url, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{stack.url}/wallet/")
    page.fill("#id_amount", "1.00")
    page.click("[data-topup-form] button[type=submit]")
    expect(page.locator("[data-error-code]")).to_be_visible()
    audit.check(page, "wallet-topup-error")
    page.fill("#id_amount", "6.00")
    page.check("input[name=method][value=checkout]")
    page.click("[data-topup-form] button[type=submit]")
    expect(page.locator("[data-checkout-amount]")).to_have_text("$6.00")
    audit.check(page, "demo-checkout-page")
    page.click("button[value=cancel]")
    expect(page.locator("[data-topup-status]")).to_have_attribute("data-topup-status", "failed")
    audit.check(page, "topup-status-failed")
    assert audit.failures == []
