"""The doc's per-minute rate limits as the emulator enforces them (fixed windows per key and method)."""

from __future__ import annotations

from platfone.budget import DOCUMENTED_LIMITS
from platfone.emulator.errors import rate_limited


class RateWindows:
    """Counts calls per (API key, endpoint, minute). Not thread-safe on its own; the emulator locks."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}

    def hit(self, api_key: str, endpoint: str, now: int) -> dict[str, str]:
        """Count one call; 429 TooManyRequestsException past the limit, else the `x-ratelimit-*` headers.

        Methods the table does not list are not limited: the upstream does not say how it treats them.
        """
        limit = DOCUMENTED_LIMITS.get(endpoint)
        if limit is None:
            return {}
        window = now // 60
        reset_at = (window + 1) * 60
        key = (api_key, endpoint, window)
        if key not in self._counts:
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= window}
        used = self._counts.get(key, 0) + 1
        self._counts[key] = used
        if used > limit:
            raise rate_limited("TooManyRequestsException", f"Rate limit of {limit} per minute exceeded", reset_at)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(limit - used),
            "x-ratelimit-reset": str(reset_at),
        }

    def clear(self) -> None:
        self._counts.clear()
