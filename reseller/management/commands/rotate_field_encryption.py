"""Re-encrypt stored secrets under the newest FIELD_ENCRYPTION_KEYS key (the last step of a key rotation)."""

from accounts import services as accounts
from core.commands import OperatorCommand
from payments import services as payments
from webhooks import services as webhooks


class Command(OperatorCommand):
    help = (
        "Re-encrypt every secret stored encrypted (tenants' supplier credentials, customer webhook signing "
        "secrets, tenants' payment provider credentials) under the first key of FIELD_ENCRYPTION_KEYS."
    )

    def handle(self, *args, **opts):
        tenants = accounts.tenant_secrets_reencrypt()
        endpoints = webhooks.endpoint_secrets_reencrypt()
        payment_settings = payments.payment_secrets_reencrypt()
        self.stdout.write(
            f"Re-encrypted the supplier credentials of {tenants} tenant(s), "
            f"the signing secrets of {endpoints} webhook endpoint(s) "
            f"and the payment credentials of {payment_settings} tenant(s)."
        )
