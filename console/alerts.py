"""Operator alerts: checked by a beat task, shown on the dashboard, e-mailed once per condition.

Each check evaluates every tenant's conditions. A condition seen for the first time opens an ``Alert`` (the
unique "one open alert per tenant and kind" constraint makes concurrent checks harmless) and e-mails the
tenant's operators once, after commit; while it holds, later checks only refresh it; when it clears, the alert
is resolved, so a condition that comes back is a new alert and a new e-mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant, User
from activations import selectors as activation_selectors
from console.models import Alert
from console.supplier import BLOCK_LINE_PERCENT, NEAR_BLOCK_POINTS, supplier_account
from wallet import selectors as wallet_selectors

logger = logging.getLogger(__name__)

# verify_ledger reads every posting of the tenant: it runs at most this often per tenant, not every minute.
LEDGER_CHECK_SECONDS = 600


@dataclass(frozen=True)
class Condition:
    kind: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlertsReport:
    opened: list[Alert] = field(default_factory=list)
    resolved: int = 0
    still_open: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.opened)} opened, {self.still_open} still open, {self.resolved} resolved"


def ledger_drift(tenant: Tenant) -> dict[str, Any] | None:
    key = f"console:ledger-check:{tenant.pk}"
    result = cache.get(key)
    if result is None:
        report = wallet_selectors.verify_ledger(tenant_id=tenant.pk)
        result = {
            "ok": report.ok,
            "drifted_accounts": [str(drift) for drift in report.drifted_accounts][:10],
            "unbalanced_entries": [str(entry) for entry in report.unbalanced_entries][:10],
        }
        cache.set(key, result, LEDGER_CHECK_SECONDS)
    return None if result["ok"] else result


def tenant_conditions(tenant: Tenant, *, now: datetime | None = None) -> list[Condition]:
    """The alert conditions that hold for the tenant right now."""
    now = now or timezone.now()
    account = supplier_account(tenant)
    conditions: list[Condition] = []
    balance = account.balance
    available = balance.available_cents if account.configured and balance.ok else None
    if available is not None and available < tenant.alert_supplier_balance_below_cents:
        conditions.append(
            Condition(
                Alert.Kind.LOW_SUPPLIER_BALANCE,
                f"Supplier balance available is {available} cents, below the "
                f"{tenant.alert_supplier_balance_below_cents} cents threshold: top up the supplier account.",
                {"available_cents": available, "threshold_cents": tenant.alert_supplier_balance_below_cents},
            )
        )
    if account.success_rate_state in {"near", "below"}:
        conditions.append(
            Condition(
                Alert.Kind.SUCCESS_RATE_NEAR_BLOCK,
                f"The supplier account's 24 h SMS success rate is {account.success_rate_percent} % "
                f"({account.succeeded_24h} of {account.finished_24h}); the supplier blocks the account for 24 h "
                f"below {BLOCK_LINE_PERCENT} %.",
                {
                    "rate_percent": account.success_rate_percent,
                    "finished_24h": account.finished_24h,
                    "succeeded_24h": account.succeeded_24h,
                    "near_block_points": NEAR_BLOCK_POINTS,
                },
            )
        )
    drift = ledger_drift(tenant)
    if drift is not None:
        conditions.append(
            Condition(
                Alert.Kind.LEDGER_DRIFT,
                f"verify_ledger found {len(drift['drifted_accounts'])} drifted account(s) and "
                f"{len(drift['unbalanced_entries'])} unbalanced entr(y/ies).",
                drift,
            )
        )
    silence = timedelta(minutes=tenant.alert_webhook_silence_minutes)
    if account.configured and tenant.platfone_webhook_secret and account.active_used:
        oldest_open = activation_selectors.oldest_open_activation_at(tenant_id=tenant.pk)
        last = account.last_webhook_at
        if oldest_open is not None and now - oldest_open >= silence and (last is None or now - last >= silence):
            conditions.append(
                Condition(
                    Alert.Kind.WEBHOOK_SILENCE,
                    f"No supplier webhook for {tenant.alert_webhook_silence_minutes} minutes while "
                    f"{account.active_used} activation(s) are open: check the webhook URL and secret upstream.",
                    {"last_webhook_at": last.isoformat() if last else None, "open_activations": account.active_used},
                )
            )
    if account.open_issues:
        conditions.append(
            Condition(
                Alert.Kind.RECONCILIATION_ISSUES,
                f"{account.open_issues} reconciliation issue(s) are open.",
                {"open_issues": account.open_issues},
            )
        )
    if account.rejections_recent:
        conditions.append(
            Condition(
                Alert.Kind.SUPPLIER_RATE_LIMITED,
                f"The supplier answered {account.rejections_recent} request(s) with 429 in the last 15 minutes.",
                {"by_method": {row["method"]: row["rejections"] for row in account.budget if row["rejections"]}},
            )
        )
    return conditions


def operator_emails(tenant: Tenant) -> list[str]:
    """The tenant's operators (active staff users of the tenant); its support address when it has none."""
    emails = list(
        User.objects.filter(tenant=tenant, is_staff=True, is_active=True)
        .order_by("email")
        .values_list("email", flat=True)
    )
    if not emails and tenant.support_email:
        emails = [tenant.support_email]
    return emails


