"""The dashboard in a real browser (headless Chromium through pip's playwright), as tenant staff and as a platform
superuser. The pictures go to a temporary folder; with ``UPDATE_SCREENSHOTS=1`` they replace the committed
ones in ``docs/screenshots/``. Skipped without ``/usr/bin/chromium`` unless ``REQUIRE_BROWSER=1`` (CI)."""

from __future__ import annotations

import os
import shutil
import struct
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from tests.console.conftest import SMS, make_activation

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

if not Path(CHROMIUM).exists():
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install -y chromium)")
    pytestmark.append(pytest.mark.skip(reason=f"{CHROMIUM} is missing"))

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def busy_month(seeded, alice, bob, charlie):
    """A month of orders on top of the seeded set, so that the charts have something to show."""
    now = timezone.now()
    for day in range(30):
        when = now - timedelta(days=day, hours=1)
        for index in range((day * 7) % 5 + 2):
            user = (alice, bob, charlie)[(day + index) % 3]
            service, country = (("whatsapp", "us"), ("telegram", "gb"), ("google", "de"))[(day + index) % 3]
            sold = (day + index) % 4 != 0
            make_activation(
                user,
                created_at=when,
                service_id=service,
                country_id=country,
                sell_price_cents=120 + 10 * index,
                price_cents=70 + 5 * index,
                activation_status="finalized" if sold else "expired",
                billing_status="billed" if sold else "released",
                **({**SMS, "sms_received_at": when} if sold else {}),
            )


def session_cookie(user) -> dict:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.TenantEmailBackend"  # the one that loads users back
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key}


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


def shoot(live_server, user, path: Path) -> str:
    cookie = session_cookie(user)  # before playwright's event loop starts: Django's ORM refuses to run inside it
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            context.add_cookies([{**cookie, "url": live_server.url}])
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server.url}/admin/", wait_until="networkidle")
            page.wait_for_selector('[data-testid="dashboard"]')
            page.wait_for_function("document.querySelectorAll('canvas.chart').length >= 2")
            page.wait_for_timeout(300)  # the charts' entry animation
            page.screenshot(path=str(path), full_page=True)
            text = page.inner_text('[data-testid="dashboard"]')
            assert errors == [], errors
        finally:
            browser.close()
    return text


@pytest.fixture
def shots(tmp_path):
    update = os.environ.get("UPDATE_SCREENSHOTS") == "1"
    yield tmp_path
    if update:
        DOCS.mkdir(parents=True, exist_ok=True)
        for picture in tmp_path.glob("*.png"):
            shutil.copy(picture, DOCS / picture.name)


def test_the_dashboard_as_tenant_staff_and_as_superuser(live_server, emulator, busy_month, acme_staff, operator, shots):
    staff_text = shoot(live_server, acme_staff, shots / "dashboard-tenant-staff.png")
    assert "Acme Numbers" in staff_text and "Supplier account" in staff_text
    assert "globex" not in staff_text.lower()

    super_text = shoot(live_server, operator, shots / "dashboard-superuser.png")
    assert "All tenants" in super_text and "globex" in super_text.lower()

    for name in ("dashboard-tenant-staff.png", "dashboard-superuser.png"):
        width, height = png_size(shots / name)
        assert width == 1440 and height > 1000


def test_the_markup_preview_follows_the_form_as_it_is_typed(live_server, tenant, alice, acme_staff):
    # given acme sold whatsapp in the us at a supplier cost of 260
    make_activation(alice, service_id="whatsapp", country_id="us", price_cents=260)
    cookie = session_cookie(acme_staff)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            context = browser.new_context()
            context.add_cookies([{**cookie, "url": live_server.url}])
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/catalog/markuprule/add/", wait_until="networkidle")
            cell = page.locator('[data-testid="markup-preview"] td[data-edited]').first
            assert cell.inner_text().strip() == "—"  # nothing typed yet: the built-in default is in force
            # when the operator types a rule: 0 %, +40 cents
            page.fill("input[name=percent_bp]", "0")
            page.fill("input[name=fixed_cents]", "40")
            # then the table shows the price the rule would sell at, without saving
            page.wait_for_function(
                "document.querySelector('[data-testid=markup-preview] td[data-edited]').innerText.trim() === '300'"
            )
        finally:
            browser.close()
