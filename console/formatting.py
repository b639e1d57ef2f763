"""Money as operators read it."""


def cents(value: int) -> str:
    """Integer cents as dollars: 123456 -> "$1,234.56", -5 -> "-$0.05"."""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value) // 100:,}.{abs(value) % 100:02d}"
