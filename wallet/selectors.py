"""Reads of the ledger, scoped to the given user or tenant (``verify_ledger`` reads it all). Reads never
create rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.models import BigIntegerField, Count, F, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Tenant, User
from core.compiled import CompiledQuery
from wallet.models import Account, Hold, JournalEntry, Posting


@dataclass(frozen=True)
class WalletSummary:
    balance_cents: int
    held_cents: int

    @property
    def available_cents(self) -> int:
        return self.balance_cents - self.held_cents


def wallet_summary(*, user: User) -> WalletSummary:
    """The user's balance, held and available funds; zeros for a user who has no wallet yet (or an operator)."""
    if user.tenant_id is None:
        return WalletSummary(balance_cents=0, held_cents=0)
    alias, sql, params = _BALANCE.sql({_USER: user.pk, _TENANT: user.tenant_id})
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return WalletSummary(balance_cents=0, held_cents=0)
    return WalletSummary(balance_cents=row[0], held_cents=row[1])


# Every GET wallet reads these two integers. Building and compiling the ORM query cost more CPU than running it, so
# the ORM's own query is compiled once, with sentinel values where the ids go (they cannot be ids), and run as is.
_USER, _TENANT = -(2**62) - 1, -(2**62) - 2
_BALANCE = CompiledQuery(
    Account,
    lambda: Account.objects.filter(user_id=_USER, tenant_id=_TENANT, type=Account.Type.USER_WALLET)
    .values_list("balance_cents", "held_cents")
    .order_by("pk")[:1],
)


def low_balance_threshold(*, user: User) -> int | None:
    """The balance below which the user hears ``wallet.low_balance`` (None: no alert)."""
    if user.tenant_id is None:
        return None
    return (
        Account.objects.filter(user=user, tenant_id=user.tenant_id, type=Account.Type.USER_WALLET)
        .values_list("low_balance_threshold_cents", flat=True)
        .first()
    )


def wallet_transactions(*, user: User, limit: int = 20) -> list[dict]:
    """The user's last ``limit`` wallet movements, newest first, in one query.

    Each is ``{"type", "amount_cents" (positive = credit to the user), "balance_after_cents", "description",
    "created_at" (aware, UTC)}``; ``type`` is the entry's kind: deposit, charge, refund or adjustment.
    """
    if user.tenant_id is None:
        return []
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


def entries_for_reference(*, tenant: Tenant, reference: str) -> list[JournalEntry]:
    """The journal entries of one reference (charges, refunds, upstream costs...), oldest first, postings
    loaded."""
    return list(
        JournalEntry.objects.filter(tenant=tenant, reference=reference)
        .order_by("id")
        .prefetch_related(Prefetch("postings", queryset=Posting.objects.select_related("account").order_by("id")))
    )


@dataclass(frozen=True)
class ReferenceMoney:
    """What one reference (an activation) brought in and cost. All amounts positive; ``margin_cents`` may be
    negative: a refunded sale whose supplier kept its price shows it as ``refund_loss_cents``, a named loss."""

    charged_cents: int
    refunded_cents: int
    upstream_cost_cents: int
    refund_loss_cents: int = 0

    @property
    def revenue_cents(self) -> int:
        return self.charged_cents - self.refunded_cents

    @property
    def margin_cents(self) -> int:
        return self.revenue_cents - self.upstream_cost_cents - self.refund_loss_cents


