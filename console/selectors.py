"""The dashboard's business figures: aggregated in the database by ``activations.selectors`` (one query per
breakdown), arranged here. Money is attributed to the UTC day the activation was ordered; "7 days" and
"30 days" are the last 7 and 30 calendar days, today included.

- revenue = charges - refunds (sell prices of charged activations, less those refunded)
- supplier cost = what the supplier billed and kept (an approved report or a supplier refund reverses it)
- margin = revenue - supplier cost; margin % = margin / revenue
- refund losses = the supplier cost of refunded activations (the user got the money back, the supplier did not)
- SMS success rate = orders whose SMS arrived / finished orders (SMS arrived, or ended without one)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from activations import selectors as activation_selectors
from console.models import Alert

PERIOD_DAYS = {"today": 1, "7 days": 7, "30 days": 30}
TOP = 10
FAILURE_RATE_MIN_FINISHED = 3  # a failure rate over fewer finished orders is noise


@dataclass(frozen=True)
class Figures:
    orders: int = 0
    code_received: int = 0
    canceled: int = 0
    expired: int = 0
    refunded: int = 0
    finished: int = 0
    charged_cents: int = 0
    refunded_cents: int = 0
    supplier_cost_cents: int = 0
    refund_loss_cents: int = 0

    @classmethod
    def of(cls, row: dict) -> Figures:
        return cls(**{name: int(row.get(name) or 0) for name in cls.__dataclass_fields__})

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{name: getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__})

    @property
    def revenue_cents(self) -> int:
        return self.charged_cents - self.refunded_cents

    @property
    def margin_cents(self) -> int:
        return self.revenue_cents - self.supplier_cost_cents

    @property
    def margin_percent(self) -> float | None:
        return round(100 * self.margin_cents / self.revenue_cents, 1) if self.revenue_cents else None

    @property
    def success_rate_percent(self) -> float | None:
        return round(100 * self.code_received / self.finished, 1) if self.finished else None

    @property
    def failure_rate_percent(self) -> float | None:
        return round(100 * (self.finished - self.code_received) / self.finished, 1) if self.finished else None


@dataclass(frozen=True)
class Breakdown:
    key: str
    label: str
    figures: Figures


@dataclass(frozen=True)
class BusinessFigures:
    today: date
    periods: dict[str, Figures]
    days: list[tuple[date, Figures]]
    top_services_by_revenue: list[Breakdown]
    top_services_by_failure: list[Breakdown]
    top_countries_by_revenue: list[Breakdown]
    top_countries_by_failure: list[Breakdown]
    top_users: list[Breakdown]


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def business_figures(*, tenant_id: int | None, now: datetime | None = None) -> BusinessFigures:
    """Everything the dashboard shows of the business, for one tenant or (None) all. Four queries."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    since = start_of_day(today - timedelta(days=PERIOD_DAYS["30 days"] - 1))
    by_day = {
        row["day"]: Figures.of(row)
        for row in activation_selectors.activation_figures_by_day(tenant_id=tenant_id, since=since)
    }
    days = [(day, by_day.get(day, Figures())) for day in (today - timedelta(days=n) for n in range(29, -1, -1))]
    periods = {}
    for label, count in PERIOD_DAYS.items():
        total = Figures()
        for _day, figures in days[-count:]:
            total += figures
        periods[label] = total

    def breakdown(field: str) -> list[Breakdown]:
        rows = activation_selectors.activation_figures_by(tenant_id=tenant_id, since=since, field=field)
        if field == "user":
            return [
                Breakdown(key=str(row["user_id"]), label=row["user__email"], figures=Figures.of(row)) for row in rows
            ]
        return [Breakdown(key=row[field], label=row[field], figures=Figures.of(row)) for row in rows]

    def by_revenue(items: list[Breakdown]) -> list[Breakdown]:
        ranked = sorted(items, key=lambda item: (-item.figures.revenue_cents, item.label))
        return [item for item in ranked if item.figures.revenue_cents > 0][:TOP]

    def by_failure(items: list[Breakdown]) -> list[Breakdown]:
        eligible = [item for item in items if item.figures.finished >= FAILURE_RATE_MIN_FINISHED]
        ranked = sorted(eligible, key=lambda item: (-(item.figures.failure_rate_percent or 0), item.label))
        return ranked[:TOP]

    services, countries, users = breakdown("service_id"), breakdown("country_id"), breakdown("user")
    return BusinessFigures(
        today=today,
        periods=periods,
        days=days,
        top_services_by_revenue=by_revenue(services),
        top_services_by_failure=by_failure(services),
        top_countries_by_revenue=by_revenue(countries),
        top_countries_by_failure=by_failure(countries),
        top_users=by_revenue(users),
    )


def open_alerts(*, tenant_id: int | None) -> list[Alert]:
    alerts = Alert.objects.filter(resolved_at__isnull=True).select_related("tenant")
    if tenant_id is not None:
        alerts = alerts.filter(tenant_id=tenant_id)
    return list(alerts.order_by("-opened_at")[:50])
