"""Issue 15 in a real browser against the running stack: history (filter + the CSV's content), a report with
evidence through to an approved refund (the emulator plays the supplier's review), favourites and buy again,
the language switch remembered per user, the dark theme (screenshots + axe, both themes), and deleting an
account refused while money is left, then allowed.

Each test signs up its own user, so the tests do not depend on each other or on the demo user.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.portal.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.server, pytest.mark.browser]

PASSWORD = "Account-pages-passw0rd"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BLOCKING = {"serious", "critical"}


def sign_up(stack, page, email: str, cents: int = 0) -> None:
    base = stack.url
    page.goto(f"{base}/account/signup/")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator(".notice")).to_be_visible()
    page.goto(stack.link_in_mail(email, "/account/verify/"))
    expect(page.locator(".messages")).to_contain_text("confirmed")
    if cents:
        stack.manage(
            "wallet_credit", "--tenant", "demo", "--email", email, "--cents", str(cents), "--description", "Top-up"
        )


def buy(stack, page, service: str, country: str) -> tuple[str, str]:
    """Order from the confirmation page; (our activation id, the supplier's)."""
    emulator = stack.emulators["demo"]
    before = {a["activation_id"] for a in emulator.activations()}
    page.goto(f"{stack.url}/buy/{service}/{country}/")
    page.click("#confirm button[type=submit]")
    page.wait_for_url(re.compile(r"/numbers/\d+/$"))
    upstream = [a["activation_id"] for a in emulator.activations() if a["activation_id"] not in before]
    return page.url.rstrip("/").rsplit("/", 1)[1], upstream[0]


def axe_failures(page, name: str) -> list[str]:
    page.wait_for_load_state("networkidle")
    results = Axe().run(page)
    return [
        f"{name}: {v['id']} {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def test_history_filters_and_the_csv_holds_the_filtered_set(stack, new_page):
    page = new_page()
    sign_up(stack, page, "hilda@example.com", cents=2000)
    telegram, _ = buy(stack, page, "telegram", "us")
    whatsapp, upstream = buy(stack, page, "whatsapp", "uk")
    stack.emulators["demo"].deliver_sms(upstream, code="606060")
    expect(page.locator("[data-code]")).to_have_text("606060", timeout=10_000)
    phone = page.locator("[data-phone]").inner_text().replace("\xa0", "").replace(" ", "")

    page.goto(f"{stack.url}/history/")
    expect(page.locator("#history-table tbody tr")).to_have_count(2)
    page.select_option("#id_service", "whatsapp")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-activation="{whatsapp}"]')).to_be_visible()
    screenshot(page, "history")

    with page.expect_download() as download:
        page.click("[data-csv]")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(r["id"], r["service_id"], r["sms_code"]) for r in rows] == [(whatsapp, "whatsapp", "606060")]

    # search by a few digits of the phone number, with the filter cleared
    page.goto(f"{stack.url}/history/?phone={phone[-6:]}")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-activation="{telegram}"]')).to_have_count(0)


def test_a_report_with_evidence_goes_through_to_an_approved_refund(stack, new_page):
    page = new_page()
    sign_up(stack, page, "ruth@example.com", cents=2000)
    activation, upstream = buy(stack, page, "whatsapp", "us")
    stack.emulators["demo"].deliver_sms(upstream, code="112233")
    expect(page.locator("[data-code]")).to_have_text("112233", timeout=10_000)
    price = page.locator(".facts dd").first.inner_text().split(" ")[0]

    page.click("a:has-text('Report a problem')")
    page.check("label:has-text('Service not accepting the number')")
    page.fill("#id_message", "The service said the number is not allowed.")
    page.click("main button:has-text('Send the report')")
    expect(page.locator("#id_agree")).to_be_visible()  # refused without the agreement and the evidence
    expect(page.locator(".field-error").first).to_be_visible()
    page.check("label:has-text('Service not accepting the number')")
    page.set_input_files("#id_evidence", {"name": "screen.png", "mimeType": "image/png", "buffer": PNG})
    page.check("#id_agree")
    screenshot(page, "report")
    page.click("main button:has-text('Send the report')")
    page.wait_for_url(re.compile(rf"/numbers/{activation}/$"))
    expect(page.locator("[data-report-status]")).to_have_text("Report in review")

    # the supplier approves: the page learns it by itself, the price is refunded
    stack.emulators["demo"].decide_report(upstream, approve=True)
    expect(page.locator(".activation .badge").first).to_have_text("Refunded", timeout=15_000)
    expect(page.locator("[data-report-status]")).to_have_text("Report approved")
    page.goto(f"{stack.url}/reports/")
    expect(page.locator(f'#reports-table tr[data-activation="{activation}"]')).to_contain_text("Report approved")
    screenshot(page, "reports")
    page.goto(f"{stack.url}/wallet/")
    expect(page.locator("table.list tbody tr").first).to_contain_text("Refund")
    expect(page.locator("table.list tbody tr").first).to_contain_text(f"+{price}")


def test_favourites_and_buy_again(stack, new_page):
    page = new_page()
    sign_up(stack, page, "fay@example.com", cents=1000)
    page.goto(f"{stack.url}/services/telegram/")
    page.click("[data-star='service:telegram']")
    expect(page.locator("[data-star='service:telegram']")).to_have_attribute("aria-pressed", "true")
    page.goto(f"{stack.url}/countries/uk/")
    page.click("[data-star='country:uk']")
    buy(stack, page, "whatsapp", "us")
    page.goto(f"{stack.url}/")
    expect(page.locator("#favourites")).to_contain_text("Telegram")
    expect(page.locator("#favourites")).to_contain_text("United Kingdom")
    screenshot(page, "catalog-favourites")
    page.locator("#buy-again a").first.click()
    page.wait_for_url(re.compile(r"/buy/whatsapp/us/$"))
    # stored on the server: another browser sees them
    other = new_page()
    log_in(other, stack.url, "fay@example.com", PASSWORD)
    other.goto(f"{stack.url}/")
    expect(other.locator("#favourites")).to_contain_text("Telegram")


