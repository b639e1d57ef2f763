"""``manage.py wallet_credit --tenant acme --email alice@example.com --cents 500``: a deposit from the command line."""

from __future__ import annotations

import re
import uuid

from django.core.management.base import CommandError
from django.utils import timezone

from accounts.selectors import tenant_get, user_get
from core.commands import OperatorCommand
from wallet.errors import WalletError
from wallet.selectors import wallet_summary
from wallet.services import MAX_AMOUNT_CENTS, deposit


def parse_cents(raw: str) -> int:
    """A positive whole number of cents, or CommandError. ``"1.50"``, ``"-5"``, ``"0"`` and ``"abc"`` are refused."""
    text = (raw or "").strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) <= 0:
        raise CommandError(f"--cents must be a positive whole number of cents, not {raw!r}.")
    cents = int(text)
    if cents > MAX_AMOUNT_CENTS:
        raise CommandError(f"--cents {cents} is out of range (at most {MAX_AMOUNT_CENTS}).")
    return cents


class Command(OperatorCommand):
    help = "Deposit cents into a user's wallet (a ledger entry from the tenant's funding account)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--email", required=True, help="The user's e-mail address in that tenant.")
        parser.add_argument("--cents", required=True, help="Amount in USD cents, a positive whole number.")
        parser.add_argument("--description", default="Deposit", help='Shown to the user (default: "Deposit").')
        parser.add_argument(
            "--idempotency-key",
            default="",
            help="Re-running with the same key posts nothing new (default: a fresh cli:deposit:<uuid>).",
        )

    def handle(self, *args, **options):
        cents = parse_cents(options["cents"])
        tenant = tenant_get(slug=options["tenant"])
        if tenant is None:
            raise CommandError(f"Unknown tenant {options['tenant']!r}.")
        user = user_get(tenant=tenant, email=options["email"])
        if user is None:
            raise CommandError(f"No user {options['email']!r} in tenant {tenant.slug!r}.")
        key = options["idempotency_key"] or f"cli:deposit:{uuid.uuid4()}"
        started = timezone.now()
        try:
            entry = deposit(
                user=user,
                amount_cents=cents,
                idempotency_key=key,
                description=options["description"] or "Deposit",
                actor="cli",
            )
        except WalletError as exc:
            raise CommandError(str(exc)) from exc
        summary = wallet_summary(user=user)
        balance = f"balance {summary.balance_cents} cents, available {summary.available_cents} cents."
        if entry.created_at < started:  # the key's deposit was posted before this run: nothing was credited now
            self.stdout.write(
                f"Already applied: deposit {entry.idempotency_key} of {cents} cents to {user.email} ({tenant.slug}) "
                f"was posted at {entry.created_at:%Y-%m-%d %H:%M:%S} UTC; nothing credited now; {balance}"
            )
            return
        self.stdout.write(
            f"Deposit {entry.idempotency_key} of {cents} cents to {user.email} ({tenant.slug}): {balance}"
        )
