"""The history (filters, phone search, pages, a streamed CSV of the filtered set) and reporting a problem
(the supplier's reasons, evidence checks, agreement; status on the number and in "My reports"; an approved
report's refund in the wallet)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.urls import reverse

from activations.models import Activation
from tests.portal.conftest import verified
from tests.portal.test_buy_and_numbers import buy, buy_form
from wallet.selectors import wallet_summary

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def placed(user, *, service="whatsapp", country="us", phone="+15550001111", created=None, **fields):
    return Activation.objects.create(
        tenant=user.tenant,
        user=user,
        service_id=service,
        country_id=country,
        sell_price_cents=150,
        max_price_cents=150,
        order_status=Activation.OrderStatus.PLACED,
        upstream_id=f"up-{Activation.objects.count() + 1}",
        phone=phone,
        activation_status=fields.pop("activation_status", "finalized"),
        created_at=created or datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
        **fields,
    )


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-activation="(\d+)"', html)


def csv_rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_history_filters_by_status_service_country_and_dates(alice_client, alice):
    march = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    wa = placed(alice, created=march, sms_received_at=march, sms_code="111")
    tg = placed(alice, service="telegram", country="gb", created=march - timedelta(days=5))
    refunded = placed(alice, service="telegram", created=march - timedelta(days=1), billing_status="refunded")
    history = reverse("portal:history")

    everything = alice_client.get(history).content.decode()
    assert rows_of(everything) == [str(wa.pk), str(refunded.pk), str(tg.pk)]
    assert rows_of(alice_client.get(history, {"status": "received"}).content.decode()) == [str(wa.pk)]
    assert rows_of(alice_client.get(history, {"status": "refunded"}).content.decode()) == [str(refunded.pk)]
    assert rows_of(alice_client.get(history, {"service": "telegram"}).content.decode()) == [
        str(refunded.pk),
        str(tg.pk),
    ]
    assert rows_of(alice_client.get(history, {"country": "gb"}).content.decode()) == [str(tg.pk)]
    # the end date is included, whole days
    dated = alice_client.get(history, {"date_from": "2026-03-05", "date_to": "2026-03-09"}).content.decode()
    assert rows_of(dated) == [str(refunded.pk), str(tg.pk)]


def test_the_history_searches_by_phone_digits_in_any_format(alice_client, alice):
    mine = placed(alice, phone="+447700900123")
    placed(alice, phone="+15550001111")
    found = alice_client.get(reverse("portal:history"), {"phone": "+44 7700-900"}).content.decode()
    assert rows_of(found) == [str(mine.pk)]


def test_bad_filters_are_refused_with_a_message_not_an_error(alice_client, alice):
    placed(alice)
    history = reverse("portal:history")
    for bad in (
        {"status": "nonsense"},
        {"service": "never-bought"},
        {"phone": "abc"},
        {"date_from": "2026-13-45"},
        {"date_from": "2026-03-10", "date_to": "2026-03-01"},
    ):
        response = alice_client.get(history, bad)
        assert response.status_code == 400, bad
        html = response.content.decode()
        assert 'class="field-error"' in html and rows_of(html) == []
        assert alice_client.get(reverse("portal:history-csv"), bad).status_code == 400


def test_the_history_pages_keep_the_filters(alice_client, alice):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(30):
        placed(alice, service="telegram", created=start + timedelta(minutes=n))
    placed(alice, service="whatsapp")
    first = alice_client.get(reverse("portal:history"), {"service": "telegram"}).content.decode()
    assert len(rows_of(first)) == 25
    assert 'href="?service=telegram&amp;page=2" rel="next"' in first
    second = alice_client.get(reverse("portal:history"), {"service": "telegram", "page": 2}).content.decode()
    assert len(rows_of(second)) == 5 and 'rel="next"' not in second


def test_the_history_sees_nothing_of_other_users(alice_client, alice, bob, charlie):
    placed(bob)
    placed(charlie)
    html = alice_client.get(reverse("portal:history")).content.decode()
    assert rows_of(html) == []
    assert csv_rows(alice_client.get(reverse("portal:history-csv")))[1:] == []


def test_the_history_page_costs_a_fixed_number_of_queries(alice_client, alice, django_assert_max_num_queries):
    for n in range(25):
        placed(alice, phone=f"+1555000{n:04d}")
    alice_client.get(reverse("portal:history"))  # warm the session
    # session + user + tenant, the filter choices (2), the page (1), the header's wallet: never one per row
    with django_assert_max_num_queries(9):
        alice_client.get(reverse("portal:history"), {"status": "received"})


def test_the_csv_is_the_filtered_set_streamed_with_formulas_neutralized(alice_client, alice):
    wa = placed(alice, sms_received_at=datetime(2026, 3, 10, 12, 1, tzinfo=UTC), sms_text="=HYPERLINK(1)")
    placed(alice, service="telegram")
    response = alice_client.get(reverse("portal:history-csv"), {"service": "whatsapp"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    header, body = rows[0], rows[1:]
    assert header[:5] == ["id", "created_at", "service_id", "country_id", "phone"]
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert row["id"] == str(wa.pk) and row["phone"] == "+15550001111" and row["sell_price_cents"] == "150"
    assert row["created_at"] == "2026-03-10T12:00:00Z"
    assert row["sms_text"] == "'=HYPERLINK(1)"


def test_the_csv_reads_rows_in_chunks(alice_client, alice, monkeypatch):
    from portal.views import history

    monkeypatch.setattr(history, "CSV_CHUNK", 7)
    for n in range(20):
        placed(alice, phone=f"+1555000{n:04d}")
    assert len(csv_rows(alice_client.get(reverse("portal:history-csv")))) == 21


# --- reports --------------------------------------------------------------------------------------------------


def bought_with_code(client, user, fund, emulator) -> Activation:
    fund(user, 1000)
    buy(client, buy_form(client))
    activation = Activation.objects.get(user=user)
    emulator.deliver_sms(activation.upstream_id, code="222333")
    Activation.objects.filter(pk=activation.pk).update(next_sync_at=None, last_synced_at=None)
    client.get(reverse("portal:activation-status", args=[activation.pk]))
    activation.refresh_from_db()
    assert activation.sms_code == "222333"
    return activation


def test_a_report_with_evidence_is_filed_shown_in_review_and_its_approval_refunds(synced, alice_client, alice, fund):
    activation = bought_with_code(alice_client, alice, fund, synced)
    url = reverse("portal:report", args=[activation.pk])
    form = alice_client.get(url).content.decode()
    assert "Wrong SMS received" in form and "SMS is not coming" not in form  # the reasons for its state now

    # when: reason 3 needs evidence; a PNG is attached and the box ticked
    response = alice_client.post(
        url,
        {"reason": 3, "message": "The service refused it", "agree": "on", "evidence": SimpleUploadedFile("s.png", PNG)},
    )
    assert response.status_code == 302
    activation.refresh_from_db()
    assert activation.report_status == "inReview"
    page = alice_client.get(reverse("portal:activation", args=[activation.pk])).content.decode()
    assert 'data-report-status="inReview"' in page and "Report in review" in page
    reports = alice_client.get(reverse("portal:reports")).content.decode()
    assert rows_of(reports) == [str(activation.pk)]

    # the supplier approves: the refund is seen on the next refresh and lands in the wallet once
    balance_before = wallet_summary(user=alice).balance_cents
    synced.decide_report(activation.upstream_id, approve=True)
    Activation.objects.filter(pk=activation.pk).update(next_sync_at=None, last_synced_at=None)
    alice_client.get(reverse("portal:activation-status", args=[activation.pk]))
    activation.refresh_from_db()
    assert activation.report_status == "approved" and activation.billing_status == "refunded"
    assert wallet_summary(user=alice).balance_cents == balance_before + activation.sell_price_cents
    assert "Report approved" in alice_client.get(reverse("portal:reports")).content.decode()
    wallet = alice_client.get(reverse("portal:wallet")).content.decode()
    assert "Refund" in wallet


def test_a_report_needs_the_agreement_and_the_evidence_its_reason_asks_for(synced, alice_client, alice, fund):
    activation = bought_with_code(alice_client, alice, fund, synced)
    url = reverse("portal:report", args=[activation.pk])
    no_agreement = alice_client.post(url, {"reason": 2, "message": "x"})
    no_evidence = alice_client.post(url, {"reason": 3, "agree": "on"})
    wrong_type = alice_client.post(
        url, {"reason": 3, "agree": "on", "evidence": SimpleUploadedFile("s.png", b"MZ not an image at all")}
    )
    for response in (no_agreement, no_evidence, wrong_type):
        assert response.status_code == 400
        assert 'class="field-error"' in response.content.decode()
    assert "jpg, png, webp, zip, pdf or mp4" in wrong_type.content.decode()
    activation.refresh_from_db()
    assert activation.report_status is None


def test_a_too_large_evidence_file_is_refused(synced, alice_client, alice, fund, monkeypatch):
    from portal import forms

    monkeypatch.setattr(forms, "EVIDENCE_MAX_BYTES", 32)
    activation = bought_with_code(alice_client, alice, fund, synced)
    response = alice_client.post(
        reverse("portal:report", args=[activation.pk]),
        {"reason": 3, "agree": "on", "evidence": SimpleUploadedFile("s.png", PNG)},
    )
    assert response.status_code == 400 and "larger than 5 MB" in response.content.decode()


def test_another_users_activation_cannot_be_reported(synced, alice_client, alice, bob, fund):
    verified(bob)
    activation = placed(bob)
    assert alice_client.get(reverse("portal:report", args=[activation.pk])).status_code == 404
    assert alice_client.post(reverse("portal:report", args=[activation.pk]), {"reason": 2}).status_code == 404
