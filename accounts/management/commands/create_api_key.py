from django.core.management.base import CommandError

from accounts import selectors, services
from core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Issue an API key for a user. The key is printed alone on the last line and never shown again."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="default")

    def handle(self, *args, **opts):
        tenant = selectors.tenant_get(slug=opts["tenant"])
        if tenant is None:
            raise CommandError(f"Unknown tenant {opts['tenant']!r}.")
        user = selectors.user_get(tenant=tenant, email=opts["email"])
        if user is None:
            raise CommandError(f"Unknown user {opts['email']!r} in tenant {tenant.slug!r}.")
        issued = services.api_key_create(user=user, name=opts["name"])
        self.stdout.write(f"Issued key {issued.api_key.prefix}… ({issued.api_key.name}) for {user.email}")
        self.stdout.write(issued.raw_key)
