"""Health endpoints (django-health-check): what a load balancer and a monitor ask.

``/health/`` (the load balancer's probe of each web pool): the database, the cache and the Celery broker. A
supplier outage is left out on purpose: it must not take our own web servers out of rotation.
``/health/suppliers/`` (monitoring): one check per active tenant with a supplier, a real balance call, answered
from a short cache so that frequent probes do not spend the supplier's request budget.
Both answer 200 when every check passes, else 500; ``?format=json`` or ``Accept: application/json`` for JSON.
No secret appears in an answer: a check shows its name and the tenant's slug, errors their kind only.
"""

from __future__ import annotations

import dataclasses
import datetime

from asgiref.sync import sync_to_async
from django.core.cache import cache
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from accounts import selectors as account_selectors
from accounts.models import Tenant
from catalog.upstream import client_for_tenant
from platfone.errors import InvalidKey, PlatfoneError

# A supplier's answer is reused this long: a monitor probing every few seconds costs one balance call a minute.
SUPPLIER_CACHE_SECONDS = 60


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis, or the file-system broker of one machine)."""

    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=3), repr=False)

    def run(self) -> None:
        from reseller.celery import app

        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
        except Exception as exc:
            raise ServiceUnavailable(f"broker unreachable ({type(exc).__name__})") from exc


@dataclasses.dataclass
class Supplier(HealthCheck):
    """The tenant's supplier account answers a balance call with its key."""

    tenant: str
    account: Tenant | None = dataclasses.field(default=None, repr=False, compare=False)
    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=15), repr=False)

    def run(self) -> None:
        key = f"health:supplier:{self.tenant}"
        error = cache.get(key)
        if error is None:
            error = self._ask()
            cache.set(key, error, SUPPLIER_CACHE_SECONDS)
        if error:
            raise ServiceUnavailable(error)

    def _ask(self) -> str:
        """"" when the supplier answered, else what went wrong (no URL, no key: only its kind)."""
        assert self.account is not None
        client = client_for_tenant(self.account)
        try:
            client.balance()
        except InvalidKey:
            return "the supplier refused the API key"
        except PlatfoneError as exc:
            status = f", HTTP {exc.status}" if exc.status else ""
            return f"supplier not reachable ({type(exc).__name__}{status})"
        finally:
            client.session.close()
        return ""


class PlatformHealthView(HealthCheckView):
    checks = (Database, Cache, Broker)


class SupplierHealthView(HealthCheckView):
    async def get(self, request, *args, **kwargs):
        # The tenants are read before the checks run: the ORM is not used from the event loop.
        self.tenants = await sync_to_async(account_selectors.tenants_with_upstream)()
        return await super().get(request, *args, **kwargs)

    def get_checks(self):
        for tenant in self.tenants:
            yield Supplier(tenant=tenant.slug, account=tenant)
