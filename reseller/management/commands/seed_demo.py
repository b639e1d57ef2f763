"""Create (or find again) the demo storefronts, their users, an API key and credit. Safe to run any number of times.

Two storefronts with their own look, hosts and upstream (Platfone) account, as ``make run`` serves them:
``demo`` on localhost / 127.0.0.1 and ``globex`` on globex.localhost. The same demo e-mail is a user of both
(two users: accounts are per storefront), each verified and with a funded wallet.

The API key's plaintext is never stored in the database, so the demo key is kept in ``var/demo_api_key``
(a local, git-ignored file) and re-issued only when that file's key no longer works.
"""

from __future__ import annotations

import io
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import selectors, services
from accounts.models import Tenant
from payments import services as payment_services
from wallet import services as wallet_services

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"
DEMO_CREDIT_CENTS = 5000

SECOND_SLUG = "globex"
SECOND_HOST = "globex.localhost"

TOPUP_TEXT = (
    "Top-ups by bank transfer: send the amount to IBAN XX00 DEMO 0000 0000 0000 with your e-mail address as the "
    "reference. Your wallet is credited within one business day.\n\n"
    "Questions? Write to {support}."
)

# slug -> name, brand colour, logo drawing
STOREFRONTS = {
    DEMO_SLUG: ("Demo Numbers", "#0f766e", "square"),
    SECOND_SLUG: ("Globex SMS", "#7c3aed", "globe"),
}


def logo_png(color: str, shape: str) -> bytes:
    """A small generated logo, so that the demo shows the logo field at work without shipping image files."""
    from PIL import Image, ImageDraw

    size = 96
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if shape == "globe":
        draw.ellipse((4, 4, size - 4, size - 4), fill=color)
        for inset in (18, 34):
            draw.ellipse((inset, 8, size - inset, size - 8), outline="white", width=5)
        draw.line((8, size // 2, size - 8, size // 2), fill="white", width=5)
    else:
        draw.rounded_rectangle((4, 4, size - 4, size - 4), radius=22, fill=color)
        draw.rounded_rectangle((32, 18, 64, 78), radius=8, outline="white", width=6)
        draw.ellipse((44, 64, 52, 72), fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the idempotent demo storefronts + users + API key + credit and print the key."

    def add_arguments(self, parser):
        parser.add_argument("--platfone-url", default="http://127.0.0.1:8001/api/v1")
        parser.add_argument("--platfone-key", default="demo-platfone-key")
        parser.add_argument("--webhook-secret", default="demo-webhook-secret")
        parser.add_argument("--domain", action="append", default=None)
        parser.add_argument(
            "--second-platfone-url",
            default="",
            help="The second storefront's (globex) upstream; without it only the demo storefront is seeded.",
        )
        parser.add_argument("--second-platfone-key", default="globex-platfone-key")
        parser.add_argument("--second-webhook-secret", default="globex-webhook-secret")
        parser.add_argument("--second-domain", default=SECOND_HOST)
        parser.add_argument("--key-file", default=str(Path(settings.BASE_DIR) / "var" / "demo_api_key"))

    @transaction.atomic
    def handle(self, *args, **opts):
        tenant = self.storefront(
            DEMO_SLUG,
            domains=opts["domain"] or ["localhost", "127.0.0.1"],
            platfone_url=opts["platfone_url"],
            platfone_key=opts["platfone_key"],
            webhook_secret=opts["webhook_secret"],
        )
        user = self.funded_user(tenant)
        if opts["second_platfone_url"]:
            second = self.storefront(
                SECOND_SLUG,
                domains=[opts["second_domain"]],
                platfone_url=opts["second_platfone_url"],
                platfone_key=opts["second_platfone_key"],
                webhook_secret=opts["second_webhook_secret"],
            )
            self.funded_user(second)
            self.stdout.write(f"Second storefront: {second.slug} on {opts['second_domain']}")

        key_file = Path(opts["key_file"])
        raw_key = key_file.read_text().strip() if key_file.exists() else ""
        api_key = selectors.api_key_authenticate(raw_key=raw_key) if raw_key else None
        if api_key is None or api_key.user_id != user.pk:
            raw_key = services.api_key_create(user=user, name="demo").raw_key
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(raw_key + "\n")
            key_file.chmod(0o600)
        self.stdout.write(f"Demo tenant: {tenant.slug}  user: {DEMO_EMAIL} / {DEMO_PASSWORD}")
        self.stdout.write(raw_key)

    def storefront(self, slug, *, domains, platfone_url, platfone_key, webhook_secret) -> Tenant:
        name, color, shape = STOREFRONTS[slug]
        tenant = selectors.tenant_get(slug=slug)
        if tenant is None:
            tenant = services.tenant_create(
                slug=slug,
                name=name,
                domains=domains,
                support_email=f"support@{slug}.example.com",
                platfone_base_url=platfone_url,
                platfone_api_key=platfone_key,
                platfone_webhook_secret=webhook_secret,
            )
        else:
            tenant = services.tenant_supplier_set(
                tenant=tenant, base_url=platfone_url, api_key=platfone_key, webhook_secret=webhook_secret
            )
        if not tenant.brand_logo:
            # Demo data, set once: an operator's later edits in the admin are kept.
            tenant.brand_color = color
            tenant.topup_instructions = TOPUP_TEXT.format(support=tenant.support_email)
            tenant.brand_logo.save(f"{slug}.png", ContentFile(logo_png(color, shape)), save=False)
            tenant.save(update_fields=["brand_color", "topup_instructions", "brand_logo"])
        # Top-ups through the demo provider (its checkout page is served here) and manual transfers; set once, so
        # an operator's later choice of provider is kept.
        payment_services.payment_settings_seed(tenant=tenant, provider="demo", manual_enabled=True)
        return tenant

    def funded_user(self, tenant: Tenant):
        user = selectors.user_get(tenant=tenant, email=DEMO_EMAIL) or services.user_create(
            tenant=tenant, email=DEMO_EMAIL, password=DEMO_PASSWORD
        )
        services.user_email_mark_verified(user=user)
        wallet_services.deposit(
            user=user,
            amount_cents=DEMO_CREDIT_CENTS,
            idempotency_key=f"demo:initial-credit:{user.pk}",
            description="Demo credit",
            actor="cli:seed_demo",
        )
        return user
