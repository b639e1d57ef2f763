"""Markup arithmetic: from a backend (Platfone) cost to a sell price, in integer cents only.

    sell = round_up(max(cost + ceil(cost * percent_bp / 10000) + fixed_cents, cost + min_margin_cents))

Every step is monotone non-decreasing in ``cost`` and never rounds down, so the sell price is always
at least ``cost + min_margin_cents`` and a higher cost never sells for less. No floats anywhere.

A tenant without any rule sells at ``DEFAULT_TERMS``: 10 % (rounded up to the cent), at least 1 cent of
margin, no further rounding — a backend cost of 260 sells at 286, a cost of 5 at 6.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

BASIS_POINTS = 10_000
# The upstream's max_price range is 1..10000 cents; no backend cost outside it can be ordered.
MAX_BACKEND_CENTS = 10_000


class Rounding(models.TextChoices):
    NONE = "none", "None (to the cent)"
    END_9 = "end_9", "Up to the next amount ending in 9 (…9 cents)"
    MULTIPLE_5 = "multiple_5", "Up to a multiple of 5 cents"
    MULTIPLE_10 = "multiple_10", "Up to a multiple of 10 cents"
    END_99 = "end_99", "Up to the next amount ending in 99 (x.99)"
    MULTIPLE_100 = "multiple_100", "Up to a whole dollar"


def round_up(cents: int, rounding: str) -> int:
    """The smallest amount ≥ ``cents`` that the rounding mode allows."""
    if rounding == Rounding.NONE:
        return cents
    if rounding == Rounding.END_9:
        return cents + (9 - cents % 10) % 10
    if rounding == Rounding.END_99:
        return cents + (99 - cents % 100) % 100
    steps: dict[str, int] = {Rounding.MULTIPLE_5: 5, Rounding.MULTIPLE_10: 10, Rounding.MULTIPLE_100: 100}
    step = steps.get(rounding)
    if step is None:
        raise ValueError(f"unknown rounding {rounding!r}")
    return -(-cents // step) * step


@dataclass(frozen=True)
class MarkupTerms:
    """One rule's arithmetic; ``source`` names the rule it came from (for previews and logs)."""

    percent_bp: int = 1000
    fixed_cents: int = 0
    min_margin_cents: int = 1
    rounding: str = Rounding.NONE
    source: str = "built-in default (10 %, at least 1 cent)"

    def __post_init__(self) -> None:
        for name in ("percent_bp", "fixed_cents", "min_margin_cents"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        round_up(0, self.rounding)  # rejects an unknown mode now rather than at the first sale

    def sell(self, cost_cents: int) -> int:
        """The sell price for a backend cost; see the module docstring for the formula."""
        if isinstance(cost_cents, bool) or not isinstance(cost_cents, int) or cost_cents < 0:
            raise ValueError(f"cost must be a non-negative integer of cents, got {cost_cents!r}")
        percent = -(-cost_cents * self.percent_bp // BASIS_POINTS)  # ceil: a fraction of a cent is ours
        marked_up = max(cost_cents + percent + self.fixed_cents, cost_cents + self.min_margin_cents)
        return round_up(marked_up, self.rounding)

    def max_cost_for(self, max_sell_cents: int) -> int | None:
        """The highest backend cost in 1..MAX_BACKEND_CENTS whose sell price is ≤ ``max_sell_cents``.

        None when even a 1-cent cost sells above it. ``sell`` is monotone, so a binary search is exact.
        """
        if self.sell(1) > max_sell_cents:
            return None
        low, high = 1, MAX_BACKEND_CENTS  # invariant: sell(low) <= max_sell_cents
        while low < high:
            middle = (low + high + 1) // 2
            if self.sell(middle) <= max_sell_cents:
                low = middle
            else:
                high = middle - 1
        return low


DEFAULT_TERMS = MarkupTerms()