def test_the_language_switch_is_remembered_per_user(stack, new_page):
    page = new_page()
    sign_up(stack, page, "lev@example.com")
    page.goto(f"{stack.url}/history/")
    page.select_option("#language-select", "ru")  # submits on change
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("h1")).to_have_text("История")
    screenshot(page, "history-ru")
    other = new_page()  # another browser, English by default, speaks Russian once lev logs in
    log_in(other, stack.url, "lev@example.com", PASSWORD)
    other.goto(f"{stack.url}/settings/".replace("/settings/", "/account/settings/"))
    expect(other.locator("html")).to_have_attribute("lang", "ru")
    expect(other.locator("h1")).to_have_text("Настройки")


def test_both_themes_pass_axe_and_the_toggle_is_remembered(stack, browser, problems):
    failures = []
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page = problems.watch(context.new_page())
        email = f"theo-{scheme}@example.com"
        sign_up(stack, page, email, cents=500)
        buy(stack, page, "telegram", "us")
        pages = {
            "catalog": "/",
            "history": "/history/",
            "reports": "/reports/",
            "settings": "/account/settings/",
            "account-delete": "/account/delete/",
            "help": "/help/",
            "help-contact": "/help/contact/",
            "dashboard": "/numbers/",
        }
        for name, path in pages.items():
            page.goto(stack.url + path)
            failures += axe_failures(page, f"{name}-{scheme}")
            screenshot(page, f"{name}-{scheme}")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(18, 20, 24)") == (scheme == "dark"), background
        context.close()
    assert failures == []

    # the toggle: a light-system user picks dark, and it stays with them
    context = browser.new_context(color_scheme="light")
    page = problems.watch(context.new_page())
    log_in(page, stack.url, "theo-light@example.com", PASSWORD)
    page.goto(f"{stack.url}/help/")
    page.click("[data-theme-toggle]")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    context.close()
    fresh = browser.new_context(color_scheme="light")
    again = problems.watch(fresh.new_page())
    log_in(again, stack.url, "theo-light@example.com", PASSWORD)
    again.goto(f"{stack.url}/help/")
    expect(again.locator("html")).to_have_attribute("data-theme", "dark")
    fresh.close()


def test_deleting_is_refused_while_money_is_left_then_allowed(stack, new_page):
    page = new_page()
    sign_up(stack, page, "dora@example.com", cents=300)
    page.goto(f"{stack.url}/account/delete/")
    page.fill("#id_password", PASSWORD)
    page.check("#id_confirm")
    page.click("main button:has-text('Delete my account')")
    expect(page.locator("[data-error-code='account_has_funds']")).to_contain_text("$3.00")
    screenshot(page, "account-delete-refused")

    empty = new_page()
    sign_up(stack, empty, "dan@example.com")
    empty.goto(f"{stack.url}/account/delete/")
    empty.fill("#id_password", PASSWORD)
    empty.check("#id_confirm")
    empty.click("main button:has-text('Delete my account')")
    expect(empty.locator(".messages")).to_contain_text("Your account is deleted")
    log_in(empty, stack.url, "dan@example.com", PASSWORD)
    expect(empty.locator(".error-box")).to_contain_text("not right")


def test_the_guard_screens(stack, new_page):
    failures = []
    # e-mail not confirmed yet
    page = new_page()
    page.goto(f"{stack.url}/account/signup/")
    page.fill("#id_email", "uma@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{stack.url}/buy/whatsapp/us/")
    expect(page.locator("[data-guard='unverified']")).to_contain_text("confirm your e-mail address first")
    failures += axe_failures(page, "guard-unverified")
    screenshot(page, "guard-unverified")

    # suspended by the operator
    suspended = new_page()
    sign_up(stack, suspended, "sid@example.com")
    stack.manage(
        "shell",
        "-c",
        "from accounts.models import User; User.objects.filter(email='sid@example.com').update(is_active=False)",
    )
    log_in(suspended, stack.url, "sid@example.com", PASSWORD)
    expect(suspended.locator("[data-guard='suspended']")).to_contain_text("suspended")
    failures += axe_failures(suspended, "guard-suspended")
    screenshot(suspended, "guard-suspended")

    # too many actions: a low per-minute limit on the storefront for a moment
    limited = new_page()
    sign_up(stack, limited, "rita@example.com")
    set_limit = (
        "from accounts.models import Tenant; Tenant.objects.filter(slug='demo').update(rate_limit_per_minute={})"
    )
    stack.manage("shell", "-c", set_limit.format(2))
    try:
        limited.goto(f"{stack.url}/help/")
        for _ in range(3):
            limited.click("[data-theme-toggle]")
        expect(limited.locator("[data-guard='rate-limited']")).to_contain_text("try again")
        expect(limited.locator("[data-retry-at]")).to_have_text(re.compile(r"\d\d:\d\d:\d\d UTC"))
        failures += axe_failures(limited, "guard-rate-limited")
        screenshot(limited, "guard-rate-limited")
    finally:
        stack.manage("shell", "-c", set_limit.format(180))
    assert failures == []
