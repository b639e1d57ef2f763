"""The doc's activation state machine, as functions on the emulator's records.

Every transition checks the doc's preconditions (409 InvalidActivationStateException otherwise) and moves the
account's money with it: reserve on create, bill on the first SMS, release when an unbilled activation ends,
refund on an approved report. Callers hold the emulator's lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from platfone.emulator.errors import conflict
from platfone.emulator.records import Account, ActivationRecord

SUCCESS_WINDOW = 24 * 3600
SUCCESS_MIN_RESOLVED = 10
SUCCESS_MIN_RATE = 0.07


def touch(record: ActivationRecord, now: int) -> None:
    # updated_at must move on every change, even two changes in the same second, so snapshots order.
    record.updated_at = max(now, record.updated_at + 1)


def reserve(record: ActivationRecord, account: Account) -> None:
    account.activation_ids.append(record.activation_id)
    account.active_ids.add(record.activation_id)
    account.reserved += record.price


def end(record: ActivationRecord, account: Account, status: str, now: int) -> None:
    """Leave `active` (expired, canceled, finalized); an unbilled reservation goes back to the balance."""
    record.activation_status = status
    account.active_ids.discard(record.activation_id)
    if record.billing_status == "reserved":
        record.billing_status = "released"
        account.reserved -= record.price
    touch(record, now)


def _require_active(record: ActivationRecord) -> None:
    if record.activation_status != "active":
        raise conflict(f"Activation is {record.activation_status}")


def receive_sms(record: ActivationRecord, account: Account, code: str, text: str, now: int) -> None:
    """smsRequested → smsReceived (billed now), retryRequested → retryReceived (free)."""
    _require_active(record)
    if record.sms_status == "smsRequested":
        record.sms_status = "smsReceived"
        record.billing_status = "billed"
        account.reserved -= record.price
        account.total -= record.price
    elif record.sms_status == "retryRequested":
        record.sms_status = "retryReceived"
    else:
        raise conflict(f"Activation is not waiting for an SMS ({record.sms_status})")
    record.sms_code, record.sms_text = code, text
    touch(record, now)


def request_retry(record: ActivationRecord, now: int) -> None:
    """The doc: only after an SMS arrived (smsReceived or retryReceived), while active, when `is_retriable`."""
    _require_active(record)
    if not record.is_retriable:
        raise conflict("Activation does not support retry")
    if record.sms_status not in ("smsReceived", "retryReceived"):
        raise conflict(f"Retry is not possible while sms_status is {record.sms_status}")
    record.sms_status = "retryRequested"
    touch(record, now)


def cancel(record: ActivationRecord, account: Account, now: int) -> None:
    """The doc: active, no SMS yet, and `cancelable_after` set and passed."""
    _require_active(record)
    if record.sms_status != "smsRequested":
        raise conflict("Activation already received an SMS")
    if record.cancelable_after is None:
        raise conflict("Activation does not support cancellation")
    if now < record.cancelable_after:
        raise conflict(f"Activation can be canceled after {record.cancelable_after}")
    end(record, account, "canceled", now)


def finalize(record: ActivationRecord, account: Account, now: int) -> None:
    """The doc: active, billed, and an SMS received (smsReceived, retryRequested or retryReceived)."""
    _require_active(record)
    if record.sms_status not in ("smsReceived", "retryRequested", "retryReceived"):
        raise conflict("Activation has not received an SMS")
    if record.billing_status != "billed":
        raise conflict(f"Activation billing is {record.billing_status}")
    end(record, account, "finalized", now)


def decide_report(record: ActivationRecord, account: Account, *, approve: bool, now: int) -> None:
    """Close the review; an approved report refunds a billed activation."""
    if record.report_status != "inReview":
        raise conflict(f"Report is already {record.report_status}")
    record.report_status = "approved" if approve else "declined"
    if approve and record.billing_status == "billed":
        record.billing_status = "refunded"
        account.total += record.price
    touch(record, now)


def success_rate_too_low(orders: Iterable[ActivationRecord]) -> bool:
    """The 7 % rule over one window's orders, once at least 10 of them have an outcome.

    The doc's formula is cut off; the emulator counts only activations whose outcome is known (an SMS arrived,
    or they ended without one), so a burst of fresh orders is not mistaken for failures.
    """
    resolved = [r for r in orders if r.received_sms or r.activation_status != "active"]
    if len(resolved) < SUCCESS_MIN_RESOLVED:
        return False
    return sum(1 for r in resolved if r.received_sms) / len(resolved) < SUCCESS_MIN_RATE
