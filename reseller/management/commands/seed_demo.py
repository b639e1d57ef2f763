"""Create (or find again) the demo tenant, user, API key and credit. Safe to run any number of times.

The API key's plaintext is never stored in the database, so the demo key is kept in ``var/demo_api_key``
(a local, git-ignored file) and re-issued only when that file's key no longer works.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import selectors, services
from wallet import services as wallet_services

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"
DEMO_CREDIT_CENTS = 5000


class Command(BaseCommand):
    help = "Create the idempotent demo tenant + user + API key + credit and print the key."

    def add_arguments(self, parser):
        parser.add_argument("--platfone-url", default="http://127.0.0.1:8001/api/v1")
        parser.add_argument("--platfone-key", default="demo-platfone-key")
        parser.add_argument("--webhook-secret", default="demo-webhook-secret")
        parser.add_argument("--domain", action="append", default=None)
        parser.add_argument("--key-file", default=str(Path(settings.BASE_DIR) / "var" / "demo_api_key"))

    @transaction.atomic
    def handle(self, *args, **opts):
        tenant = selectors.tenant_get(slug=DEMO_SLUG)
        if tenant is None:
            tenant = services.tenant_create(
                slug=DEMO_SLUG,
                name="Demo Numbers",
                domains=opts["domain"] or ["localhost", "127.0.0.1"],
                support_email="support@example.com",
                platfone_base_url=opts["platfone_url"],
                platfone_api_key=opts["platfone_key"],
                platfone_webhook_secret=opts["webhook_secret"],
            )
        else:
            services.tenant_supplier_set(
                tenant=tenant,
                base_url=opts["platfone_url"],
                api_key=opts["platfone_key"],
                webhook_secret=opts["webhook_secret"],
            )
        user = selectors.user_get(tenant=tenant, email=DEMO_EMAIL) or services.user_create(
            tenant=tenant, email=DEMO_EMAIL, password=DEMO_PASSWORD
        )
        wallet_services.deposit(
            user=user,
            amount_cents=DEMO_CREDIT_CENTS,
            idempotency_key=f"demo:initial-credit:{user.pk}",
            description="Demo credit",
            actor="cli:seed_demo",
        )

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
