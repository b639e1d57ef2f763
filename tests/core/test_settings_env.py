"""Configuration has one entry point: every environment variable in the README's table takes effect, every
variable the settings read is in that table, and no other module reads the environment.

Settings are read when Django starts, so each check runs a fresh interpreter with the variable set and
reads back the setting it drives (and for the tunables, the code reads ``settings.X``: see the last test).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SETTINGS = ROOT / "reseller" / "settings.py"
FERNET_KEY = "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTE="
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "shop.example.com",
    "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
}
SMTP = {"EMAIL_HOST": "smtp.example.com"}
REDIS = {"REDIS_URL": "redis://127.0.0.1:6379/9"}
SMTP = {"EMAIL_HOST": "smtp.example.com"}

# variable -> (value to set, other variables it needs, Python expression on `s` (settings), expected value)
CASES: dict[str, tuple[str, dict[str, str], str, object]] = {
    "DATABASE_URL": ("postgres://u@db.example:5432/shop", {}, "s.DATABASES['default']['HOST']", "db.example"),
    "REDIS_URL": (
        "redis://127.0.0.1:6379/9",
        {},
        "[s.CACHES['default']['LOCATION'], s.CELERY_BROKER_URL]",
        ["redis://127.0.0.1:6379/9"] * 2,
    ),
    "SECRET_KEY": ("k" * 60, {}, "s.SECRET_KEY", "k" * 60),
    "DEBUG": ("1", {"SECRET_KEY": ""}, "s.DEBUG", True),
    "ALLOWED_HOSTS": ("a.example, b.example", {}, "s.ALLOWED_HOSTS", ["a.example", "b.example"]),
    "CSRF_TRUSTED_ORIGINS": ("https://a.example", {}, "s.CSRF_TRUSTED_ORIGINS", ["https://a.example"]),
    "VAR_DIR": (
        "/tmp/reseller-var-test",
        {},
        "str(s.DATABASES['default']['NAME'])",
        "/tmp/reseller-var-test/db.sqlite3",
    ),
    "STATIC_ROOT": ("/tmp/reseller-static-test", {}, "str(s.STATIC_ROOT)", "/tmp/reseller-static-test"),
    "DB_CONN_MAX_AGE": ("7", {"DATABASE_URL": "postgres://u@h/db"}, "s.DATABASES['default']['CONN_MAX_AGE']", 7),
    "CACHE_KEY_PREFIX": ("shop1", REDIS, "s.CACHES['default']['KEY_PREFIX']", "shop1"),
    "CELERY_VISIBILITY_TIMEOUT": ("77", REDIS, "s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']", 77),
    "CELERY_TASK_ALWAYS_EAGER": ("1", {}, "s.CELERY_TASK_ALWAYS_EAGER", True),
    "LOG_LEVEL": ("WARNING", {}, "s.LOGGING['root']['level']", "WARNING"),
    "SECURE_SSL_REDIRECT": ("0", PRODUCTION, "s.SECURE_SSL_REDIRECT", False),
    "SECURE_HSTS_SECONDS": ("3600", PRODUCTION, "s.SECURE_HSTS_SECONDS", 3600),
    "TRUSTED_PROXIES": ("10.0.0.1, 10.1.0.0/16", {}, "s.TRUSTED_PROXIES", ["10.0.0.1", "10.1.0.0/16"]),
    "UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE": ("7", {}, "s.UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE", 7),
    "DEFAULT_TENANT_SLUG": ("acme", {}, "s.DEFAULT_TENANT_SLUG", "acme"),
    "API_MAX_BODY_BYTES": ("1000", {}, "s.API_MAX_BODY_BYTES", 1000),
    "DATA_UPLOAD_MAX_MEMORY_SIZE": ("2000", {}, "s.DATA_UPLOAD_MAX_MEMORY_SIZE", 2000),
    "CATALOG_RATE_LIMIT_PER_MINUTE": ("33", {}, "s.CATALOG_RATE_LIMIT_PER_MINUTE", 33),
    "PLATFONE_CONNECT_TIMEOUT": ("1.5", {}, "s.PLATFONE_CONNECT_TIMEOUT", 1.5),
    "PLATFONE_READ_TIMEOUT": ("4.5", {}, "s.PLATFONE_READ_TIMEOUT", 4.5),
    "PLATFONE_MAX_RETRIES": ("0", {}, "s.PLATFONE_MAX_RETRIES", 0),
    "PRICE_CACHE_SECONDS": ("30", {}, "s.PRICE_CACHE_SECONDS", 30),
    "PRICE_STALE_MAX_SECONDS": ("60", {}, "s.PRICE_STALE_MAX_SECONDS", 60),
    "PRICE_LOCK_WAIT_SECONDS": ("2.5", {}, "s.PRICE_LOCK_WAIT_SECONDS", 2.5),
    "PRICE_FAILURE_BACKOFF_SECONDS": ("3", {}, "s.PRICE_FAILURE_BACKOFF_SECONDS", 3),
    "ACTIVATION_FRESH_SECONDS": ("9", {}, "s.ACTIVATION_FRESH_SECONDS", 9),
    "ACTIVATION_SAFETY_SYNC_SECONDS": ("99", {}, "s.ACTIVATION_SAFETY_SYNC_SECONDS", 99),
    "WEBHOOK_HEALTHY_SECONDS": ("333", {}, "s.WEBHOOK_HEALTHY_SECONDS", 333),
    "ACTIVATION_SYNC_CLAIM_SECONDS": ("11", {}, "s.ACTIVATION_SYNC_CLAIM_SECONDS", 11),
    "ACTIVATION_SYNC_BACKOFF_SECONDS": ("6", {}, "s.ACTIVATION_SYNC_BACKOFF_SECONDS", 6),
    "ACTIVATION_LOCAL_EXPIRY_GRACE_SECONDS": ("240", {}, "s.ACTIVATION_LOCAL_EXPIRY_GRACE_SECONDS", 240),
    "FIELD_ENCRYPTION_KEYS": (
        f"{FERNET_KEY}, old-key",
        {"DEBUG": "0", "SECRET_KEY": "x" * 50},
        "s.FIELD_ENCRYPTION_KEYS",
        [FERNET_KEY, "old-key"],
    ),
    "EMAIL_HOST": (
        "smtp.example.com",
        {},
        "[s.EMAIL_HOST, s.EMAIL_BACKEND]",
        ["smtp.example.com", "django.core.mail.backends.smtp.EmailBackend"],
    ),
    "EMAIL_PORT": ("2525", SMTP, "s.EMAIL_PORT", 2525),
    "EMAIL_HOST_USER": ("mailer", SMTP, "s.EMAIL_HOST_USER", "mailer"),
    "EMAIL_HOST_PASSWORD": ("pw", SMTP, "s.EMAIL_HOST_PASSWORD", "pw"),
    "EMAIL_USE_TLS": ("0", SMTP, "s.EMAIL_USE_TLS", False),
    "DEFAULT_FROM_EMAIL": ("ops@example.com", {}, "s.DEFAULT_FROM_EMAIL", "ops@example.com"),
    "CONSOLE_DASHBOARD_CACHE_SECONDS": ("15", {}, "s.CONSOLE_DASHBOARD_CACHE_SECONDS", 15),
    "CONSOLE_SUPPLIER_BALANCE_CACHE_SECONDS": ("45", {}, "s.CONSOLE_SUPPLIER_BALANCE_CACHE_SECONDS", 45),
    "CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK": ("1", {}, "s.CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK", True),
    "CUSTOMER_WEBHOOK_CONNECT_TIMEOUT": ("1.25", {}, "s.CUSTOMER_WEBHOOK_CONNECT_TIMEOUT", 1.25),
    "CUSTOMER_WEBHOOK_READ_TIMEOUT": ("2.5", {}, "s.CUSTOMER_WEBHOOK_READ_TIMEOUT", 2.5),
    "CUSTOMER_WEBHOOK_LOG_DAYS": ("7", {}, "s.CUSTOMER_WEBHOOK_LOG_DAYS", 7),
    "PAYMENTS_STRIPE_API_BASE": ("http://127.0.0.1:1", {}, "s.PAYMENTS_STRIPE_API_BASE", "http://127.0.0.1:1"),
    "PAYMENTS_CRYPTOMUS_API_BASE": ("http://127.0.0.1:2", {}, "s.PAYMENTS_CRYPTOMUS_API_BASE", "http://127.0.0.1:2"),
    "PAYMENTS_DEMO_PROVIDER": ("1", PRODUCTION, "s.PAYMENTS_DEMO_PROVIDER", True),
}


def readme_variables() -> list[str]:
    return re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE)


def settings_variables() -> set[str]:
    return set(re.findall(r'env_(?:str|int|float|bool|list)\("([A-Z][A-Z0-9_]+)"', SETTINGS.read_text()))


def read_setting(expression: str, env: dict[str, str]) -> object:
    base = {k: v for k, v in os.environ.items() if k not in CASES and k != "DJANGO_SETTINGS_MODULE"}
    # Every case starts from a development baseline; a variable set to "" hides the same one in a local .env.
    base.update({name: "" for name in CASES}, DEBUG="1", DJANGO_SETTINGS_MODULE="reseller.settings")
    base.update(env)
    code = (
        f"import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({expression}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_readme_table_and_the_settings_name_the_same_variables():
    documented = readme_variables()
    assert len(documented) == len(set(documented)), "a variable is documented twice"
    assert set(documented) == settings_variables()
    assert set(documented) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_variable_takes_effect(name):
    value, needs, expression, expected = CASES[name]
    assert read_setting(expression, {**needs, name: value}) == expected


def test_production_settings_refuse_to_start_without_field_encryption_keys():
    base = {k: v for k, v in os.environ.items() if k not in CASES and k != "DJANGO_SETTINGS_MODULE"}
    base.update({name: "" for name in CASES}, DJANGO_SETTINGS_MODULE="reseller.settings")
    base.update({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": ""})
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr


def test_development_derives_an_encryption_key_from_the_secret_key():
    keys = read_setting("s.FIELD_ENCRYPTION_KEYS", {"SECRET_KEY": "k" * 60})
    assert len(keys) == 1 and keys != read_setting("s.FIELD_ENCRYPTION_KEYS", {"SECRET_KEY": "j" * 60})


def test_no_module_but_the_settings_reads_the_environment():
    """Entry points (manage.py, wsgi, celery) only name the settings module; make run's launcher is not Django."""
    allowed = {"reseller/settings.py", "reseller/test_settings.py", "scripts/run_local.py"}
    readers = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "tests/", "bench/", "var/")) or relative in allowed:
            continue
        for line in path.read_text().splitlines():
            if "os.environ" in line and "DJANGO_SETTINGS_MODULE" not in line:
                readers.append(f"{relative}: {line.strip()}")
    assert readers == []
