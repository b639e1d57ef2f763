from django.core.management.base import CommandError

from accounts import services
from core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Create a tenant (reseller storefront)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--domain", action="append", default=[], help="Host name; repeat for several.")
        parser.add_argument("--support-email", default="")
        parser.add_argument("--platfone-url", default="")
        parser.add_argument("--platfone-key", default="")
        parser.add_argument("--webhook-secret", default="")

    def handle(self, *args, **opts):
        try:
            tenant = services.tenant_create(
                slug=opts["slug"],
                name=opts["name"],
                domains=opts["domain"],
                support_email=opts["support_email"],
                platfone_base_url=opts["platfone_url"],
                platfone_api_key=opts["platfone_key"],
                platfone_webhook_secret=opts["webhook_secret"],
            )
        except services.AccountError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created tenant {tenant.slug}")
        missing = services.supplier_missing(tenant)
        if missing:
            self.stderr.write(
                f"Warning: tenant {tenant.slug} cannot sell numbers until its supplier is configured "
                f"(missing {', '.join(missing)}): set them in the admin's tenant page, then run "
                f"`manage.py doctor --tenant {tenant.slug}`."
            )
