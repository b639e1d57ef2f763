"""Amounts as users read and type them: integer USD cents on our side, "$1.23" on the page."""

from __future__ import annotations

from decimal import Decimal


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def dollars_to_cents(amount: Decimal) -> int:
    """A validated dollar amount (at most two decimals) in cents."""
    return int((amount * 100).to_integral_value())
