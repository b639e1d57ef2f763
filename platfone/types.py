"""Typed, immutable views of Platfone responses: integer cents, Unix-second integers.

Every `from_json` validates what it reads and raises `ParseError` (a `ValueError`) on a missing field or a
wrong type, so a malformed upstream body never surfaces as a KeyError or TypeError deep in a caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SmsStatus(StrEnum):
    REQUESTED = "smsRequested"  # waiting for the first SMS
    RECEIVED = "smsReceived"  # the first SMS arrived (billed)
    RETRY_REQUESTED = "retryRequested"  # another SMS was asked for
    RETRY_RECEIVED = "retryReceived"  # another SMS arrived (free)


class ActivationStatus(StrEnum):
    ACTIVE = "active"
    FINALIZED = "finalized"  # confirmed by the user; no further changes
    EXPIRED = "expired"
    CANCELED = "canceled"  # canceled before any SMS arrived


class BillingStatus(StrEnum):
    """The upstream's billing of the reseller (our own side of the money is ``Activation.BillingStatus``)."""

    RESERVED = "reserved"
    RELEASED = "released"
    BILLED = "billed"
    REFUNDED = "refunded"  # after an approved report


class ReportStatus(StrEnum):
    IN_REVIEW = "inReview"
    DECLINED = "declined"
    APPROVED = "approved"


SMS_STATUSES = frozenset(SmsStatus)
ACTIVATION_STATUSES = frozenset(ActivationStatus)
BILLING_STATUSES = frozenset(BillingStatus)
REPORT_STATUSES = frozenset(ReportStatus)
# An SMS has arrived in these (a retry asked after one still means one arrived).
SMS_ARRIVED = frozenset({SmsStatus.RECEIVED, SmsStatus.RETRY_REQUESTED, SmsStatus.RETRY_RECEIVED})
# The activation has ended: nothing but a report can change it any more.
ENDED = frozenset({ActivationStatus.FINALIZED, ActivationStatus.EXPIRED, ActivationStatus.CANCELED})


class ParseError(ValueError):
    """A response body did not have the documented shape, or a value in it is out of its documented range."""


class NotJson(ParseError):
    """The body is not JSON at all (a proxy's error page, a truncated answer): a transient fault."""


# The ranges of the values we accept from the upstream: what its document promises, and what our tables hold.
# A value outside them is rejected with the whole snapshot (it never reaches a model).
ID_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")  # printable ASCII, no spaces: our column holds 64
PHONE_PATTERN = re.compile(r"\+?[0-9]{5,20}")  # E.164 has at most 15 digits; our column holds 32
SERVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,30}")
COUNTRY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{2,9}")
MAX_PRICE_CENTS = 10_000  # the upstream's max_price range is 1..10000 cents
MAX_SMS_CODE_LENGTH = 64
MAX_SMS_TEXT_LENGTH = 10_000
TIMESTAMP_RANGE = (0, 4_102_444_800)  # up to 2100-01-01, Unix seconds: beyond, datetimes overflow


