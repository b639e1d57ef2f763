"""`manage.py doctor [--tenant SLUG]`: is the installation set up to sell numbers? One ✓/✗ line per check."""

from __future__ import annotations

from django.core.management.base import CommandError

from accounts import selectors as account_selectors
from accounts.models import Tenant
from core.commands import OperatorCommand
from reseller import doctor


class Command(OperatorCommand):
    help = (
        "Check the platform (beat) and each tenant (supplier URL and key with a real balance call, webhook secret "
        "and recent webhooks, domains in ALLOWED_HOSTS, catalog synced). Exits non-zero on any ✗."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant (the platform checks always run).")

    def handle(self, *args, **options):
        if options["tenant"]:
            tenant = account_selectors.tenant_get(slug=options["tenant"])
            if tenant is None:
                raise CommandError(f"Unknown tenant {options['tenant']!r}.")
            tenants = [tenant]
        else:
            tenants = list(Tenant.objects.order_by("slug"))
        failed = 0

        def show(check: doctor.Check) -> None:
            nonlocal failed
            failed += not check.ok
            self.stdout.write(f"  {check.line()}")

        self.stdout.write("Platform")
        show(doctor.check_beat())
        if not tenants:
            show(doctor.Check("tenants", False, "none yet.", "`python manage.py create_tenant SLUG --name NAME ...`."))
        for tenant in tenants:
            state = "" if tenant.is_active else f" [{tenant.status}]"
            self.stdout.write(f"Tenant {tenant.slug} ({tenant.name}){state}")
            for check in doctor.tenant_checks(tenant):
                show(check)
        if failed:
            raise CommandError(f"{failed} check(s) failed: fix the ✗ lines above.")
        self.stdout.write("All checks passed.")
