import logging

from django.core.management.base import CommandError

from accounts import selectors
from activations.services.reconcile import reconcile_tenant
from catalog.errors import UpstreamNotConfigured
from core.commands import OperatorCommand, quiet_logs


class Command(OperatorCommand):
    help = (
        "Compare the upstream activation history with ours and resolve the differences. One line per tenant, then "
        "a summary; exits non-zero when a tenant's history could not be read at all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant (default: every active tenant with an upstream).")
        parser.add_argument("--pages", type=int, default=5, help="History pages of 50 to read (6 a minute upstream).")

    def handle(self, *args, **opts):
        if opts["pages"] < 1:
            raise CommandError("--pages must be at least 1.")
        if opts["tenant"]:
            tenant = selectors.tenant_get(slug=opts["tenant"])
            if tenant is None:
                raise CommandError(f"Unknown tenant {opts['tenant']!r}.")
            tenants = [tenant]
        else:
            tenants = selectors.tenants_with_upstream()
        failed = []
        for tenant in tenants:
            try:
                # The report line below says what the INFO log would; warnings (a page's cause) still show once.
                with quiet_logs("activations.services.reconcile", level=logging.WARNING):
                    report = reconcile_tenant(tenant=tenant, max_pages=opts["pages"])
            except UpstreamNotConfigured as exc:
                if opts["tenant"]:
                    raise CommandError(f"{tenant.slug}: {exc}") from exc
                self.stdout.write(f"{tenant.slug}: FAILED: {exc}")
                failed.append(tenant.slug)
                continue
            if report.pages == 0:
                self.stdout.write(f"{report.summary()}: FAILED, the supplier's history could not be read")
                failed.append(tenant.slug)
            else:
                self.stdout.write(report.summary())
        summary = f"{len(tenants) - len(failed)} reconciled, {len(failed)} failed."
        if failed:
            raise CommandError(f"Reconciliation failed for {', '.join(failed)}: {summary}")
        self.stdout.write(summary)
