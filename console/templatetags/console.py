from django import template

from console.formatting import cents

register = template.Library()


@register.filter
def dollars(value) -> str:
    """Integer cents as dollars: 123456 -> "$1,234.56"."""
    return "—" if value is None else cents(int(value))
