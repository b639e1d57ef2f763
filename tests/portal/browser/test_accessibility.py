"""Every storefront page, at desktop and phone (360 px) widths: axe-core finds no serious or critical
violation, nothing overflows the phone's width, and a screenshot is saved as a test artifact."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.portal.browser.conftest import DEMO_EMAIL, DEMO_PASSWORD, log_in, screenshot

pytestmark = [pytest.mark.server, pytest.mark.browser]

PHONE, DESKTOP = 360, 1280
BLOCKING = {"serious", "critical"}
ANONYMOUS = {
    "catalog": "/",
    "service": "/services/whatsapp/",
    "countries": "/countries/",
    "country": "/countries/us/",
    "api-docs": "/developers/",
    "login": "/account/login/",
    "signup": "/account/signup/",
    "password-reset": "/account/password-reset/",
    "password-reset-sent": "/account/password-reset/sent/",
    "link-does-not-work": "/account/verify/MQ/bad-token/",
    "help": "/help/",
    "help-contact": "/help/contact/",
}


class Audit:
    def __init__(self):
        self.axe = Axe()
        self.failures: list[str] = []

    def check(self, page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        results = self.axe.run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                targets = [node["target"] for node in violation["nodes"]][:3]
                self.failures.append(f"{name}@{page.viewport_size['width']}: {violation['id']} {targets}")
        width = page.viewport_size["width"]
        overflow = page.evaluate("document.documentElement.scrollWidth")
        if overflow > width:
            wide = page.evaluate(
                """(width) => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > width && !e.closest('.table-wrap'))
                    .slice(0, 3).map(e => e.tagName + '.' + e.className)""",
                width,
            )
            self.failures.append(f"{name}@{width}: the page is {overflow} px wide: {wide}")
        screenshot(page, name)


@pytest.fixture(scope="module")
def purchases(stack, browser):
    """Two numbers of the demo user: one waiting for its SMS, one with its code."""
    context = browser.new_context()
    page = context.new_page()
    log_in(page, stack.url, DEMO_EMAIL, DEMO_PASSWORD)
    ids = []
    emulator = stack.emulators["demo"]
    for country in ("us", "uk"):
        before = {a["activation_id"] for a in emulator.activations()}
        page.goto(f"{stack.url}/buy/telegram/{country}/")
        page.click("#confirm button[type=submit]")
        page.wait_for_url(re.compile(r"/numbers/\d+/$"))
        ids.append(page.url.rstrip("/").rsplit("/", 1)[1])
        upstream = [a["activation_id"] for a in emulator.activations() if a["activation_id"] not in before][0]
        if country == "uk":
            emulator.deliver_sms(upstream, code="551200", text="Telegram code 551200. Do not give it to anyone.")
            expect(page.locator("[data-code]")).to_have_text("551200", timeout=10_000)
    context.close()
    return {"waiting": ids[0], "received": ids[1]}


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_every_page_is_accessible_and_fits_a_phone(stack, new_page, purchases, width):
    audit = Audit()
    page = new_page(width=width)
    base = stack.url
    for name, path in ANONYMOUS.items():
        page.goto(base + path)
        audit.check(page, name)

    page.goto(f"{base}/account/login/")
    page.fill("#id_username", DEMO_EMAIL)
    page.fill("#id_password", "not-the-password")
    page.click("main button[type=submit]")
    expect(page.locator(".error-box")).to_be_visible()
    audit.check(page, "login-error")

    log_in(page, base, DEMO_EMAIL, DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/numbers/$"))
    audit.check(page, "dashboard")
    page.goto(f"{base}/numbers/{purchases['waiting']}/")
    audit.check(page, "activation-waiting")
    page.goto(f"{base}/numbers/{purchases['received']}/")
    expect(page.locator("[data-code]")).to_have_text("551200")
    audit.check(page, "activation-received")
    page.goto(f"{base}/buy/whatsapp/uk/")
    audit.check(page, "buy-confirm")
    page.goto(f"{base}/services/whatsapp/")
    page.click("#row-de a:has-text('Buy')")
    expect(page.locator("#buy-dialog #confirm button[type=submit]")).to_be_visible()
    audit.check(page, "buy-dialog")
    page.goto(f"{base}/wallet/")
    audit.check(page, "wallet")
    page.goto(f"{base}/api-keys/")
    page.fill("#id_name", f"audit {width}")
    page.click("main button:has-text('Create key')")
    expect(page.locator("[data-new-key]")).to_be_visible()
    audit.check(page, "api-keys-new")
    page.locator("a:has-text('Revoke')").first.click()
    audit.check(page, "api-key-revoke")
    page.goto(f"{base}/developers/")
    audit.check(page, "api-docs-signed-in")
    for name, path in {
        "history": "/history/?service=telegram",
        "reports": "/reports/",
        "settings": "/account/settings/",
        "account-delete": "/account/delete/",
        "report-form": f"/reports/new/{purchases['received']}/",
    }.items():
        page.goto(base + path)
        audit.check(page, name)

    page.goto(f"{base}/api-keys/webhooks/")
    audit.check(page, "webhooks")
    page.fill("#id_url", f"http://127.0.0.1:{stack.port}/hooks/audit-{width}")
    page.click("main button:has-text('Add the endpoint')")
    expect(page.locator("[data-new-secret]")).to_be_visible()
    audit.check(page, "webhooks-new")
    page.click("a:has-text('Open the new endpoint')")
    page.click("main button:has-text('Send a test event')")
    expect(page.locator("[data-delivery]").first).to_be_visible()
    audit.check(page, "webhook-endpoint")
    page.click("main a:has-text('Delete')")
    audit.check(page, "webhook-delete")

    assert audit.failures == []
