"""``manage.py verify_ledger``: the books are right, and the money agrees with the activations.

The ledger's own checks (``wallet.selectors.verify_ledger``: cached balances and holds recomputed, every entry
balanced) and the settlement's (``activations.selectors.settlement_problems``: no hold left on an activation
that can no longer receive an SMS, no charge without an SMS). It lives at the top (reseller) because it reads
both; the wallet knows nothing of activations.
"""

from __future__ import annotations

from django.core.management.base import CommandError

from activations.selectors import settlement_problems
from core.commands import OperatorCommand
from wallet.selectors import verify_ledger


class Command(OperatorCommand):
    help = (
        "Check the ledger (cached balances and holds equal recomputed ones, every entry sums to zero) and the "
        "settlement (no hold on an ended activation, no charge without an SMS)."
    )

    def handle(self, *args, **options):
        report = verify_ledger()
        problems = settlement_problems()
        if report.ok and not problems:
            self.stdout.write(f"ledger ok: {report.accounts_checked} accounts, {report.entries_checked} entries")
            return
        for drift in report.drifted_accounts:
            self.stderr.write(f"drift: {drift}")
        for entry in report.unbalanced_entries:
            self.stderr.write(f"unbalanced: {entry}")
        for problem in problems:
            self.stderr.write(f"settlement: {problem}")
        raise CommandError(
            f"ledger NOT ok: {len(report.drifted_accounts)} drifted accounts, "
            f"{len(report.unbalanced_entries)} unbalanced entries, {len(problems)} settlement problems "
            f"(of {report.accounts_checked} accounts, {report.entries_checked} entries)"
        )
