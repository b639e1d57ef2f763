"""The catalog's settings: Django settings first, then the environment, then these defaults.

| setting | meaning | default |
| --- | --- | --- |
| ``PRICE_CACHE_SECONDS`` | how long a live upstream price is reused (the document promises 90 s) | 90 |
| ``PRICE_STALE_MAX_SECONDS`` | oldest cached price served while the upstream is down or out of budget | 600 |
| ``PRICE_LOCK_WAIT_SECONDS`` | how long a request waits for another process's in-flight upstream call | 10 |
| ``PRICE_FAILURE_BACKOFF_SECONDS`` | after a failed upstream price call, how long the pair is not retried | 10 |
| ``PLATFONE_CONNECT_TIMEOUT`` / ``PLATFONE_READ_TIMEOUT`` | seconds, per upstream request | 3.05 / 10 |
| ``PLATFONE_MAX_RETRIES`` | retries of a failed upstream GET | 2 |
"""

from __future__ import annotations

import os

from django.conf import settings

_DEFAULTS: dict[str, float] = {
    "PRICE_CACHE_SECONDS": 90,
    "PRICE_STALE_MAX_SECONDS": 600,
    "PRICE_LOCK_WAIT_SECONDS": 10,
    "PRICE_FAILURE_BACKOFF_SECONDS": 10,
    "PLATFONE_CONNECT_TIMEOUT": 3.05,
    "PLATFONE_READ_TIMEOUT": 10.0,
    "PLATFONE_MAX_RETRIES": 2,
}


def setting(name: str) -> float:
    """The value of one of the settings above (read at call time, so tests can override it)."""
    value = getattr(settings, name, None)
    if value is None:
        raw = os.environ.get(name, "")
        value = float(raw) if raw.strip() else _DEFAULTS[name]
    return value


def int_setting(name: str) -> int:
    return int(setting(name))