def alerts_check(*, tenants: list[Tenant] | None = None, now: datetime | None = None) -> AlertsReport:
    """Evaluate every active tenant's conditions; open, refresh and resolve alerts; e-mail new ones once."""
    now = now or timezone.now()
    report = AlertsReport()
    for tenant in tenants if tenants is not None else list(Tenant.objects.filter(status=Tenant.Status.ACTIVE)):
        try:
            conditions = tenant_conditions(tenant, now=now)
        except Exception as exc:  # one tenant's broken supplier must not stop the others' alerts
            logger.exception("alert check failed for tenant %s", tenant.slug)
            report.errors.append(f"{tenant.slug}: {exc}")
            continue
        _apply(tenant, conditions, now=now, report=report)
    return report


@transaction.atomic
def _apply(tenant: Tenant, conditions: list[Condition], *, now: datetime, report: AlertsReport) -> None:
    holding = {condition.kind: condition for condition in conditions}
    open_alerts = {
        alert.kind: alert for alert in Alert.objects.select_for_update().filter(tenant=tenant, resolved_at__isnull=True)
    }
    for kind, alert in open_alerts.items():
        if kind not in holding:
            Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=now)
            report.resolved += 1
    for kind, condition in holding.items():
        existing = open_alerts.get(kind)
        if existing is not None:
            Alert.objects.filter(pk=existing.pk).update(
                last_seen_at=now, message=condition.message[:500], details=condition.details
            )
            report.still_open += 1
            continue
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    tenant=tenant,
                    kind=kind,
                    message=condition.message[:500],
                    details=condition.details,
                    opened_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:  # a concurrent check opened it first: that check sends the e-mail
            report.still_open += 1
            continue
        report.opened.append(alert)
        _notify_once(alert, tenant=tenant, now=now)


def _notify_once(alert: Alert, *, tenant: Tenant, now: datetime) -> None:
    recipients = operator_emails(tenant)
    if not recipients:
        return
    if not Alert.objects.filter(pk=alert.pk, notified_at__isnull=True).update(notified_at=now, notified_to=recipients):
        return
    subject = f"[{tenant.name}] {alert.get_kind_display()}"
    body = f"{alert.message}\n\nOpened at {now:%Y-%m-%d %H:%M:%S} UTC. See the operator console's dashboard."

    def send() -> None:
        try:
            send_mail(subject, body, None, recipients)
        except Exception:  # the alert stays on the dashboard; a mail server outage must not break the check
            logger.exception("could not e-mail alert %s to %s", alert.pk, recipients)

    transaction.on_commit(send)
