"""Shared fixtures for the platfone tests: a settable clock, a recorded sleep, an emulator, clients."""

from __future__ import annotations

import pytest

from platfone.budget import MemoryCache
from platfone.client import PlatfoneClient
from platfone.emulator import Emulator, emulator_session

API_KEY = "alice-upstream-key-0123456789"
OTHER_KEY = "charlie-upstream-key-9876543210"
BASE_URL = "http://platfone.test/api/v1"
T0 = 1_729_087_339  # created_at of the doc's example activation


class FakeClock:
    """A wall clock that only moves when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sleeps(list):
    """Records requested sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def cache() -> MemoryCache:
    return MemoryCache()


@pytest.fixture
def webhooks() -> list:
    """Webhook deliveries captured by the emulator's in-process sender: (url, headers, body)."""
    return []


@pytest.fixture
def emulator(clock, sleeps, webhooks) -> Emulator:
    def sender(url, headers, body):
        webhooks.append((url, dict(headers), body))
        return 200

    return Emulator(
        api_keys={API_KEY: 10_000, OTHER_KEY: 10_000},
        clock=clock,
        sleep=sleeps,
        webhook_url="http://reseller.test/webhooks/platfone",
        webhook_secret="whsec-test",
        webhook_sender=sender,
    )


@pytest.fixture
def make_client(emulator, cache, clock, sleeps):
    """Client factory talking to the in-process emulator; keyword arguments override the defaults."""

    def make(**overrides) -> PlatfoneClient:
        options = {
            "base_url": BASE_URL,
            "api_key": API_KEY,
            "session": emulator_session(emulator),
            "cache": cache,
            "clock": clock,
            "sleep": sleeps,
        }
        options.update(overrides)
        return PlatfoneClient(**options)

    return make


@pytest.fixture
def client(make_client) -> PlatfoneClient:
    return make_client()
