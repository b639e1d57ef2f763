"""Fixtures of the SMS-Activate handler's tests: the in-process emulator (webhooks delivered into Django), the
storefronts' synced catalogs, and ``handler``, a caller of ``/stubs/handler_api.php`` through Django's test
client. The live-server tests (a real server process) have their own fixtures in ``live.py``."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog import services as catalog_services
from tests.activations.conftest import emulator, fund, hooked_emulator, webhook_secret  # noqa: F401

HANDLER = "/stubs/handler_api.php"


class Handler:
    """Calls the handler as a client would; ``text`` is the body, exactly as sent."""

    def __init__(self, key: str | None):
        self.key = key
        self.client = Client()

    def __call__(self, action: str | None, *, key: str | None = "default", method: str = "get", **params):
        key = self.key if key == "default" else key
        query = {
            name: value for name, value in {"api_key": key, "action": action, **params}.items() if value is not None
        }
        send = self.client.post if method == "post" else self.client.get
        response = send(HANDLER, query)
        response.text = response.content.decode()
        return response


@pytest.fixture
def synced(hooked_emulator, tenant, other_tenant):  # noqa: F811
    """Both storefronts' catalogs synced from the emulator (which delivers acme's webhooks into Django)."""
    catalog_services.catalog_sync(tenant=tenant)
    catalog_services.catalog_sync(tenant=other_tenant)
    hooked_emulator.configure(max_active=1000)
    hooked_emulator.reset_counters()
    return hooked_emulator


@pytest.fixture
def handler(alice_key):
    return Handler(alice_key)


@pytest.fixture
def compat_log():
    """Records of the ``compat`` logger (works under ``-p no:logging``, unlike caplog)."""
    import logging

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    collector = Collect(level=logging.ERROR)
    logger = logging.getLogger("compat")
    logger.addHandler(collector)
    yield records
    logger.removeHandler(collector)


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """The live stack (see ``tests/compat/live.py``), shared by the live tests of a run; stopped by PID."""
    from tests.compat.live import LiveStack

    stack = LiveStack(tmp_path_factory.mktemp("compat-live"))
    try:
        yield stack.start()
    finally:
        stack.stop()
