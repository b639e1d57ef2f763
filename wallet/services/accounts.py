"""The ledger's accounts: each user's wallet and each tenant's system accounts, created on first use."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Tenant, User
from wallet.errors import WalletError
from wallet.models import Account
from wallet.services.protocol import checked_amount, lock_accounts

SYSTEM_ACCOUNT_TYPES = frozenset(Account.Type) - {Account.Type.USER_WALLET}


def user_wallet_get_or_create(*, user: User) -> Account:
    """The user's wallet, created empty on first use. Race-safe: concurrent callers get the same row.

    Operators (users without a tenant) have no wallet: ``WalletError``.
    """
    if user.tenant_id is None:
        raise WalletError(f"User #{user.pk} is an operator (no tenant) and has no wallet.")
    # get_or_create inserts in a savepoint and, if a concurrent insert won the unique index, reads the winner.
    account, _ = Account.objects.get_or_create(
        user=user, type=Account.Type.USER_WALLET, defaults={"tenant_id": user.tenant_id}
    )
    return account


@transaction.atomic
def system_account(*, tenant: Tenant, type: str) -> Account:
    """The tenant's account of a system ``type`` (revenue, upstream cost/payable, funding, adjustments).

    Created on first use; race-safe like ``user_wallet_get_or_create``.
    """
    return system_account_of(tenant_id=tenant.pk, type=type)


def system_account_of(*, tenant_id: int, type: str) -> Account:
    if type not in SYSTEM_ACCOUNT_TYPES:
        raise WalletError(f"{type!r} is not a system account type.")
    account, _ = Account.objects.get_or_create(tenant_id=tenant_id, type=type, user=None)
    return account


@transaction.atomic
def low_balance_threshold_set(*, user: User, threshold_cents: int | None) -> Account:
    """Set (or with None, remove) the balance below which the user hears ``wallet.low_balance``.

    The alert fires when a posting takes the balance from at or above the threshold to below it, so setting a
    threshold above the current balance announces nothing until the balance has risen above it and falls again.
    ``WalletError`` for an amount that is not a positive whole number of cents (at most ``MAX_AMOUNT_CENTS``).
    Creates the wallet on first use; locks it.
    """
    if threshold_cents is not None:
        threshold_cents = checked_amount(threshold_cents)
    wallet = user_wallet_get_or_create(user=user)
    locked = lock_accounts(wallet.pk)[wallet.pk]
    locked.low_balance_threshold_cents = threshold_cents
    locked.save(update_fields=["low_balance_threshold_cents"])
    return locked
