from django.core.management.base import CommandError

from accounts import selectors, services
from core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Create a user in a tenant."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", default=None)

    def handle(self, *args, **opts):
        tenant = selectors.tenant_get(slug=opts["tenant"])
        if tenant is None:
            raise CommandError(f"Unknown tenant {opts['tenant']!r}.")
        try:
            user = services.user_create(tenant=tenant, email=opts["email"], password=opts["password"])
        except services.AccountError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created user {user.email} in {tenant.slug}")