def reference_money(*, tenant: Tenant, reference: str) -> ReferenceMoney:
    """Charged, refunded, net upstream cost and refund loss of one reference, from the tenant's revenue, cost
    and refund-loss accounts."""
    charged = refunded = upstream = loss = 0
    legs = Posting.objects.filter(
        entry__tenant=tenant,
        entry__reference=reference,
        account__type__in=[
            Account.Type.TENANT_REVENUE,
            Account.Type.TENANT_UPSTREAM_COST,
            Account.Type.TENANT_REFUND_LOSS,
        ],
    ).values_list("entry__kind", "account__type", "amount_cents")
    for kind, account_type, amount in legs:
        if account_type == Account.Type.TENANT_UPSTREAM_COST:
            upstream += amount  # costs (+), their reversals and write-offs (-)
        elif account_type == Account.Type.TENANT_REFUND_LOSS:
            loss += amount  # write-offs (+), reversed when the supplier refunds after all (-)
        elif kind == JournalEntry.Kind.CHARGE:
            charged += amount
        elif kind == JournalEntry.Kind.REFUND:
            refunded -= amount
    return ReferenceMoney(
        charged_cents=charged, refunded_cents=refunded, upstream_cost_cents=upstream, refund_loss_cents=loss
    )


def entry_posted(*, idempotency_key: str) -> bool:
    """Whether an entry was posted under the key."""
    return JournalEntry.objects.filter(idempotency_key=idempotency_key).exists()


def _ids_of(references, prefix: str) -> set[int]:
    return {int(reference[len(prefix) :]) for reference in references if reference[len(prefix) :].isdigit()}


def active_hold_references(*, prefix: str) -> set[int]:
    """The numbers after ``prefix`` in the references of active holds (``"activation:42"`` -> 42)."""
    return _ids_of(
        Hold.objects.filter(status=Hold.Status.ACTIVE, reference__startswith=prefix).values_list(
            "reference", flat=True
        ),
        prefix,
    )


def charge_references(*, prefix: str) -> set[int]:
    """The numbers after ``prefix`` in the references of charges."""
    return _ids_of(
        JournalEntry.objects.filter(kind=JournalEntry.Kind.CHARGE, reference__startswith=prefix).values_list(
            "reference", flat=True
        ),
        prefix,
    )


def hold_for_reference(*, tenant: Tenant, reference: str) -> Hold | None:
    """The latest hold placed for the reference, if any."""
    return Hold.objects.filter(account__tenant=tenant, reference=reference).order_by("-id").first()


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountDrift:
    account_id: int
    tenant_id: int
    type: str
    user_id: int | None
    cached_balance_cents: int
    computed_balance_cents: int
    cached_held_cents: int
    computed_held_cents: int

    def __str__(self) -> str:
        owner = f"user #{self.user_id}" if self.user_id else f"tenant #{self.tenant_id}"
        return (
            f"account #{self.account_id} ({self.type}, {owner}): "
            f"balance cached {self.cached_balance_cents} vs postings {self.computed_balance_cents}, "
            f"held cached {self.cached_held_cents} vs active holds {self.computed_held_cents}"
        )


@dataclass(frozen=True)
class UnbalancedEntry:
    entry_id: int
    idempotency_key: str
    kind: str
    sum_cents: int
    posting_count: int

    def __str__(self) -> str:
        return (
            f"entry #{self.entry_id} {self.kind} {self.idempotency_key!r}: "
            f"{self.posting_count} postings summing to {self.sum_cents}"
        )


@dataclass(frozen=True)
class LedgerReport:
    accounts_checked: int
    entries_checked: int
    drifted_accounts: list[AccountDrift]
    unbalanced_entries: list[UnbalancedEntry]

    @property
    def ok(self) -> bool:
        return not self.drifted_accounts and not self.unbalanced_entries


