"""The one chokepoint for calls to the Platfone Activation API.

Every call: spends a unit of the shared per-minute budget, sends `X-Api-Key`, has connect and read
timeouts, maps failures onto `platfone.errors`, and parses the body into a frozen dataclass.
Only GETs are retried (on `UpstreamUnavailable`); a POST or PUT is never re-sent, because a request that
timed out may well have been executed upstream (ordering twice costs money; the caller reconciles).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from platfone.budget import RequestBudget, account_fingerprint
from platfone.errors import (
    AccountOnHold,
    BadRequest,
    BudgetExhausted,
    Conflict,
    InvalidKey,
    InvalidUpstreamData,
    LowSuccessRate,
    MaxPriceExceeded,
    NoNumbersAvailable,
    NotFound,
    PaymentRequired,
    PlatfoneError,
    RateLimited,
    TooManyActivations,
    UpstreamUnavailable,
)
from platfone.types import (
    Activation,
    ActivationPage,
    Balance,
    CatalogItem,
    CatalogResult,
    Country,
    CountryPrices,
    NotJson,
    ParseError,
    Price,
    Report,
    ReportPage,
    ReportReason,
    ReportResult,
    Service,
    ServicePrices,
    parse_result,
)

logger = logging.getLogger("platfone")

T = TypeVar("T")

USER_AGENT = "reseller-platfone-client/1.0"
# Without a reset header we still must not hammer the upstream.
DEFAULT_RETRY_AFTER = 60
# x-ratelimit-reset below this is a number of seconds, above it a Unix timestamp (2001-09-09).
_UNIX_TIMESTAMP_FLOOR = 1_000_000_000
_MAX_BACKOFF = 1.0

_RATE_LIMIT_CLASSES: Mapping[str, type[RateLimited]] = {
    "TooManyActivationsException": TooManyActivations,
    "LowSuccessRateException": LowSuccessRate,
    "TooManyRequestsException": RateLimited,
}


class PlatfoneClient:
    """Typed client for one Platfone account (base URL + API key).

    `cache` is any Django-cache-like object shared by all processes (default: `django.core.cache.cache`);
    it holds the request budget. `budget=False` disables budgeting (the upstream still rate-limits).
    `sleep` and `clock` are injectable so tests neither wait nor depend on the wall clock.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        max_retries: int = 2,
        session: requests.Session | None = None,
        cache: Any = None,
        budget: bool = True,
        budget_safety: float = 0.9,
        budget_limits: Mapping[str, int] | None = None,
        backoff: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        spender: str | None = None,
        spender_share: float | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max(0, max_retries)
        self.session = session or requests.Session()
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        # Whom the calls are made for (an opaque id) and the share of each method's budget it may use.
        self.spender, self.spender_share = spender, spender_share
        self.budget: RequestBudget | None = None
        if budget:
            if cache is None:
                from django.core.cache import cache as django_cache

                cache = django_cache
            self.budget = RequestBudget(
                account=account_fingerprint(self.base_url, api_key),
                cache=cache,
                limits=budget_limits,
                safety=budget_safety,
                clock=clock,
            )

    def __repr__(self) -> str:
        return f"PlatfoneClient(base_url={self.base_url!r})"

    # --- budget -------------------------------------------------------------------------------------

    def budget_remaining(self, method: str) -> int | None:
        """Calls to `method` (a client method name) still allowed this minute; None when budgeting is off."""
        return None if self.budget is None else self.budget.remaining(method)

    def budget_allows(self, method: str, units: int = 1) -> bool:
        """Whether `units` calls to `method` fit in this minute's budget, without spending any."""
        return True if self.budget is None else self.budget.allows(method, units)

    # --- activations --------------------------------------------------------------------------------

    def create_activation(
        self,
        *,
        service_id: str,
        country_id: str,
        max_price: int | None = None,
        order_id: str | None = None,
        quality_factor: int | None = None,
    ) -> Activation:
        """Order a number. Never retried: on `UpstreamUnavailable` the order may exist; reconcile via history."""
        body: dict[str, Any] = {"service_id": service_id, "country_id": country_id}
        if max_price is not None:
            body["max_price"] = max_price
        if order_id is not None:
            body["order_id"] = order_id
        if quality_factor is not None:
            body["quality_factor"] = quality_factor
        return self._call("create_activation", "POST", "activation", body=body, parse=_json_parser(Activation))

    def get_activation(self, activation_id: str) -> Activation:
        path = f"activation/{_segment(activation_id)}"
        return self._call("get_activation", "GET", path, parse=_json_parser(Activation))

    def retry_activation(self, activation_id: str) -> None:
        """Ask for one more SMS (free); only after an SMS arrived, while active and `is_retriable`."""
        self._action("retry_activation", activation_id, "retry")

    def cancel_activation(self, activation_id: str) -> None:
        """Cancel before any SMS arrived, once `cancelable_after` has passed; the reservation is released."""
        self._action("cancel_activation", activation_id, "cancel")

    def finalize_activation(self, activation_id: str) -> None:
        """Close a billed activation so it no longer counts against the 20 active activations."""
        self._action("finalize_activation", activation_id, "finalize")

    def activation_history(self, *, page: int = 1, limit: int = 10) -> ActivationPage:
        params = {"page": page, "limit": limit}
        return self._call(
            "activation_history", "GET", "activation/history", params=params, parse=_json_parser(ActivationPage)
        )

    # --- prices -------------------------------------------------------------------------------------

    def get_price(self, *, service_id: str, country_id: str) -> Price:
        path = f"activation/prices/services/{_segment(service_id)}/countries/{_segment(country_id)}"

        def parse(response: requests.Response) -> Price:
            return Price.from_json(_body(response), service_id=service_id, country_id=country_id)

        return self._call("get_price", "GET", path, parse=parse)

    def prices_by_country(self, *, country_id: str | None = None) -> list[CountryPrices]:
        params = {"country_id": country_id} if country_id else None
        return self._call(
            "prices_by_country", "GET", "activation/prices/countries", params=params, parse=_list_parser(CountryPrices)
        )

    def prices_by_service(self, *, service_id: str | None = None) -> list[ServicePrices]:
        params = {"service_id": service_id} if service_id else None
        return self._call(
            "prices_by_service", "GET", "activation/prices/services", params=params, parse=_list_parser(ServicePrices)
        )

    # --- catalog ------------------------------------------------------------------------------------

    def countries(self, *, etag: str | None = None) -> CatalogResult[Country]:
        return self._catalog("countries", "activation/countries", Country, etag)

    def services(self, *, etag: str | None = None) -> CatalogResult[Service]:
        return self._catalog("services", "activation/services", Service, etag)

    def popular_services(self, *, etag: str | None = None) -> CatalogResult[Service]:
        # The doc's curl example for this endpoint shows `activation/services` (a copy-paste slip); the
        # operation is `activation/services/popular`.
        return self._catalog("popular_services", "activation/services/popular", Service, etag)

    # --- balance ------------------------------------------------------------------------------------

    def balance(self) -> Balance:
        return self._call("balance", "GET", "user/balance", parse=_json_parser(Balance))

    # --- reports ------------------------------------------------------------------------------------

    def report_reasons(self, activation_id: str) -> list[ReportReason]:
        path = f"activation/{_segment(activation_id)}/report/reasons"
        return self._call("report_reasons", "GET", path, parse=_list_parser(ReportReason))

    def create_report(
        self, activation_id: str, *, reason_id: int, message: str | None = None, evidence: bytes | None = None
    ) -> ReportResult:
        """File the (single) report for an activation; `evidence` is sent base64-encoded, as the doc asks."""
        body: dict[str, Any] = {"reason_id": reason_id}
        if message is not None:
            body["message"] = message
        if evidence is not None:
            body["evidence"] = base64.b64encode(evidence).decode("ascii")
        path = f"activation/{_segment(activation_id)}/report"
        return self._call("create_report", "POST", path, body=body, parse=_json_parser(ReportResult))

    def get_report(self, activation_id: str) -> Report:
        path = f"activation/{_segment(activation_id)}/report"
        return self._call("get_report", "GET", path, parse=_json_parser(Report))

    def list_reports(self, *, page: int = 1, limit: int = 10) -> ReportPage:
        params = {"page": page, "limit": limit}
        return self._call("list_reports", "GET", "activation/reports", params=params, parse=_json_parser(ReportPage))

    # --- plumbing -----------------------------------------------------------------------------------

    def _action(self, method: str, activation_id: str, verb: str) -> None:
        path = f"activation/{_segment(activation_id)}/{verb}"
        self._call(method, "PUT", path, parse=lambda response: parse_result(_body(response)))

    def _catalog(self, method: str, path: str, item: type[CatalogItem], etag: str | None) -> CatalogResult[CatalogItem]:
        headers = {"If-None-Match": etag} if etag else None

        def parse(response: requests.Response) -> CatalogResult[CatalogItem]:
            if response.status_code == 304:
                return CatalogResult(items=None, etag=_etag(response) or etag, not_modified=True)
            rows = _body(response)
            if not isinstance(rows, list):
                raise ParseError(f"{path}: expected a list")
            return CatalogResult(
                items=tuple(item.from_json(row) for row in rows), etag=_etag(response), not_modified=False
            )

        return self._call(method, "GET", path, headers=headers, parse=parse, accept_304=bool(etag))

    def _call(
        self,
        method: str,
        http_method: str,
        path: str,
        *,
        parse: Callable[[requests.Response], T],
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accept_304: bool = False,
    ) -> T:
        attempts = 1 + (self.max_retries if http_method == "GET" else 0)
        last_error: UpstreamUnavailable | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(min(_MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)))
            try:
                self._spend(method)
            except BudgetExhausted:
                # Out of budget mid-retry: the failure worth reporting is the upstream's, not ours.
                if last_error is not None:
                    raise last_error from None
                raise
            try:
                response = self._send(http_method, path, params=params, body=body, headers=headers)
                if 200 <= response.status_code < 300 or (accept_304 and response.status_code == 304):
                    try:
                        return parse(response)
                    except NotJson as exc:
                        raise self._unavailable(http_method, path, f"malformed response: {exc}") from None
                    except ParseError as exc:
                        raise InvalidUpstreamData(
                            self._redact(f"Platfone {http_method} {path}: malformed response: {exc}")
                        ) from None
                raise self._error(method, http_method, path, response)
            except UpstreamUnavailable as exc:
                last_error = exc
                if attempt + 1 < attempts:
                    logger.warning(
                        "platfone %s %s failed (%s); retry %d/%d", http_method, path, exc, attempt + 1, self.max_retries
                    )
        assert last_error is not None
        raise last_error

    def _spend(self, method: str) -> None:
        if self.budget is not None:
            self.budget.spend(method, spender=self.spender, share=self.spender_share)

    def _send(
        self,
        http_method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> requests.Response:
        all_headers = {
            "X-Api-Key": self._api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }
        try:
            return self.session.request(
                http_method,
                f"{self.base_url}/{path}",
                params=params,
                data=None if body is None else json.dumps(body),
                headers=all_headers,
                timeout=self.timeout,
                # A redirect would forward X-Api-Key to wherever it points; treat it as a broken upstream.
                allow_redirects=False,
            )
        except requests.Timeout:
            raise self._unavailable(http_method, path, "timed out") from None
        except requests.RequestException as exc:
            raise self._unavailable(http_method, path, f"{type(exc).__name__}: {exc}") from None

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")[:500]

    def _unavailable(self, http_method: str, path: str, detail: str, **kwargs: Any) -> UpstreamUnavailable:
        return UpstreamUnavailable(self._redact(f"Platfone {http_method} {path}: {detail}"), **kwargs)

    def _error(self, method: str, http_method: str, path: str, response: requests.Response) -> PlatfoneError:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else {}
        name = payload.get("errorName") if isinstance(payload.get("errorName"), str) else None
        raw_message = payload.get("errorMessage", payload.get("message"))
        message = self._redact(raw_message) if isinstance(raw_message, str) else None
        if name:
            name = self._redact(name)
        kwargs: dict[str, Any] = {"status": status, "error_name": name, "error_message": message}
        text = self._redact(f"Platfone {http_method} {path} -> {status} {name or ''}: {message or ''}".rstrip(": "))

        if name == "NoNumbersAvailableException":
            return NoNumbersAvailable(text, **kwargs)
        if name == "MaxPriceExceededException" or (
            status == 409 and _field(payload, "suggestedPrice", "suggested_price")
        ):
            suggested = _field(payload, "suggestedPrice", "suggested_price")
            if isinstance(suggested, float) and suggested.is_integer():
                suggested = int(suggested)
            if isinstance(suggested, bool) or not isinstance(suggested, int):
                return self._unavailable(
                    http_method, path, "MaxPriceExceeded without a usable suggestedPrice", **kwargs
                )
            order_id = _field(payload, "orderId", "order_id")
            return MaxPriceExceeded(
                text, suggested_price=suggested, order_id=order_id if isinstance(order_id, str) else None, **kwargs
            )
        if status == 429 or name in _RATE_LIMIT_CLASSES:
            return self._rate_limited(method, name, text, response, kwargs)
        if status >= 500:
            return UpstreamUnavailable(text, **kwargs)
        if status == 401 or name == "UnauthorizedException":
            return InvalidKey(text, **kwargs)
        if status == 402 or name == "PaymentRequiredException":
            return PaymentRequired(text, **kwargs)
        if status == 403:
            return AccountOnHold(text, **kwargs)
        if status == 404:
            # NotFound makes callers release money, so it must mean "the upstream said so": a bare 404 without
            # a Platfone error body is what a misrouted proxy returns.
            return NotFound(text, **kwargs) if name else UpstreamUnavailable(text, **kwargs)
        if status == 409:
            return Conflict(text, **kwargs)
        if 400 <= status < 500:
            return BadRequest(text, **kwargs)
        return UpstreamUnavailable(text, **kwargs)

    def _rate_limited(
        self, method: str, name: str | None, text: str, response: requests.Response, kwargs: dict[str, Any]
    ) -> RateLimited:
        now = self._clock()
        reset_at = _header_int(response, "x-ratelimit-reset")
        if reset_at is not None and reset_at < _UNIX_TIMESTAMP_FLOOR:
            reset_at = int(now) + reset_at
        if reset_at is None:
            retry_after_header = _header_int(response, "retry-after")
            if retry_after_header is not None:
                reset_at = int(now) + retry_after_header
        retry_after = max(1, math.ceil(reset_at - now)) if reset_at is not None else DEFAULT_RETRY_AFTER
        cls = _RATE_LIMIT_CLASSES.get(name or "", RateLimited)
        if self.budget is not None:
            self.budget.note_rejection(method)
        if cls is RateLimited and self.budget is not None:
            # Tell every process sharing this account to stop calling the method until the upstream resets.
            self.budget.exhaust_until(method, reset_at if reset_at is not None else int(now) + retry_after)
        return cls(
            text, retry_after=retry_after, reset_at=reset_at, reason=name or "TooManyRequestsException", **kwargs
        )


def _segment(value: str) -> str:
    """One URL path segment from an id; refuses values that would change the path's meaning."""
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise ValueError(f"invalid path segment {value!r}")
    return quote(value, safe="")


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise NotJson(f"body is not JSON (HTTP {response.status_code})") from None


def _json_parser(cls: Any) -> Callable[[requests.Response], Any]:
    return lambda response: cls.from_json(_body(response))


def _list_parser(cls: Any) -> Callable[[requests.Response], list[Any]]:
    def parse(response: requests.Response) -> list[Any]:
        rows = _body(response)
        if not isinstance(rows, list):
            raise ParseError("expected a list")
        return [cls.from_json(row) for row in rows]

    return parse


def _etag(response: requests.Response) -> str | None:
    value = response.headers.get("x-etag") or response.headers.get("etag")
    return value.strip() if value else None


def _header_int(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except (ValueError, OverflowError):
        return None


def _field(payload: Mapping[str, Any], *names: str) -> Any:
    """First of `names` at the top level of an error body or under a nested `data`/`details` object."""
    for container in (payload, payload.get("data"), payload.get("details")):
        if isinstance(container, Mapping):
            for name in names:
                if container.get(name) is not None:
                    return container[name]
    return None