def _obj(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ParseError(f"{what}: expected an object, got {type(data).__name__}")
    return data


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise ParseError(f"{what}: expected a list, got {type(data).__name__}")
    return data


def _int(data: Mapping[str, Any], key: str, *, optional: bool = False) -> int | None:
    value = data.get(key)
    if value is None:
        if optional:
            return None
        raise ParseError(f"missing integer field {key!r}")
    # bool is an int subclass; a JSON true where a number belongs is garbage, not 1.
    if isinstance(value, bool):
        raise ParseError(f"field {key!r}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ParseError(f"field {key!r}: expected an integer, got {value!r}")


def _req(value: T | None) -> T:
    assert value is not None  # the value was required by the reader that produced it
    return value


def _req_int(data: Mapping[str, Any], key: str) -> int:
    value = _int(data, key)
    assert value is not None
    return value


def _str(data: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if optional:
            return None
        raise ParseError(f"missing string field {key!r}")
    if not isinstance(value, str):
        raise ParseError(f"field {key!r}: expected a string, got {type(value).__name__}")
    return value


def _req_str(data: Mapping[str, Any], key: str) -> str:
    value = _str(data, key)
    assert value is not None
    return value


def _bool(data: Mapping[str, Any], key: str, *, default: bool | None = None) -> bool:
    value = data.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, bool):
        raise ParseError(f"field {key!r}: expected a boolean, got {value!r}")
    return value


def _enum(data: Mapping[str, Any], key: str, allowed: frozenset[str], *, optional: bool = False) -> str | None:
    value = _str(data, key, optional=optional)
    if value is not None and value not in allowed:
        raise ParseError(f"field {key!r}: unknown value {value!r}")
    return value


def _req_enum(data: Mapping[str, Any], key: str, allowed: frozenset[str]) -> str:
    value = _enum(data, key, allowed)
    assert value is not None
    return value


def _matching(value: str | None, key: str, pattern: re.Pattern[str]) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise ParseError(f"field {key!r}: {value[:80]!r} is not a valid value")
    return value


def _at_most(value: str | None, key: str, length: int) -> str | None:
    if value is not None and len(value) > length:
        raise ParseError(f"field {key!r}: longer than {length} characters")
    return value


def _in_range(value: int | None, key: str, low: int, high: int) -> int | None:
    if value is not None and not low <= value <= high:
        raise ParseError(f"field {key!r}: {value} is out of range {low}..{high}")
    return value


def _timestamp(data: Mapping[str, Any], key: str, *, optional: bool = False) -> int | None:
    return _in_range(_int(data, key, optional=optional), key, *TIMESTAMP_RANGE)


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"field {key!r}: expected a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Activation:
    """One ordered number and everything the upstream knows about it (the doc's activation object)."""

    activation_id: str
    price: int
    phone: str
    country_id: str
    service_id: str
    sms_status: str
    activation_status: str
    billing_status: str
    report_status: str | None
    sms_code: str | None
    sms_text: str | None
    expire_at: int
    updated_at: int
    created_at: int
    is_retriable: bool
    cancelable_after: int | None

    @classmethod
    def from_json(cls, data: Any) -> Activation:
        """Parse and validate every field (types, lengths, ranges, enums): a snapshot that passes fits our tables
        and our arithmetic; one that does not raises ``ParseError`` naming the field."""
        data = _obj(data, "activation")
        phone = data.get("phone")
        # The upstream sends digits without "+"; tolerate a JSON number but never reformat the digits.
        if isinstance(phone, int) and not isinstance(phone, bool):
            phone = str(phone)
        if not isinstance(phone, str) or not phone:
            raise ParseError("field 'phone': expected a non-empty string")
        return cls(
            activation_id=_req(_matching(_req_str(data, "activation_id"), "activation_id", ID_PATTERN)),
            price=_req(_in_range(_req_int(data, "price"), "price", 0, MAX_PRICE_CENTS)),
            phone=_req(_matching(phone, "phone", PHONE_PATTERN)),
            country_id=_req(_matching(_req_str(data, "country_id"), "country_id", COUNTRY_ID_PATTERN)),
            service_id=_req(_matching(_req_str(data, "service_id"), "service_id", SERVICE_ID_PATTERN)),
            sms_status=_req_enum(data, "sms_status", SMS_STATUSES),
            activation_status=_req_enum(data, "activation_status", ACTIVATION_STATUSES),
            billing_status=_req_enum(data, "billing_status", BILLING_STATUSES),
            report_status=_enum(data, "report_status", REPORT_STATUSES, optional=True),
            sms_code=_at_most(_str(data, "sms_code", optional=True), "sms_code", MAX_SMS_CODE_LENGTH),
            sms_text=_at_most(_str(data, "sms_text", optional=True), "sms_text", MAX_SMS_TEXT_LENGTH),
            expire_at=_req(_timestamp(data, "expire_at")),
            updated_at=_req(_timestamp(data, "updated_at")),
            created_at=_req(_timestamp(data, "created_at")),
            is_retriable=_bool(data, "is_retriable", default=False),
            cancelable_after=_timestamp(data, "cancelable_after", optional=True),
        )

    def is_expired(self, now: float) -> bool:
        """The doc: past `expire_at` the activation is expired even if `activation_status` still says active."""
        return self.activation_status == ActivationStatus.EXPIRED or (
            self.activation_status == ActivationStatus.ACTIVE and now >= self.expire_at
        )

    def can_cancel(self, now: float) -> bool:
        """Mirror of the upstream's cancel preconditions (null `cancelable_after` = never cancelable)."""
        return (
            self.activation_status == ActivationStatus.ACTIVE
            and self.sms_status == SmsStatus.REQUESTED
            and self.cancelable_after is not None
            and now >= self.cancelable_after
            and now < self.expire_at
        )


@dataclass(frozen=True)
class _Page:
    page: int
    limit: int
    pages: int
    total: int

    @staticmethod
    def _fields(data: Mapping[str, Any]) -> dict[str, int]:
        return {key: _req_int(data, key) for key in ("page", "limit", "pages", "total")}


@dataclass(frozen=True)
class ActivationPage(_Page):
    """One page of `GET activation/history`, newest first.

    An item that fails validation does not sink the page: it is set aside in ``rejected`` as (the activation id
    if one can be read, the reason), so the valid ones can still be reconciled.
    """

    activations: tuple[Activation, ...]
    rejected: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> ActivationPage:
        data = _obj(data, "activation history")
        items, rejected = [], []
        for item in _list(data.get("activations"), "activations"):
            try:
                items.append(Activation.from_json(item))
            except ParseError as exc:
                raw_id = item.get("activation_id") if isinstance(item, Mapping) else None
                rejected.append((raw_id[:64] if isinstance(raw_id, str) else "", str(exc)))
        return cls(activations=tuple(items), rejected=tuple(rejected), **cls._fields(data))


@dataclass(frozen=True)
class Price:
    """Price range (cents), average quality (0..1) and available count for one service in one country."""

    service_id: str | None
    country_id: str | None
    min: int
    max: int
    suggested: int
    quality_avg: float
    count: int

    @classmethod
    def from_json(cls, data: Any, *, service_id: str | None = None, country_id: str | None = None) -> Price:
        data = _obj(data, "price")
        price = _obj(data.get("price"), "price.price")
        quality = _obj(data.get("quality"), "price.quality")
        return cls(
            service_id=_str(data, "service_id", optional=True) or service_id,
            country_id=_str(data, "country_id", optional=True) or country_id,
            min=_req_int(price, "min"),
            max=_req_int(price, "max"),
            suggested=_req_int(price, "suggested"),
            quality_avg=_number(quality, "avg"),
            count=_req_int(data, "count"),
        )


@dataclass(frozen=True)
class CountryPrices:
    """Every service's price in one country; each `Price` has both ids filled in."""

    country_id: str
    services: tuple[Price, ...]

    @classmethod
    def from_json(cls, data: Any) -> CountryPrices:
        data = _obj(data, "country prices")
        country_id = _req_str(data, "country_id")
        items = _list(data.get("services"), "services")
        return cls(country_id=country_id, services=tuple(Price.from_json(i, country_id=country_id) for i in items))


@dataclass(frozen=True)
class ServicePrices:
    """One service's price in every country; each `Price` has both ids filled in."""

    service_id: str
    countries: tuple[Price, ...]

    @classmethod
    def from_json(cls, data: Any) -> ServicePrices:
        data = _obj(data, "service prices")
        service_id = _req_str(data, "service_id")
        items = _list(data.get("countries"), "countries")
        return cls(service_id=service_id, countries=tuple(Price.from_json(i, service_id=service_id) for i in items))


@dataclass(frozen=True)
class Country:
    """A catalog country; ids ending in `_v` hold virtual numbers only."""

    country_id: str
    name: str
    alt_name: str | None
    codes: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Any) -> Country:
        data = _obj(data, "country")
        codes = data.get("codes") or []
        if not isinstance(codes, list) or not all(isinstance(c, str | int) and not isinstance(c, bool) for c in codes):
            raise ParseError("field 'codes': expected a list of strings")
        return cls(
            country_id=_req_str(data, "country_id"),
            name=_req_str(data, "name"),
            alt_name=_str(data, "alt_name", optional=True),
            codes=tuple(str(c) for c in codes),
        )


@dataclass(frozen=True)
class Service:
    """A catalog service; `other` is the catch-all for services not listed."""

    service_id: str
    name: str
    alt_name: str | None
    has_description: bool
    has_warning: bool

    @classmethod
    def from_json(cls, data: Any) -> Service:
        data = _obj(data, "service")
        return cls(
            service_id=_req_str(data, "service_id"),
            name=_req_str(data, "name"),
            alt_name=_str(data, "alt_name", optional=True),
            has_description=_bool(data, "has_description", default=False),
            has_warning=_bool(data, "has_warning", default=False),
        )


CatalogItem = TypeVar("CatalogItem", "Country", "Service")


@dataclass(frozen=True)
class CatalogResult(Generic[CatalogItem]):
    """A catalog list plus its ETag. When `not_modified`, `items` is None: keep what you have."""

    items: tuple[CatalogItem, ...] | None
    etag: str | None
    not_modified: bool


@dataclass(frozen=True)
class Balance:
    """The reseller's upstream balance in cents; `reserved` is held for active activations."""

    total: int
    reserved: int

    @property
    def available(self) -> int:
        return self.total - self.reserved

    @classmethod
    def from_json(cls, data: Any) -> Balance:
        data = _obj(data, "balance")
        return cls(total=_req_int(data, "total"), reserved=_req_int(data, "reserved"))


@dataclass(frozen=True)
class ReportReason:
    """A reason a report may be filed for, given the activation's current state."""

    reason_id: int
    reason_name: str
    evidence_required: bool

    @classmethod
    def from_json(cls, data: Any) -> ReportReason:
        data = _obj(data, "report reason")
        return cls(
            reason_id=_req_int(data, "reason_id"),
            reason_name=_req_str(data, "reason_name"),
            evidence_required=_bool(data, "evidence_required", default=False),
        )


@dataclass(frozen=True)
class ReportResult:
    """The answer to filing a report: `status` ("accepted" or "declined") and a `decline_id` when declined."""

    status: str
    decline_id: int | None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    @classmethod
    def from_json(cls, data: Any) -> ReportResult:
        data = _obj(data, "report result")
        return cls(status=_req_str(data, "status"), decline_id=_int(data, "decline_id", optional=True))


@dataclass(frozen=True)
class Report:
    """A filed report; its outcome is the activation's `report_status` (and `billing_status` = refunded)."""

    reason_id: int
    reason_name: str
    message: str | None
    activation_state_snapshot: str | None
    updated_at: int
    created_at: int
    activation: Activation

    @classmethod
    def from_json(cls, data: Any) -> Report:
        data = _obj(data, "report")
        snapshot = data.get("activation_state_snapshot")
        # Documented as a JSON-encoded string; accept an object too and keep it as text either way.
        if isinstance(snapshot, Mapping):
            snapshot = json.dumps(snapshot, sort_keys=True)
        elif snapshot is not None and not isinstance(snapshot, str):
            raise ParseError("field 'activation_state_snapshot': expected a string")
        return cls(
            reason_id=_req_int(data, "reason_id"),
            reason_name=_req_str(data, "reason_name"),
            message=_str(data, "message", optional=True),
            activation_state_snapshot=snapshot,
            updated_at=_req_int(data, "updated_at"),
            created_at=_req_int(data, "created_at"),
            activation=Activation.from_json(data.get("activation")),
        )


@dataclass(frozen=True)
class ReportPage(_Page):
    """One page of `GET activation/reports`."""

    reports: tuple[Report, ...]

    @classmethod
    def from_json(cls, data: Any) -> ReportPage:
        data = _obj(data, "report list")
        items = tuple(Report.from_json(item) for item in _list(data.get("reports"), "reports"))
        return cls(reports=items, **cls._fields(data))


def parse_result(data: Any) -> None:
    """Check a `{"result": "success"}` body (retry, cancel, finalize)."""
    data = _obj(data, "result")
    if data.get("result") != "success":
        raise ParseError(f"expected result 'success', got {data.get('result')!r}")
