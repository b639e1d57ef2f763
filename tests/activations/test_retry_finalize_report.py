"""More than the document: retry (another SMS, free), finalize, report reasons, report (with evidence), and the
refund an approved report brings."""

import base64
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from activations import tasks
from activations.models import Activation
from wallet import selectors as wallet_selectors
from wallet.models import JournalEntry

from .test_api_flow import age, assert_error, order

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def png(extra_bytes=0):
    """A real (1x1 pixel) PNG, padded with an ancillary chunk to the size wanted."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    padding = chunk(b"tEXt", b"c\x00" + b"x" * extra_bytes) if extra_bytes else b""
    pixels = chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + header + padding + pixels + chunk(b"IEND", b"")


def balance(user):
    return wallet_selectors.wallet_summary(user=user)


def entries(activation_id, kind):
    return JournalEntry.objects.filter(idempotency_key=f"activation:{activation_id}:{kind}").count()


def ordered(api, key, fund, user, cents=5000, **body):
    fund(user, cents)
    response = order(api, key, **body)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def poll(api, key, activation_id):
    age(activation_id)
    response = api.get(f"/api/v1/activations/{activation_id}/poll", HTTP_X_API_KEY=key)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def charged(api, emulator, user, key, fund, code="1111", **body):
    data = ordered(api, key, fund, user, **body)
    emulator.deliver_sms(data["activation_id"], code=code)
    assert poll(api, key, data["id"])["sms_code"] == code
    return data


def action(api, key, activation_id, name):
    return api.post(f"/api/v1/activations/{activation_id}/{name}", HTTP_X_API_KEY=key)


def report(api, key, activation_id, **fields):
    return api.post(f"/api/v1/activations/{activation_id}/report", fields, HTTP_X_API_KEY=key)


def assert_ledger_clean():
    call_command("verify_ledger")


class TestRetry:
    def test_a_retry_brings_a_second_code_and_charges_nothing_more(self, api, emulator, alice, alice_key, fund):
        # given: the first SMS arrived and was charged
        data = charged(api, emulator, alice, alice_key, fund, code="1111")
        # when
        retried = action(api, alice_key, data["id"], "retry")
        # then
        assert retried.status_code == 200, retried.content
        assert retried.json()["data"]["sms_status"] == "retryRequested"
        assert emulator.activations()[0]["sms_status"] == "retryRequested"
        # when: the second SMS arrives
        emulator.deliver_sms(data["activation_id"], code="2222")
        second = poll(api, alice_key, data["id"])
        poll(api, alice_key, data["id"])
        # then
        assert (second["sms_status"], second["sms_code"]) == ("retryReceived", "2222")
        assert entries(data["id"], "charge") == 1
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
        assert_ledger_clean()

    def test_a_retry_before_the_first_sms_is_409(self, api, emulator, alice, alice_key, fund):
        data = ordered(api, alice_key, fund, alice)
        assert_error(action(api, alice_key, data["id"], "retry"), 409, "not_retriable")
        assert emulator.request_count("retry_activation") == 0

    def test_a_service_without_retries_is_409(self, api, emulator, alice, alice_key, fund):
        data = charged(api, emulator, alice, alice_key, fund, service_id="netflix")
        assert_error(action(api, alice_key, data["id"], "retry"), 409, "not_retriable")

    def test_a_retry_the_upstream_does_not_answer_is_503_and_changes_nothing(
        self, api, emulator, alice, alice_key, fund
    ):
        data = charged(api, emulator, alice, alice_key, fund)
        emulator.add_fault(kind="error", endpoint="retry_activation", count=1)
        assert_error(action(api, alice_key, data["id"], "retry"), 503, "upstream_unavailable")
        assert Activation.objects.get(pk=data["id"]).sms_status == "smsReceived"

    def test_another_users_activation_cannot_be_retried(self, api, emulator, alice, alice_key, bob_key, fund):
        data = charged(api, emulator, alice, alice_key, fund)
        assert_error(action(api, bob_key, data["id"], "retry"), 404, "not_found")
        assert emulator.request_count("retry_activation") == 0


class TestFinalize:
    def test_finalize_after_the_sms_frees_the_number_and_keeps_the_charge(self, api, emulator, alice, alice_key, fund):
        data = charged(api, emulator, alice, alice_key, fund)
        first = action(api, alice_key, data["id"], "finalize")
        again = action(api, alice_key, data["id"], "finalize")
        assert first.status_code == 200 and again.status_code == 200
        assert first.json()["data"]["activation_status"] == "finalized"
        assert first.json()["data"]["billing_status"] == "billed"
        assert emulator.activations()[0]["activation_status"] == "finalized"
        assert emulator.request_count("finalize_activation") == 1
        assert balance(alice).balance_cents == 5000 - data["sell_price_cents"]
        assert_ledger_clean()

    def test_finalize_before_the_sms_is_409_not_finalizable(self, api, emulator, alice, alice_key, fund):
        data = ordered(api, alice_key, fund, alice)
        assert_error(action(api, alice_key, data["id"], "finalize"), 409, "not_finalizable")
        assert emulator.activations()[0]["activation_status"] == "active"
        assert balance(alice).held_cents == data["sell_price_cents"]

    def test_finalizing_what_the_upstream_already_finalized_answers_the_finalized_state(
        self, api, emulator, alice, alice_key, fund
    ):
        # given: finalized upstream (by another process) while our row still says active
        data = charged(api, emulator, alice, alice_key, fund)
        emulator.finalize_activation("acme-upstream", data["activation_id"])
        # when
        response = action(api, alice_key, data["id"], "finalize")
        # then
        assert response.status_code == 200, response.content
        assert response.json()["data"]["activation_status"] == "finalized"

    def test_a_finalize_the_upstream_does_not_answer_is_503(self, api, emulator, alice, alice_key, fund):
        data = charged(api, emulator, alice, alice_key, fund)
        emulator.add_fault(kind="timeout", endpoint="finalize_activation", count=1)
        assert_error(action(api, alice_key, data["id"], "finalize"), 503, "upstream_unavailable")


class TestReportReasons:
    def test_reasons_follow_the_activation_state(self, api, emulator, alice, alice_key, fund):
        data = ordered(api, alice_key, fund, alice)
        before = api.get(f"/api/v1/activations/{data['id']}/report/reasons", HTTP_X_API_KEY=alice_key)
        emulator.deliver_sms(data["activation_id"], code="5")
        after = api.get(f"/api/v1/activations/{data['id']}/report/reasons", HTTP_X_API_KEY=alice_key)
        assert before.status_code == 200 and after.status_code == 200
        assert [r["reason_id"] for r in before.json()["data"]["reasons"]] == [1, 7]
        reasons = after.json()["data"]["reasons"]
        assert [r["reason_id"] for r in reasons] == [2, 3, 4, 5, 6, 7]
        assert set(reasons[0]) == {"reason_id", "reason_name", "evidence_required"}
        assert {r["reason_id"]: r["evidence_required"] for r in reasons}[3] is True

    def test_another_tenants_user_sees_nothing(self, api, emulator, alice, alice_key, charlie_key, fund):
        data = ordered(api, alice_key, fund, alice)
        path = f"/api/v1/activations/{data['id']}/report/reasons"
        assert_error(api.get(path, HTTP_X_API_KEY=charlie_key), 404, "not_found")
        assert_error(report(api, charlie_key, data["id"], reason_id=7), 404, "not_found")
        assert emulator.request_count("report_reasons") == 0


class TestReport:
    def test_a_report_with_png_evidence_is_filed_with_the_upstream(
        self, api, emulator, alice, alice_key, fund, monkeypatch
    ):
        # given
        data = charged(api, emulator, alice, alice_key, fund)
        evidence = png(extra_bytes=2000)
        filed = []
        real = emulator.create_report
        monkeypatch.setattr(emulator, "create_report", lambda *a, **kw: filed.append(kw) or real(*a, **kw))
        # when
        response = report(
            api,
            alice_key,
            data["id"],
            reason_id=3,
            message="The service refused the number",
            evidence=SimpleUploadedFile("refused.png", evidence, content_type="image/png"),
        )
        # then
        assert response.status_code == 200, response.content
        assert response.json()["data"] == {"status": "accepted", "decline_id": None}
        assert base64.b64decode(filed[0]["evidence"]) == evidence
        assert Activation.objects.get(pk=data["id"]).report_status == "inReview"

    def test_evidence_up_to_five_megabytes_is_accepted(self, api, emulator, alice, alice_key, fund):
        data = charged(api, emulator, alice, alice_key, fund)
        evidence = SimpleUploadedFile("big.png", png(extra_bytes=4 * MB), content_type="image/png")
        response = report(api, alice_key, data["id"], reason_id=3, evidence=evidence)
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize(
        ("name", "content"),
        [
            pytest.param("huge.png", lambda: png(extra_bytes=6 * MB), id="6MB-png"),
            pytest.param("notes.txt", lambda: b"I swear the SMS never came\n", id="txt"),
            pytest.param("fake.png", lambda: b"GIF89a not a png at all", id="gif-named-png"),
        ],
    )
    def test_evidence_too_large_or_of_another_type_is_400_naming_evidence(
        self, api, emulator, alice, alice_key, fund, name, content
    ):
        data = charged(api, emulator, alice, alice_key, fund)
        upload = SimpleUploadedFile(name, content(), content_type="application/octet-stream")
        body = assert_error(report(api, alice_key, data["id"], reason_id=3, evidence=upload), 400, "invalid_params")
        assert "evidence" in body["error"]
        assert emulator.request_count("create_report") == 0

    def test_a_second_report_is_409_not_reportable(self, api, emulator, alice, alice_key, fund):
        data = charged(api, emulator, alice, alice_key, fund)
        assert report(api, alice_key, data["id"], reason_id=2).status_code == 200
        assert_error(report(api, alice_key, data["id"], reason_id=2), 409, "not_reportable")

    def test_a_reason_that_needs_evidence_without_it_is_refused(self, api, emulator, alice, alice_key, fund):
        data = charged(api, emulator, alice, alice_key, fund)
        assert_error(report(api, alice_key, data["id"], reason_id=3), 409, "not_reportable")

    @pytest.mark.parametrize(
        "fields", [{}, {"reason_id": 0}, {"reason_id": "x"}, {"reason_id": 2, "message": "m" * 1001}]
    )
    def test_bad_report_parameters_are_400(self, api, emulator, alice, alice_key, fund, fields):
        data = charged(api, emulator, alice, alice_key, fund)
        assert_error(report(api, alice_key, data["id"], **fields), 400, "invalid_params")


class TestApprovedReport:
    def test_an_approved_report_refunds_once_when_a_poll_sees_it(self, api, emulator, alice, alice_key, fund):
        # given: charged, reported
        data = charged(api, emulator, alice, alice_key, fund)
        assert report(api, alice_key, data["id"], reason_id=2).status_code == 200
        # when: the upstream approves; the client polls several times
        emulator.decide_report(data["activation_id"], approve=True)
        for _ in range(3):
            poll(api, alice_key, data["id"])
        # then
        activation = Activation.objects.get(pk=data["id"])
        assert (activation.billing_status, activation.report_status) == ("refunded", "approved")
        assert entries(data["id"], "charge") == 1 and entries(data["id"], "refund") == 1
        assert balance(alice).balance_cents == 5000
        assert_ledger_clean()

    def test_a_report_on_a_finalized_activation_is_refunded_by_the_background_sync(
        self, api, emulator, alice, alice_key, fund
    ):
        # given: charged, finalized, reported; nobody polls any more
        data = charged(api, emulator, alice, alice_key, fund)
        assert action(api, alice_key, data["id"], "finalize").status_code == 200
        assert report(api, alice_key, data["id"], reason_id=6).status_code == 200
        # when
        emulator.decide_report(data["activation_id"], approve=True)
        for _ in range(2):
            age(data["id"])
            tasks.sync_due.delay()
        # then
        assert Activation.objects.get(pk=data["id"]).billing_status == "refunded"
        assert entries(data["id"], "refund") == 1
        assert balance(alice).balance_cents == 5000
        assert_ledger_clean()

    def test_a_report_approved_after_a_cancel_refunds_the_user_once_and_reverses_the_upstream_cost(
        self, api, emulator, alice, alice_key, fund, django_capture_on_commit_callbacks
    ):
        # given: charged, reported, then canceled by the user (refunded on cancel)
        data = charged(api, emulator, alice, alice_key, fund)
        assert report(api, alice_key, data["id"], reason_id=2).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            assert action(api, alice_key, data["id"], "cancel").status_code == 200
        # when: the report is approved as well
        emulator.decide_report(data["activation_id"], approve=True)
        poll(api, alice_key, data["id"])
        # then: the user is refunded once; the reseller's upstream cost, refunded by Platfone, is reversed
        assert entries(data["id"], "refund") == 1
        assert balance(alice).balance_cents == 5000
        money = wallet_selectors.reference_money(tenant=alice.tenant, reference=f"activation:{data['id']}")
        assert money.upstream_cost_cents == 0
        assert_ledger_clean()


def test_the_new_endpoints_are_in_the_openapi_schema(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for suffix in ("retry", "finalize", "report", "report/reasons"):
        assert any(path.endswith(f"/{suffix}") or path.endswith(f"/{suffix}/") for path in paths), suffix
