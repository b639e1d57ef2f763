"""Reads of the ledger, always scoped to the given user or tenant. Reads never create rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from accounts.models import Tenant, User
from wallet.models import Account, Hold, JournalEntry, Posting


@dataclass(frozen=True)
class WalletSummary:
    balance_cents: int
    held_cents: int

    @property
    def available_cents(self) -> int:
        return self.balance_cents - self.held_cents


def wallet_summary(*, user: User) -> WalletSummary:
    """The user's balance, held and available funds; zeros for a user who has no wallet yet."""
    row = (
        Account.objects.filter(user=user, tenant_id=user.tenant_id, type=Account.Type.USER_WALLET)
        .values_list("balance_cents", "held_cents")
        .first()
    )
    if row is None:
        return WalletSummary(balance_cents=0, held_cents=0)
    return WalletSummary(balance_cents=row[0], held_cents=row[1])


def wallet_transactions(*, user: User, limit: int = 20) -> list[dict]:
    """The user's last ``limit`` wallet movements, newest first, in one query.

    Each is ``{"type", "amount_cents" (positive = credit to the user), "balance_after_cents", "description",
    "created_at" (aware, UTC)}``; ``type`` is the entry's kind: deposit, charge, refund or adjustment.
    """
    rows = (
        Posting.objects.filter(
            account__user=user, account__tenant_id=user.tenant_id, account__type=Account.Type.USER_WALLET
        )
        .order_by("-id")  # served by the (account, id) index, walked backwards
        .values_list("entry__kind", "amount_cents", "balance_after_cents", "entry__description", "entry__created_at")
    )[: max(0, limit)]
    return [
        {
            "type": kind,
            "amount_cents": amount,
            "balance_after_cents": balance_after,
            "description": description,
            "created_at": created_at,
        }
        for kind, amount, balance_after, description, created_at in rows
    ]


def entries_for_activation(*, tenant: Tenant, activation_id: int) -> list[JournalEntry]:
    """The activation's journal entries (charges, refunds, upstream costs...), oldest first, postings loaded."""
    return list(
        JournalEntry.objects.filter(tenant=tenant, activation_id=activation_id)
        .order_by("id")
        .prefetch_related(Prefetch("postings", queryset=Posting.objects.select_related("account").order_by("id")))
    )


@dataclass(frozen=True)
class ActivationMoney:
    """What one activation brought in and cost. All amounts positive; ``margin_cents`` may be negative."""

    charged_cents: int
    refunded_cents: int
    upstream_cost_cents: int

    @property
    def revenue_cents(self) -> int:
        return self.charged_cents - self.refunded_cents

    @property
    def margin_cents(self) -> int:
        return self.revenue_cents - self.upstream_cost_cents


def activation_money(*, tenant: Tenant, activation_id: int) -> ActivationMoney:
    """Charged, refunded and net upstream cost of one activation, from the tenant's revenue and cost accounts."""
    charged = refunded = upstream = 0
    legs = Posting.objects.filter(
        entry__tenant=tenant,
        entry__activation_id=activation_id,
        account__type__in=[Account.Type.TENANT_REVENUE, Account.Type.TENANT_UPSTREAM_COST],
    ).values_list("entry__kind", "amount_cents")
    for kind, amount in legs:
        if kind == JournalEntry.Kind.CHARGE:
            charged += amount
        elif kind == JournalEntry.Kind.REFUND:
            refunded -= amount
        else:  # upstream cost (+) and its reversal (-)
            upstream += amount
    return ActivationMoney(charged_cents=charged, refunded_cents=refunded, upstream_cost_cents=upstream)


def hold_for_activation(*, tenant: Tenant, activation_id: int) -> Hold | None:
    """The latest hold placed for the activation, if any."""
    return Hold.objects.filter(account__tenant=tenant, activation_id=activation_id).order_by("-id").first()
