"""/health/ (database, cache, broker) for load balancers and /health/suppliers/ (a balance call per tenant)."""

import pytest
from django.core.cache import cache

from accounts.models import Tenant

pytestmark = pytest.mark.django_db


def get_json(client, url):
    response = client.get(url, HTTP_ACCEPT="application/json")
    return response.status_code, response.json()


def test_the_platform_probe_checks_database_cache_and_broker(client):
    status, body = get_json(client, "/health/")
    assert status == 200, body
    assert body == {"Database(alias='default')": "OK", "Cache(alias='default')": "OK", "Broker()": "OK"}


def test_a_broker_that_cannot_be_reached_fails_the_probe(client, monkeypatch):
    from kombu import Connection

    from reseller.celery import app

    monkeypatch.setattr(app, "connection_for_write", lambda: Connection("redis://127.0.0.1:1/0"))  # nothing there
    status, body = get_json(client, "/health/")
    assert status == 500
    assert body["Broker()"] == "Unavailable: broker unreachable (OperationalError)"


def test_the_supplier_probe_asks_each_configured_tenant_and_names_the_failing_one(client, emulator, other_tenant):
    # given acme works, globex's key is refused
    Tenant.objects.filter(pk=other_tenant.pk).update(
        platfone_base_url="http://platfone.test/api/v1", platfone_api_key="wrong"
    )
    # when
    status, body = get_json(client, "/health/suppliers/")
    # then
    assert status == 500
    assert body == {
        "Supplier(tenant='acme')": "OK",
        "Supplier(tenant='globex')": "Unavailable: the supplier refused the API key",
    }
    assert "wrong" not in str(body) and "acme-upstream" not in str(body)


def test_the_supplier_answer_is_reused_for_a_minute(client, emulator):
    assert get_json(client, "/health/suppliers/")[0] == 200
    emulator.add_fault(kind="error", endpoint="balance", probability=1.0)
    assert get_json(client, "/health/suppliers/")[0] == 200  # cached: the probe did not ask again
    cache.delete("health:supplier:acme")
    status, body = get_json(client, "/health/suppliers/")
    assert status == 500 and body["Supplier(tenant='acme')"].startswith("Unavailable: supplier not reachable (")


def production_redirect_exemptions() -> list[str]:
    """SECURE_REDIRECT_EXEMPT as production (DEBUG off) reads it, whatever this test process's environment."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "reseller.settings", "SECRET_KEY": "x" * 50}
    env.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA=")
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.SECURE_REDIRECT_EXEMPT))"
    )
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_probes_are_not_redirected_to_https_but_the_api_is(client, settings):
    # production redirects plain http to https; a load balancer probes over plain http
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = production_redirect_exemptions()
    assert client.get("/health/", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/wallet").status_code == 301
