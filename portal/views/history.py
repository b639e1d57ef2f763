"""The user's history: every activation, filtered, searched by phone, page by page, and the filtered set as a
streamed CSV (rows are read in chunks and written as they go, so 100,000 rows never sit in memory)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from activations import selectors as activation_selectors
from portal.forms import HistoryFilterForm
from portal.presenters import present
from portal.views.base import login_required, storefront_view

PER_PAGE = 25
MAX_PAGE = 10_000
CSV_CHUNK = 2_000
CSV_COLUMNS = (
    "id",
    "created_at",
    "service_id",
    "country_id",
    "phone",
    "sell_price_cents",
    "sms_code",
    "sms_text",
    "sms_status",
    "activation_status",
    "billing_status",
    "report_status",
)
# A cell a spreadsheet would run as a formula is written as text (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _filter_form(request) -> HistoryFilterForm:
    services, countries = activation_selectors.activation_history_choices(user=request.user)
    return HistoryFilterForm(request.GET or None, services=services, countries=countries)


def _page_number(request) -> int:
    try:
        return min(max(int(request.GET.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        return 1


@storefront_view
@login_required
def history(request):
    form = _filter_form(request)
    valid = form.is_bound and form.is_valid()
    filters = form.selector_filters() if valid else {}
    rows, has_next, page = [], False, _page_number(request)
    if valid or not form.is_bound:
        queryset = activation_selectors.activation_history_for_user(user=request.user, **filters)
        offset = (page - 1) * PER_PAGE
        found = list(queryset[offset : offset + PER_PAGE + 1])
        has_next = len(found) > PER_PAGE
        rows = [present(a, tenant=request.tenant) for a in found[:PER_PAGE]]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/history/index.html",
        {
            "form": form,
            "rows": rows,
            "page": page,
            "has_next": has_next,
            "has_previous": page > 1,
            "query": query.urlencode(),
            "filtered": valid and any(filters.values()),
        },
        status=200 if valid or not form.is_bound else 400,
    )


def _safe(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) and not text.lstrip("+").isdigit() else text


class _Echo:
    """A file whose write returns the line: csv.writer then yields each row as text for the stream."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(queryset) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row in queryset.values_list(*CSV_COLUMNS).iterator(chunk_size=CSV_CHUNK):
        values = list(row)
        values[1] = values[1].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        yield writer.writerow([_safe(v) for v in values])


@storefront_view
@login_required
def history_csv(request):
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        return render(request, "portal/history/index.html", {"form": form, "rows": []}, status=400)
    filters = form.selector_filters() if form.is_bound else {}
    queryset = activation_selectors.activation_history_for_user(user=request.user, **filters)
    response = StreamingHttpResponse(_csv_lines(queryset), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="history-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
