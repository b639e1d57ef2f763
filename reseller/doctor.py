"""What ``manage.py doctor`` checks: the platform (beat) and each tenant's setup, one result per check.

Every check answers ✓ or ✗ with what it saw and, on ✗, the fix. A misconfigured tenant otherwise looks like an
outage to its users (an order answers ``not_configured``, a wrong key or URL ``upstream_unavailable``); the doctor
says which setting is wrong. Only the supplier check calls out (one balance call per tenant, the same as the
console's "Test connection").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http.request import validate_host
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Tenant
from accounts.services import AccountError, validate_supplier_url
from activations import selectors as activation_selectors
from catalog import selectors as catalog_selectors
from catalog.upstream import client_for_tenant, upstream_configured
from platfone.errors import InvalidKey, PlatfoneError

# Beat saves a task's last run at least every 3 minutes (django-celery-beat's sync interval); the fastest of our
# periodic tasks runs every 10 s. Older than this, no beat is running.
BEAT_STALE_SECONDS = 300
# An SMS that arrived this long after the last supplier webhook should have come with a webhook of its own.
WEBHOOK_GRACE_SECONDS = 120


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        text = f"{mark} {self.name}: {self.detail}"
        return f"{text} Fix: {self.fix}" if not self.ok and self.fix else text


def _ago(moment: datetime, now: datetime) -> str:
    seconds = int((now - moment).total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago ({moment:%Y-%m-%d %H:%M} UTC)"


def check_beat(*, now: datetime | None = None) -> Check:
    """Beat runs: one of the enabled periodic tasks was sent recently (beat records each run in the database)."""
    now = now or timezone.now()
    last = (
        PeriodicTask.objects.filter(enabled=True, last_run_at__isnull=False)
        .order_by("-last_run_at")
        .values_list("last_run_at", flat=True)
        .first()
    )
    fix = (
        "start exactly one beat: `celery -A reseller beat` (see the Procfile), next to the worker "
        "(`make run` embeds one in its worker)."
    )
    if last is None:
        return Check("beat", False, "no periodic task has ever run.", fix)
    if now - last > timedelta(seconds=BEAT_STALE_SECONDS):
        return Check("beat", False, f"the last periodic task ran {_ago(last, now)}.", fix)
    return Check("beat", True, f"a periodic task ran {_ago(last, now)}.")


def tenant_checks(tenant: Tenant, *, now: datetime | None = None) -> Iterator[Check]:
    """The checks of one tenant, in the order an operator fixes them."""
    now = now or timezone.now()
    yield check_supplier_url(tenant)
    yield check_supplier_key(tenant)
    yield check_webhook_secret(tenant)
    yield check_webhooks_arrive(tenant, now=now)
    yield check_domains(tenant)
    yield check_catalog(tenant)


def _settings_fix(tenant: Tenant, what: str) -> str:
    return f"set the {what} in the admin (Tenants → {tenant.slug} → Supplier)."


def check_supplier_url(tenant: Tenant) -> Check:
    if not tenant.platfone_base_url:
        return Check("supplier URL", False, "not set.", _settings_fix(tenant, "Platfone base URL"))
    try:
        validate_supplier_url(tenant.platfone_base_url)
    except AccountError as exc:
        return Check("supplier URL", False, str(exc), _settings_fix(tenant, "Platfone base URL"))
    return Check("supplier URL", True, tenant.platfone_base_url)


def check_supplier_key(tenant: Tenant) -> Check:
    """A real balance call with the tenant's key."""
    name = "supplier key"
    if not upstream_configured(tenant):
        missing = "API key" if tenant.platfone_base_url else "base URL and API key"
        return Check(name, False, f"cannot be tried: no {missing}.", _settings_fix(tenant, f"Platfone {missing}"))
    client = client_for_tenant(tenant)
    try:
        balance = client.balance()
    except InvalidKey as exc:
        return Check(name, False, f"the supplier refused the key ({exc}).", _settings_fix(tenant, "supplier's API key"))
    except PlatfoneError as exc:
        return Check(
            name,
            False,
            f"the balance call to {tenant.platfone_base_url} failed: {type(exc).__name__}: {exc}.",
            "check the base URL (scheme, host, port, /api/v1) and that this host can reach it.",
        )
    finally:
        client.session.close()
    return Check(
        name, True, f"works (supplier balance ${balance.total / 100:,.2f}, reserved ${balance.reserved / 100:,.2f})."
    )


def check_webhook_secret(tenant: Tenant) -> Check:
    if not tenant.platfone_webhook_secret:
        return Check(
            "webhook secret",
            False,
            "not set: every supplier webhook is refused, codes arrive only by polling.",
            _settings_fix(tenant, "webhook secret (the same as in the supplier's account)"),
        )
    return Check("webhook secret", True, "set.")


def webhook_url(tenant: Tenant) -> str:
    path = reverse("platfone-webhook", kwargs={"tenant_slug": tenant.slug})
    domain = tenant.domains.order_by("-is_primary", "pk").values_list("host", flat=True).first()
    return f"https://{domain}{path}" if domain else f"https://<your host>{path}"


def check_webhooks_arrive(tenant: Tenant, *, now: datetime) -> Check:
    """Webhooks reach us: one arrived within WEBHOOK_HEALTHY_SECONDS, or no SMS came without one since the last."""
    name = "webhooks received"
    last = activation_selectors.webhook_health(tenant_id=tenant.pk, now=now)["last_webhook_at"]
    if last is not None and now - last <= timedelta(seconds=settings.WEBHOOK_HEALTHY_SECONDS):
        return Check(name, True, f"the last one {_ago(last, now)}.")
    grace = timedelta(seconds=WEBHOOK_GRACE_SECONDS)
    missed = activation_selectors.sms_received_between(
        tenant_id=tenant.pk, after=last + grace if last else None, before=now - grace
    )
    seen = f"the last one {_ago(last, now)}" if last else "none ever"
    if missed:
        return Check(
            name,
            False,
            f"{seen}, yet {missed} SMS arrived since (by polling).",
            f"in the supplier's account, set the webhook URL to {webhook_url(tenant)} with this tenant's webhook "
            "secret, and route /webhooks/ to the webhook pool (see the Procfile).",
        )
    return Check(name, True, f"{seen}; no SMS arrived without one (nothing was missed).")


def check_domains(tenant: Tenant) -> Check:
    hosts = list(tenant.domains.order_by("pk").values_list("host", flat=True))
    if not hosts:
        return Check(
            "domains", False, "none: the storefront has no host name.", "add one in the admin (Tenants → Domains)."
        )
    refused = [host for host in hosts if not validate_host(host, settings.ALLOWED_HOSTS)]
    if refused:
        return Check(
            "domains",
            False,
            f"not in ALLOWED_HOSTS: {', '.join(refused)} (requests to them get 400).",
            f"add them to the ALLOWED_HOSTS environment variable ({','.join(refused)}) and restart the web pools.",
        )
    return Check("domains", True, f"{', '.join(hosts)} (all in ALLOWED_HOSTS).")


def check_catalog(tenant: Tenant) -> Check:
    if not catalog_selectors.catalog_synced(tenant=tenant):
        return Check(
            "catalog",
            False,
            "never synced: orders are checked with the supplier one by one and the storefront lists nothing.",
            f"`python manage.py sync_catalog --tenant {tenant.slug}` (the beat refreshes it every hour).",
        )
    return Check("catalog", True, "synced.")
