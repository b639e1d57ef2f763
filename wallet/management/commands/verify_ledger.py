"""``manage.py verify_ledger``: recompute every account from its postings and check every entry balances."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from wallet.selectors import verify_ledger


class Command(BaseCommand):
    help = "Check the ledger: cached balances and holds equal recomputed ones, every entry sums to zero."

    def handle(self, *args, **options):
        report = verify_ledger()
        if report.ok:
            self.stdout.write(f"ledger ok: {report.accounts_checked} accounts, {report.entries_checked} entries")
            return
        for drift in report.drifted_accounts:
            self.stderr.write(f"drift: {drift}")
        for entry in report.unbalanced_entries:
            self.stderr.write(f"unbalanced: {entry}")
        raise CommandError(
            f"ledger NOT ok: {len(report.drifted_accounts)} drifted accounts, "
            f"{len(report.unbalanced_entries)} unbalanced entries "
            f"(of {report.accounts_checked} accounts, {report.entries_checked} entries)"
        )
