"""Help: the tenant's FAQ and contact text (edited by its operator in the admin), and the refund and cancel
rules worded with the tenant's actual settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render

from portal.views.base import storefront_view


@dataclass(frozen=True)
class Entry:
    question: str
    answer: str


def faq_entries(text: str) -> list[Entry]:
    """The operator's FAQ text as entries: blocks separated by a blank line, each a question (its first line)
    and the answer (the rest). A block without an answer is shown as a paragraph (no question)."""
    entries = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
        if not lines:
            continue
        if len(lines) > 1 and lines[0].endswith("?"):
            entries.append(Entry(question=lines[0], answer="\n".join(lines[1:])))
        else:
            entries.append(Entry(question="", answer="\n".join(lines)))
    return entries


@storefront_view
def help_index(request):
    tenant = request.tenant
    return render(
        request,
        "portal/help/index.html",
        {
            "faq": faq_entries(tenant.help_faq),
            "rules": tenant,
            "finalize_minutes": tenant.finalize_after_sms_seconds // 60,
        },
    )


@storefront_view
def help_contact(request):
    return render(request, "portal/help/contact.html", {"contact": request.tenant.help_contact})
