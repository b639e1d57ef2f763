"""The admin's home: the business at a glance, the supplier account(s), and open alerts.

Tenant staff see their tenant; platform users see all tenants (or one, with ``?tenant=<id>``). Figures come
from selectors that aggregate in the database, cached for ``CONSOLE_DASHBOARD_CACHE_SECONDS``.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Tenant
from console import selectors
from console.formatting import cents
from console.supplier import BLOCK_LINE_PERCENT, NEAR_BLOCK_POINTS, supplier_account
from core.operator_admin import operator_tenant_id

OUTCOMES = (
    ("code_received", "Code received"),
    ("canceled", "Canceled"),
    ("expired", "Expired"),
    ("refunded", "Refunded"),
)


def dashboard_scope(request) -> tuple[int | None, Tenant | None, list[Tenant]]:
    """(tenant id the figures cover or None for all, that tenant, the tenants a platform user can pick)."""
    tenant_id = operator_tenant_id(request)
    if tenant_id is not None:
        return tenant_id, request.user.tenant, []
    tenants = list(Tenant.objects.order_by("slug"))
    chosen = request.GET.get("tenant", "")
    selected = next((t for t in tenants if str(t.pk) == chosen), None)
    return (selected.pk if selected else None), selected, tenants


def cached_business_figures(tenant_id: int | None) -> selectors.BusinessFigures:
    key = f"console:dashboard:{tenant_id or 'all'}:{timezone.localdate().isoformat()}"
    figures = cache.get(key)
    if figures is None:
        figures = selectors.business_figures(tenant_id=tenant_id)
        cache.set(key, figures, settings.CONSOLE_DASHBOARD_CACHE_SECONDS)
    return figures


def chart(labels: list[str], datasets: list[tuple[str, list, str]]) -> str:
    return json.dumps(
        {
            "labels": labels,
            "datasets": [
                {"label": label, "data": data, "backgroundColor": color, "borderColor": color}
                for label, data, color in datasets
            ],
        }
    )


def chart_options(*, stacked: bool) -> str:
    axis = {"stacked": stacked, "grid": {"display": True}, "ticks": {"maxRotation": 0, "autoSkip": True}}
    return json.dumps(
        {
            "maxBarThickness": 10,
            "plugins": {"legend": {"display": True, "position": "bottom", "align": "start"}},
            "scales": {"x": axis, "y": {**axis, "beginAtZero": True}},
        }
    )


def dashboard_context(request) -> dict:
    tenant_id, tenant, tenants = dashboard_scope(request)
    figures = cached_business_figures(tenant_id)
    labels = [day.strftime("%m-%d") for day, _ in figures.days]
    money_chart = chart(
        labels,
        [
            ("Revenue ($)", [round(f.revenue_cents / 100, 2) for _, f in figures.days], "#7c3aed"),
            ("Supplier cost ($)", [round(f.supplier_cost_cents / 100, 2) for _, f in figures.days], "#f59e0b"),
        ],
    )
    outcome_chart = chart(
        labels,
        [
            (title, [getattr(f, name) for _, f in figures.days], color)
            for (name, title), color in zip(OUTCOMES, ("#16a34a", "#64748b", "#dc2626", "#f59e0b"), strict=True)
        ],
    )
    if tenant is not None:
        accounts = [supplier_account(tenant)]
    else:
        accounts = [supplier_account(t) for t in tenants if t.platfone_api_key]
    return {
        "console": {
            "tenant": tenant,
            "tenants": tenants,
            "is_platform": operator_tenant_id(request) is None,
            "figures": figures,
            "periods": [
                {
                    "label": label,
                    "f": f,
                    "revenue": cents(f.revenue_cents),
                    "cost": cents(f.supplier_cost_cents),
                    "margin": cents(f.margin_cents),
                    "refunds": cents(f.refunded_cents),
                    "refund_loss": cents(f.refund_loss_cents),
                }
                for label, f in figures.periods.items()
            ],
            "money_chart": money_chart,
            "money_chart_options": chart_options(stacked=False),
            "outcome_chart": outcome_chart,
            "outcome_chart_options": chart_options(stacked=True),
            "tables": [
                ("Top services by revenue (30 days)", figures.top_services_by_revenue),
                ("Top countries by revenue (30 days)", figures.top_countries_by_revenue),
                ("Services by failure rate (30 days)", figures.top_services_by_failure),
                ("Countries by failure rate (30 days)", figures.top_countries_by_failure),
                ("Top users by revenue (30 days)", figures.top_users),
            ],
            "accounts": accounts,
            "block_line": BLOCK_LINE_PERCENT,
            "near_points": NEAR_BLOCK_POINTS,
            "alerts": selectors.open_alerts(tenant_id=tenant_id),
            "cache_seconds": settings.CONSOLE_DASHBOARD_CACHE_SECONDS,
        }
    }


def dashboard_callback(request, context: dict) -> dict:
    if request.user.is_authenticated and request.user.is_staff:
        context.update(dashboard_context(request))
    return context
