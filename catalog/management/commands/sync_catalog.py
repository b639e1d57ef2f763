"""`manage.py sync_catalog [--tenant SLUG] [--force]`: refresh catalogs from Platfone now."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts import selectors as account_selectors
from catalog import services
from catalog.upstream import upstream_configured


class Command(BaseCommand):
    help = "Sync services, popular services and countries from Platfone (all tenants, or one with --tenant)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant.")
        parser.add_argument("--force", action="store_true", help="Ignore stored ETags and fetch every list.")

    def handle(self, *args, **options):
        tenants = None
        if options["tenant"]:
            tenant = account_selectors.tenant_get(slug=options["tenant"])
            if tenant is None:
                raise CommandError(f"Unknown tenant {options['tenant']!r}.")
            if not upstream_configured(tenant):
                raise CommandError(f"Tenant {tenant.slug!r} has no Platfone base URL and API key.")
            tenants = [tenant]
        outcomes = services.catalog_sync_all(force=options["force"], tenants=tenants)
        failed = [outcome for outcome in outcomes if outcome.error]
        for outcome in outcomes:
            if outcome.report:
                self.stdout.write(outcome.report.summary())
        if not outcomes:
            self.stdout.write("No tenant has Platfone credentials; nothing to sync.")
        if failed:
            raise CommandError("; ".join(f"{outcome.tenant}: {outcome.error}" for outcome in failed))
