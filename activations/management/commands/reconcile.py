from django.core.management.base import BaseCommand, CommandError

from accounts import selectors
from activations.services.reconcile import reconcile_tenant
from catalog.errors import UpstreamNotConfigured


class Command(BaseCommand):
    help = "Compare the upstream activation history with ours and resolve the differences."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant (default: every active tenant with an upstream).")
        parser.add_argument("--pages", type=int, default=5, help="History pages of 50 to read (6 a minute upstream).")

    def handle(self, *args, **opts):
        if opts["tenant"]:
            tenant = selectors.tenant_get(slug=opts["tenant"])
            if tenant is None:
                raise CommandError(f"Unknown tenant {opts['tenant']!r}.")
            tenants = [tenant]
        else:
            tenants = selectors.tenants_with_upstream()
        if opts["pages"] < 1:
            raise CommandError("--pages must be at least 1.")
        for tenant in tenants:
            try:
                report = reconcile_tenant(tenant=tenant, max_pages=opts["pages"])
            except UpstreamNotConfigured as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(report.summary())
