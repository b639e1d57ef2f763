"""What the console shows of a tenant's supplier (Platfone) account. Reads only; the balance is asked of the
supplier at most once per ``CONSOLE_SUPPLIER_BALANCE_CACHE_SECONDS`` per tenant (shared cache)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from accounts.models import Tenant
from activations import selectors as activation_selectors
from catalog.errors import UpstreamNotConfigured
from catalog.upstream import client_for_tenant, upstream_configured
from platfone.budget import REJECTION_WINDOWS
from platfone.errors import PlatfoneError

ACTIVE_SLOTS = 20  # the supplier's hard limit of active activations per account
BLOCK_LINE_PERCENT = 7  # below this 24 h success rate the supplier blocks the account for 24 h
NEAR_BLOCK_POINTS = 3  # "near the block": within this many points above it
SUCCESS_RATE_MIN_FINISHED = 10  # a rate over fewer finished orders says nothing


@dataclass(frozen=True)
class SupplierBalance:
    ok: bool
    total_cents: int | None = None
    reserved_cents: int | None = None
    error: str = ""
    checked_at: float = 0.0

    @property
    def available_cents(self) -> int | None:
        if self.total_cents is None or self.reserved_cents is None:
            return None
        return self.total_cents - self.reserved_cents


@dataclass(frozen=True)
class SupplierAccount:
    tenant_id: int
    tenant_slug: str
    configured: bool
    balance: SupplierBalance
    active_used: int
    active_limit: int
    finished_24h: int
    succeeded_24h: int
    last_webhook_at: datetime | None
    webhook_events_24h: int
    webhook_failures_24h: int
    open_issues: int
    budget: list[dict] = field(default_factory=list)
    rejections_recent: int = 0

    @property
    def success_rate_percent(self) -> float | None:
        if not self.finished_24h:
            return None
        return round(100 * self.succeeded_24h / self.finished_24h, 1)

    @property
    def success_rate_state(self) -> str:
        """ "blocked-risk" below the line, "near" within 3 points above it, "ok", or "unknown" (too few)."""
        rate = self.success_rate_percent
        if rate is None or self.finished_24h < SUCCESS_RATE_MIN_FINISHED:
            return "unknown"
        if rate < BLOCK_LINE_PERCENT:
            return "below"
        if rate <= BLOCK_LINE_PERCENT + NEAR_BLOCK_POINTS:
            return "near"
        return "ok"


def balance_cache_key(tenant: Tenant) -> str:
    return f"console:supplier-balance:{tenant.pk}:{tenant.platfone_account_digest or tenant.platfone_base_url}"


def supplier_balance(tenant: Tenant, *, fresh: bool = False) -> SupplierBalance:
    """The supplier's balance and reserved funds for the tenant (cached; ``fresh`` asks the supplier now).
    A failure is an answer too (``ok=False`` with the reason), cached as briefly as a success."""
    key = balance_cache_key(tenant)
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    try:
        balance = client_for_tenant(tenant).balance()
    except UpstreamNotConfigured:
        result = SupplierBalance(ok=False, error="No supplier URL and API key configured.", checked_at=time.time())
    except PlatfoneError as exc:
        result = SupplierBalance(ok=False, error=str(exc)[:300], checked_at=time.time())
    else:
        result = SupplierBalance(
            ok=True, total_cents=balance.total, reserved_cents=balance.reserved, checked_at=time.time()
        )
    cache.set(key, result, settings.CONSOLE_SUPPLIER_BALANCE_CACHE_SECONDS)
    return result


def supplier_account(tenant: Tenant) -> SupplierAccount:
    """The supplier block of the dashboard for one tenant. Five queries, the cached balance, and the request
    budget's counters (cache only)."""
    configured = upstream_configured(tenant)
    finished, succeeded = activation_selectors.account_success_rate(tenant_id=tenant.pk)
    webhooks = activation_selectors.webhook_health(tenant_id=tenant.pk)
    budget: list[dict] = []
    rejections = 0
    if configured:
        client = client_for_tenant(tenant)
        if client.budget is not None:
            for method, (spent, limit) in client.budget.usage().items():
                recent = client.budget.rejections(method, windows=REJECTION_WINDOWS)
                rejections += recent
                budget.append({"method": method, "spent": spent, "limit": limit, "rejections": recent})
    return SupplierAccount(
        tenant_id=tenant.pk,
        tenant_slug=tenant.slug,
        configured=configured,
        balance=supplier_balance(tenant) if configured else SupplierBalance(ok=False, error="Not configured."),
        active_used=activation_selectors.open_activations_count(tenant_id=tenant.pk),
        active_limit=ACTIVE_SLOTS,
        finished_24h=finished,
        succeeded_24h=succeeded,
        last_webhook_at=webhooks["last_webhook_at"],
        webhook_events_24h=webhooks["events_24h"],
        webhook_failures_24h=webhooks["failures_24h"],
        open_issues=activation_selectors.open_reconciliation_issues(tenant_id=tenant.pk),
        budget=budget,
        rejections_recent=rejections,
    )
