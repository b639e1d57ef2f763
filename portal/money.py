"""Amounts as users read and type them: integer USD cents on our side, "$1.23" on the page (in English;
in another language, that language's digits and separators: "1,23 $" in Russian)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import formats, translation


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    language = translation.get_language() or "en"
    if language.startswith("en"):
        return f"{sign}${cents // 100:,}.{cents % 100:02d}"
    number = formats.number_format(Decimal(cents) / 100, 2, use_l10n=True, force_grouping=True)
    return f"{sign}{number}\u00a0$"


def dollars_to_cents(amount: Decimal) -> int:
    """A validated dollar amount (at most two decimals) in cents."""
    return int((amount * 100).to_integral_value())
