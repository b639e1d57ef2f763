"""Report rules of the emulator: which reasons an activation's state allows, and what a valid report is."""

from __future__ import annotations

from typing import Any

from platfone.emulator.errors import EmulatorError, bad_request
from platfone.emulator.records import (
    REASONS_WITH_SMS,
    REASONS_WITHOUT_SMS,
    REPORT_REASONS,
    ActivationRecord,
    ReportRecord,
)
from platfone.emulator.validation import evidence_size, is_int


def offered_reasons(record: ActivationRecord, *, already_reported: bool) -> tuple[int, ...]:
    """Reason ids valid now: "not coming"/"other" before an SMS, the SMS-related ones after, none once reported."""
    if already_reported:
        return ()
    return REASONS_WITH_SMS if record.received_sms else REASONS_WITHOUT_SMS


def reasons_json(reason_ids: tuple[int, ...]) -> list[dict[str, Any]]:
    return [
        {"reason_id": i, "reason_name": REPORT_REASONS[i][0], "evidence_required": REPORT_REASONS[i][1]}
        for i in reason_ids
    ]


def new_report(
    record: ActivationRecord, *, already_reported: bool, reason_id: Any, message: Any, evidence: Any, now: int
) -> ReportRecord:
    """A validated report on `record`, or the upstream-style error (409 for a second report, else 400)."""
    if already_reported:
        raise EmulatorError(409, "ReportAlreadyExistsException", "Only one report per activation")
    if not is_int(reason_id) or reason_id < 1:
        raise bad_request("reason_id must be a positive integer")
    if reason_id not in offered_reasons(record, already_reported=False):
        raise bad_request("reason_id is not valid for this activation's state")
    if message is not None and (not isinstance(message, str) or len(message) > 1000):
        raise bad_request("message must be a string of at most 1000 characters")
    evidence_bytes = evidence_size(evidence)
    if REPORT_REASONS[reason_id][1] and not evidence_bytes:
        raise bad_request("evidence is required for this reason")
    return ReportRecord(record.activation_id, reason_id, message, evidence_bytes, record.snapshot(), now, now)
