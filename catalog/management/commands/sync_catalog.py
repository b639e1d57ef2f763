"""`manage.py sync_catalog [--tenant SLUG] [--force]`: refresh catalogs from Platfone now."""

from __future__ import annotations

from django.core.management.base import CommandError

from accounts import selectors as account_selectors
from catalog import services
from catalog.upstream import upstream_configured
from core.commands import OperatorCommand, quiet_logs


class Command(OperatorCommand):
    help = (
        "Sync services, popular services and countries from Platfone (every active tenant, or one with --tenant). "
        "One line per tenant, then a summary; exits non-zero when a sync failed (a tenant without a supplier is "
        "skipped, not a failure)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant.")
        parser.add_argument("--force", action="store_true", help="Ignore stored ETags and fetch every list.")

    def handle(self, *args, **options):
        if options["tenant"]:
            tenant = account_selectors.tenant_get(slug=options["tenant"])
            if tenant is None:
                raise CommandError(f"Unknown tenant {options['tenant']!r}.")
            if not upstream_configured(tenant):
                raise CommandError(
                    f"Tenant {tenant.slug!r} has no Platfone base URL and API key "
                    f"(see `manage.py doctor --tenant {tenant.slug}`)."
                )
            tenants, skipped = [tenant], []
        else:
            tenants = account_selectors.tenants_with_upstream()
            skipped = account_selectors.tenants_without_upstream()
        with quiet_logs("catalog.sync"):  # the lines below say the same; the beat's runs keep logging them
            outcomes = services.catalog_sync_all(force=options["force"], tenants=tenants)
        for outcome in outcomes:
            if outcome.report:
                self.stdout.write(outcome.report.summary())
            else:
                self.stdout.write(f"{outcome.tenant}: FAILED: {outcome.error}")
        for tenant in skipped:
            self.stdout.write(
                f"{tenant.slug}: skipped: no supplier configured (see `manage.py doctor --tenant {tenant.slug}`)"
            )
        failed = [outcome.tenant for outcome in outcomes if outcome.error]
        summary = f"{len(outcomes) - len(failed)} synced, {len(failed)} failed, {len(skipped)} skipped (no supplier)."
        if failed:
            raise CommandError(f"Catalog sync failed for {', '.join(failed)}: {summary}")
        self.stdout.write(summary)
