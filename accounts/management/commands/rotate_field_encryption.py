"""Re-encrypt stored secrets under the newest FIELD_ENCRYPTION_KEYS key (the last step of a key rotation)."""

from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Re-encrypt every tenant's supplier credentials under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **opts):
        count = services.tenant_secrets_reencrypt()
        self.stdout.write(f"Re-encrypted the supplier credentials of {count} tenant(s).")