def verify_ledger(*, tenant_id: int | None = None) -> LedgerReport:
    """Recompute every account's balance (from postings) and held funds (from active holds) and compare them
    with the cached values; find entries whose postings do not sum to zero or that have fewer than two.

    Reads only. Each check is one statement, so it sees one consistent snapshot even while money moves.
    ``tenant_id`` limits the checks to one tenant's accounts and entries (a tenant's operators).
    """
    accounts = Account.objects.all() if tenant_id is None else Account.objects.filter(tenant_id=tenant_id)
    entries = JournalEntry.objects.all() if tenant_id is None else JournalEntry.objects.filter(tenant_id=tenant_id)
    zero = Value(0, output_field=BigIntegerField())
    posted = (
        Posting.objects.filter(account=OuterRef("pk")).order_by().values("account").annotate(total=Sum("amount_cents"))
    )
    held = (
        Hold.objects.filter(account=OuterRef("pk"), status=Hold.Status.ACTIVE)
        .order_by()
        .values("account")
        .annotate(total=Sum("amount_cents"))
    )
    drifted = (
        accounts.annotate(
            computed_balance=Coalesce(Subquery(posted.values("total")), zero),
            computed_held=Coalesce(Subquery(held.values("total")), zero),
        )
        .exclude(balance_cents=F("computed_balance"), held_cents=F("computed_held"))
        .order_by("pk")
    )
    unbalanced = (
        entries.annotate(total=Coalesce(Sum("postings__amount_cents"), zero), legs=Count("postings"))
        .filter(~Q(total=0) | Q(legs__lt=2))
        .order_by("pk")
    )
    return LedgerReport(
        accounts_checked=accounts.count(),
        entries_checked=entries.count(),
        drifted_accounts=[
            AccountDrift(
                account_id=account.pk,
                tenant_id=account.tenant_id,
                type=account.type,
                user_id=account.user_id,
                cached_balance_cents=account.balance_cents,
                computed_balance_cents=account.computed_balance,
                cached_held_cents=account.held_cents,
                computed_held_cents=account.computed_held,
            )
            for account in drifted
        ],
        unbalanced_entries=[
            UnbalancedEntry(
                entry_id=entry.pk,
                idempotency_key=entry.idempotency_key,
                kind=entry.kind,
                sum_cents=entry.total,
                posting_count=entry.legs,
            )
            for entry in unbalanced
        ],
    )


def wallet_transactions_page(*, user: User, page: int, per_page: int = 20) -> tuple[list[dict], bool]:
    """One page (1-based) of the user's wallet movements, newest first, shaped as ``wallet_transactions``, and
    whether an older page exists. One query (one row more than the page tells whether another page follows)."""
    if user.tenant_id is None or page < 1 or per_page < 1:
        return [], False
    offset = (page - 1) * per_page
    rows = list(
        Posting.objects.filter(
            account__user=user, account__tenant_id=user.tenant_id, account__type=Account.Type.USER_WALLET
        )
        .order_by("-id")
        .values_list("entry__kind", "amount_cents", "balance_after_cents", "entry__description", "entry__created_at")[
            offset : offset + per_page + 1
        ]
    )
    items = [
        {
            "type": kind,
            "amount_cents": amount,
            "balance_after_cents": balance_after,
            "description": description,
            "created_at": created_at,
        }
        for kind, amount, balance_after, description, created_at in rows[:per_page]
    ]
    return items, len(rows) > per_page


# The columns of an account statement, in order (the CSV export's header too).
STATEMENT_COLUMNS = (
    "posting_id",
    "entry_id",
    "created_at",
    "kind",
    "description",
    "reference",
    "actor",
    "amount_cents",
    "balance_after_cents",
)


def account_statement(*, account: Account, last: int | None = None) -> list[dict]:
    """The account's postings, oldest first, each with the running balance after it (``balance_after_cents``,
    written with the posting) and its entry's kind, description, reference and time; only the ``last`` ones
    when given. One query, served by the (account, id) index."""
    rows = (
        Posting.objects.filter(account=account)
        .order_by("-id" if last is not None else "id")
        .values_list(
            "id",
            "entry_id",
            "entry__created_at",
            "entry__kind",
            "entry__description",
            "entry__reference",
            "entry__actor",
            "amount_cents",
            "balance_after_cents",
        )
    )
    selected = list(rows[:last]) if last is not None else list(rows)
    if last is not None:
        selected.reverse()
    return [dict(zip(STATEMENT_COLUMNS, row, strict=True)) for row in selected]
