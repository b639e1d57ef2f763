from django import template

from portal.money import format_cents

register = template.Library()


@register.filter
def cents(value) -> str:
    """123 → "$1.23"."""
    try:
        return format_cents(int(value))
    except (TypeError, ValueError):
        return ""


@register.filter
def mmss(seconds) -> str:
    try:
        seconds = max(0, int(seconds))
    except (TypeError, ValueError):
        return "00:00"
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template (a dict keyed by something other than a name); None when absent."""
    try:
        return mapping.get(key) if hasattr(mapping, "get") else None
    except TypeError:
        return None
