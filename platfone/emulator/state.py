"""The emulator's state machine: Platfone accounts, activations, balances, reports and limits.

Pure Python and thread-safe (one re-entrant lock around every read and write). Time comes from the
injected `clock` plus an adjustable offset, so tests jump time instead of sleeping. Expiry is lazy: every
operation first expires whatever is past `expire_at`, as the upstream appears to do from the outside.
Webhooks are collected while the lock is held and sent after it is released, so a receiver that calls back
into the emulator (in-process tests do) cannot deadlock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from platfone.emulator import lifecycle
from platfone.emulator.catalog import COUNTRIES_BY_ID, SERVICES_BY_ID
from platfone.emulator.delivery import DEFAULT_DELAYS
from platfone.emulator.errors import EmulatorError, bad_request, not_found, rate_limited
from platfone.emulator.faults import Fault, FaultPlan
from platfone.emulator.outbox import WebhookOutbox
from platfone.emulator.pricing import PriceBook, catalog
from platfone.emulator.records import (
    Account,
    ActivationRecord,
    PendingOrder,
    ReportRecord,
    WebhookRecord,
)
from platfone.emulator.reports import new_report, offered_reasons, reasons_json
from platfone.emulator.traffic import RateWindows
from platfone.emulator.validation import paginate, validate_order_options, validated_pair

DEFAULT_API_KEY = "emulator-key"
DEFAULT_BALANCE = 100_000
ENDPOINTS = frozenset(
    {
        "create_activation", "get_activation", "retry_activation", "cancel_activation", "finalize_activation",
        "activation_history", "get_price", "prices_by_country", "prices_by_service", "countries", "services",
        "popular_services", "balance", "report_reasons", "create_report", "get_report", "list_reports",
    }
)  # fmt: skip
ORDER_TOKEN_TTL = 15 * 60

# Settings that `configure()` (and POST /_emulator/settings) may change at run time.
SETTINGS = (
    "activation_lifetime", "cancel_delay", "rate_limits", "success_rate_block", "max_active",
    "low_balance_threshold", "latency_ms",
)  # fmt: skip


class Emulator:
    """An offline Platfone: several accounts (one per API key) sharing one seeded catalog.

    Public methods named like `PlatfoneClient`'s take the API key first and return the upstream's JSON
    (dicts and lists) or raise `EmulatorError`. The other public methods are the control surface tests and
    the `/_emulator/` endpoints use: deliver SMS, decide reports, move the clock, set balances and prices.
    """

    def __init__(
        self,
        *,
        api_keys: Mapping[str, int] | None = None,
        activation_lifetime: int = 1200,
        clock: Callable[[], float] = time.time,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_sender: Callable[[str, Mapping[str, str], bytes], int] | None = None,
        webhook_background: bool | None = None,
        webhook_delays: Sequence[float] = DEFAULT_DELAYS,
        rate_limits: bool = True,
        success_rate_block: bool = True,
        max_active: int = 20,
        cancel_delay: int = 0,
        low_balance_threshold: int = 500,
        latency_ms: int = 0,
        seed: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self.sleep = sleep
        self.activation_lifetime = activation_lifetime
        self.cancel_delay = cancel_delay
        self.rate_limits = rate_limits
        self.success_rate_block = success_rate_block
        self.max_active = max_active
        self.low_balance_threshold = low_balance_threshold
        self.latency_ms = latency_ms
        self._outbox = WebhookOutbox(
            lock=self._lock,
            now=self.now,
            new_id=self._id,
            url=webhook_url,
            secret=webhook_secret,
            sender=webhook_sender,
            # Real HTTP delivery retries in the background; an injected sender is called synchronously.
            background=webhook_sender is None if webhook_background is None else webhook_background,
            delays=webhook_delays,
        )
        self._seed = seed
        self._initial_keys = dict(api_keys if api_keys is not None else {DEFAULT_API_KEY: DEFAULT_BALANCE})
        self.faults = FaultPlan(ENDPOINTS)
        self._reset_state()

    def _reset_state(self) -> None:
        # Seeded, so ids and phone numbers repeat from run to run; not used for anything secret.
        self._rng = random.Random(self._seed)  # noqa: S311
        self._offset = 0
        self._accounts = {key: Account(key, total, total) for key, total in self._initial_keys.items()}
        self._activations: dict[str, ActivationRecord] = {}
        self._reports: dict[str, ReportRecord] = {}
        self._orders: dict[str, PendingOrder] = {}
        self._prices = PriceBook()
        self._rate_windows = RateWindows()
        self._counters: dict[str, int] = {}
        self._outbox.clear()
        self.faults.clear()

    # --- time, locking, bookkeeping -----------------------------------------------------------------

    def now(self) -> int:
        return int(self._clock()) + self._offset

    @contextmanager
    def _tx(self) -> Iterator[list[WebhookRecord]]:
        events: list[WebhookRecord] = []
        try:
            with self._lock:
                self._expire_due()
                yield events
        finally:
            for event in events:
                self._outbox.send(event.event_id)

    def _id(self) -> str:
        return f"{self._rng.getrandbits(96):024x}"

    def _account(self, api_key: str) -> Account:
        account = self._accounts.get(api_key)
        if account is None:
            raise EmulatorError(401, "UnauthorizedException", "Invalid API key")
        return account

    def _owned(self, api_key: str, activation_id: str) -> ActivationRecord:
        self._account(api_key)
        record = self._activations.get(activation_id)
        if record is None or record.api_key != api_key:
            raise not_found()
        return record

    def _touch(self, record: ActivationRecord) -> None:
        lifecycle.touch(record, self.now())

    def _expire_due(self) -> None:
        now = self.now()
        for account in self._accounts.values():
            for activation_id in list(account.active_ids):
                record = self._activations[activation_id]
                if now >= record.expire_at:
                    lifecycle.end(record, account, "expired", now)

    def authenticate(self, api_key: str | None) -> None:
        """401 UnauthorizedException unless `api_key` belongs to an account."""
        with self._lock:
            self._account(api_key or "")

    def check_rate(self, api_key: str, endpoint: str) -> dict[str, str]:
        """Count one call against the doc's per-minute table (when `rate_limits` is on); see `RateWindows.hit`."""
        with self._lock:
            return self._rate_windows.hit(api_key, endpoint, self.now()) if self.rate_limits else {}

    def count_request(self, endpoint: str) -> None:
        with self._lock:
            self._counters[endpoint] = self._counters.get(endpoint, 0) + 1

    def request_counts(self) -> dict[str, int]:
        """Calls received per endpoint (client method names; `unknown` for unrouted paths) since reset."""
        with self._lock:
            return dict(self._counters)

    def request_count(self, endpoint: str | None = None) -> int:
        with self._lock:
            return sum(self._counters.values()) if endpoint is None else self._counters.get(endpoint, 0)

    def reset_counters(self) -> None:
        with self._lock:
            self._counters.clear()

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        """Inject a fault; see `FaultPlan.add` and docs/platfone.md for the fields."""
        with self._lock:
            return self.faults.add(spec).to_json()

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def list_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.faults.list()

    def pick_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            return self.faults.pick(endpoint)

    # --- activations ----------------------------------------------------------------------------------

    def create_activation(
        self,
        api_key: str,
        *,
        service_id: Any,
        country_id: Any,
        max_price: Any = None,
        order_id: Any = None,
        quality_factor: Any = None,
    ) -> dict[str, Any]:
        """Order a number. Checks, in order: input (400), success-rate block and 20 active (429), stock (404
        NoNumbersAvailableException), max_price (409 with suggestedPrice and order_id), balance (402)."""
        with self._tx():
            account = self._account(api_key)
            service, country = validated_pair(service_id, country_id)
            validate_order_options(max_price, quality_factor)
            order = self._pending_order(api_key, order_id, service_id, country_id)
            now = self.now()
            self._check_success_rate(account, now)
            if len(account.active_ids) >= self.max_active:
                raise rate_limited(
                    "TooManyActivationsException",
                    f"Maximum of {self.max_active} active activations reached",
                    now + 60,
                )
            info = self._prices.price(service_id, country_id)
            if info.count <= 0:
                raise EmulatorError(404, "NoNumbersAvailableException", "No numbers available for this service")
            price = order.suggested_price if order else info.offer(quality_factor)
            if max_price is not None and max_price < price:
                order = order or PendingOrder(self._id(), api_key, service_id, country_id, price, now)
                self._orders[order.order_id] = order
                raise EmulatorError(
                    409,
                    "MaxPriceExceededException",
                    f"No numbers available within max_price; the nearest price is {price}",
                    extra={"suggestedPrice": price, "order_id": order.order_id},
                )
            if account.total - account.reserved < price:
                raise EmulatorError(402, "PaymentRequiredException", "Insufficient balance")
            if order is not None:
                self._orders.pop(order.order_id, None)
            record = ActivationRecord(
                activation_id=self._new_activation_id(),
                api_key=api_key,
                price=price,
                phone=self._phone(country),
                country_id=country_id,
                service_id=service_id,
                created_at=now,
                expire_at=now + self.activation_lifetime,
                # Virtual numbers cannot be canceled: the emulator's way of exercising a null cancelable_after.
                cancelable_after=None if country.virtual else now + self.cancel_delay,
                is_retriable=service.retriable,
                updated_at=now,
            )
            self._activations[record.activation_id] = record
            lifecycle.reserve(record, account)
            return record.to_json()

    def _pending_order(self, api_key: str, order_id: Any, service_id: str, country_id: str) -> PendingOrder | None:
        if order_id is None:
            return None
        now = self.now()
        self._orders = {k: o for k, o in self._orders.items() if now - o.created_at < ORDER_TOKEN_TTL}
        order = self._orders.get(order_id) if isinstance(order_id, str) else None
        if (
            order is None
            or order.api_key != api_key
            or (order.service_id, order.country_id) != (service_id, country_id)
        ):
            raise bad_request("Unknown or expired order_id")
        return order

    def _check_success_rate(self, account: Account, now: int) -> None:
        if not self.success_rate_block:
            return
        if account.blocked_until is not None and now < account.blocked_until:
            raise rate_limited("LowSuccessRateException", "Account blocked for low success rate", account.blocked_until)
        account.blocked_until = None
        since = max(now - lifecycle.SUCCESS_WINDOW, account.success_window_start)
        if lifecycle.success_rate_too_low(
            self._activations[i] for i in account.activation_ids if self._activations[i].created_at > since
        ):
            account.blocked_until = now + lifecycle.SUCCESS_WINDOW
            raise rate_limited(
                "LowSuccessRateException", "Success rate below 7%; blocked for 24 hours", account.blocked_until
            )

    def _new_activation_id(self) -> str:
        while (activation_id := self._id()) in self._activations:
            continue
        return activation_id

    def _phone(self, country: Any) -> str:
        first = str(self._rng.randint(2, 9))
        rest = "".join(str(self._rng.randint(0, 9)) for _ in range(country.national_digits - 1))
        return f"{self._rng.choice(country.codes)}{first}{rest}"

    def get_activation(self, api_key: str, activation_id: str) -> dict[str, Any]:
        with self._tx():
            return self._owned(api_key, activation_id).to_json()

    def retry_activation(self, api_key: str, activation_id: str) -> dict[str, str]:
        with self._tx():
            lifecycle.request_retry(self._owned(api_key, activation_id), self.now())
            return {"result": "success"}

    def cancel_activation(self, api_key: str, activation_id: str) -> dict[str, str]:
        with self._tx():
            record = self._owned(api_key, activation_id)
            lifecycle.cancel(record, self._accounts[api_key], self.now())
            return {"result": "success"}

    def finalize_activation(self, api_key: str, activation_id: str) -> dict[str, str]:
        with self._tx():
            record = self._owned(api_key, activation_id)
            lifecycle.finalize(record, self._accounts[api_key], self.now())
            return {"result": "success"}

    def activation_history(self, api_key: str, *, page: Any = 1, limit: Any = 10) -> dict[str, Any]:
        with self._tx():
            account = self._account(api_key)
            ids = list(reversed(account.activation_ids))
            items, meta = paginate(ids, page, limit, max_limit=50)
            return {"activations": [self._activations[i].to_json() for i in items], **meta}

    # --- prices and catalog -------------------------------------------------------------------------

    def get_price(self, api_key: str, *, service_id: Any, country_id: Any) -> dict[str, Any]:
        with self._tx():
            self._account(api_key)
            if service_id not in SERVICES_BY_ID or country_id not in COUNTRIES_BY_ID:
                raise not_found("Price not found")
            return self._prices.price(service_id, country_id).to_json()

    def prices_by_country(self, api_key: str, *, country_id: Any = None) -> list[dict[str, Any]]:
        with self._tx():
            self._account(api_key)
            return self._prices.by_country(country_id)

    def prices_by_service(self, api_key: str, *, service_id: Any = None) -> list[dict[str, Any]]:
        with self._tx():
            self._account(api_key)
            return self._prices.by_service(service_id)

    def countries(self, api_key: str) -> tuple[list[dict[str, Any]], str]:
        """The country list and its ETag."""
        self.authenticate(api_key)
        return catalog("countries")

    def services(self, api_key: str) -> tuple[list[dict[str, Any]], str]:
        self.authenticate(api_key)
        return catalog("services")

    def popular_services(self, api_key: str) -> tuple[list[dict[str, Any]], str]:
        self.authenticate(api_key)
        return catalog("popular_services")

    # --- balance --------------------------------------------------------------------------------------

    def balance(self, api_key: str) -> dict[str, int]:
        with self._tx():
            return self._account(api_key).balance_json()

    # --- reports --------------------------------------------------------------------------------------

    def report_reasons(self, api_key: str, activation_id: str) -> list[dict[str, Any]]:
        with self._tx():
            record = self._owned(api_key, activation_id)
            return reasons_json(offered_reasons(record, already_reported=activation_id in self._reports))

    def create_report(
        self, api_key: str, activation_id: str, *, reason_id: Any, message: Any = None, evidence: Any = None
    ) -> dict[str, Any]:
        """File the activation's one report; it goes to review (decided with `decide_report`)."""
        with self._tx():
            record = self._owned(api_key, activation_id)
            self._reports[activation_id] = new_report(
                record,
                already_reported=activation_id in self._reports,
                reason_id=reason_id,
                message=message,
                evidence=evidence,
                now=self.now(),
            )
            self._accounts[api_key].report_ids.append(activation_id)
            record.report_status = "inReview"
            self._touch(record)
            return {"status": "accepted", "decline_id": None}

    def get_report(self, api_key: str, activation_id: str) -> dict[str, Any]:
        with self._tx():
            record = self._owned(api_key, activation_id)
            report = self._reports.get(activation_id)
            if report is None:
                raise not_found("Report not found")
            return report.to_json(record)

    def list_reports(self, api_key: str, *, page: Any = 1, limit: Any = 10) -> dict[str, Any]:
        with self._tx():
            account = self._account(api_key)
            ids, meta = paginate(list(reversed(account.report_ids)), page, limit, max_limit=100)
            return {"reports": [self._reports[i].to_json(self._activations[i]) for i in ids], **meta}

    # --- control surface ------------------------------------------------------------------------------

    def deliver_sms(self, activation_id: str, *, code: str | None = None, text: str | None = None) -> dict[str, Any]:
        """An SMS arrives: smsRequested → smsReceived (billed on this first SMS), retryRequested → retryReceived.

        409 when the activation is not waiting for an SMS (ended, or received and no retry asked).
        """
        with self._tx() as events:
            record = self._activations.get(activation_id)
            if record is None:
                raise not_found()
            account = self._accounts[record.api_key]
            code = code if code is not None else f"{self._rng.randint(0, 999999):06d}"
            text = text if text is not None else f"Your verification code is {code}"
            lifecycle.receive_sms(record, account, code, text, self.now())
            self._check_low_balance(account, events)
            self._queue_event(events, "activation.updated", record.to_json(), record.activation_id)
            return record.to_json()

    def expire_activation(self, activation_id: str) -> dict[str, Any]:
        """Move `expire_at` to now and expire the activation (releasing an unbilled reservation)."""
        with self._tx():
            record = self._activations.get(activation_id)
            if record is None:
                raise not_found()
            if record.activation_status == "active":
                record.expire_at = self.now()
                lifecycle.end(record, self._accounts[record.api_key], "expired", self.now())
            return record.to_json()

    def decide_report(self, activation_id: str, *, approve: bool) -> dict[str, Any]:
        """Approve (refund a billed activation) or decline the activation's report under review."""
        with self._tx() as events:
            record = self._activations.get(activation_id)
            report = self._reports.get(activation_id)
            if record is None or report is None:
                raise not_found("Report not found")
            account = self._accounts[record.api_key]
            lifecycle.decide_report(record, account, approve=approve, now=self.now())
            report.updated_at = self.now()
            self._check_low_balance(account, events)
            self._queue_event(events, "activation_report.updated", record.to_json(), record.activation_id)
            return record.to_json()

    def set_balance(self, api_key: str, total: int) -> dict[str, int]:
        """Set an account's total balance (creating the account for a new key)."""
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise bad_request("total must be a non-negative integer (cents)")
        with self._tx() as events:
            account = self._accounts.get(api_key)
            if account is None:
                account = self._accounts[api_key] = Account(api_key, total, total)
            account.total = total
            self._check_low_balance(account, events)
            return account.balance_json()

    def set_price(
        self,
        service_id: str,
        country_id: str,
        *,
        min: int,
        max: int,
        suggested: int,
        count: int,
        quality_avg: float = 0.5,
    ) -> dict[str, Any]:
        """Override one pair's price and stock (e.g. count 0 for NoNumbersAvailable, a raise for max_price)."""
        with self._lock:
            info = self._prices.override(
                service_id, country_id, min=min, max=max, suggested=suggested, count=count, quality_avg=quality_avg
            )
            return info.to_json()

    def unblock(self, api_key: str) -> None:
        """Lift a success-rate block and start a fresh window, as the dashboard's unblock button does."""
        with self._lock:
            account = self._account(api_key)
            account.blocked_until = None
            account.success_window_start = self.now()

    def advance_clock(self, seconds: int) -> int:
        """Jump the emulator's time forward (expiries happen on the next access); returns the new now."""
        with self._tx():
            self._offset += int(seconds)
        return self.now()

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change run-time settings (names in `SETTINGS`); returns them all."""
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise bad_request(f"unknown settings: {', '.join(sorted(unknown))}")
        with self._lock:
            for name, value in settings.items():
                expected = bool if name in ("rate_limits", "success_rate_block") else int
                if not isinstance(value, expected) or (expected is int and (isinstance(value, bool) or value < 0)):
                    raise bad_request(f"{name} must be a {'boolean' if expected is bool else 'non-negative integer'}")
            for name, value in settings.items():
                setattr(self, name, value)
            return {name: getattr(self, name) for name in SETTINGS}

    def reset(self, api_keys: Mapping[str, int] | None = None) -> None:
        """Forget everything (activations, reports, counters, faults, clock offset); balances back to initial."""
        with self._lock:
            if api_keys is not None:
                self._initial_keys = dict(api_keys)
            self._reset_state()

    def activations(self, api_key: str | None = None) -> list[dict[str, Any]]:
        """Every activation (of one key, if given), oldest first."""
        with self._tx():
            return [r.to_json() for r in self._activations.values() if api_key in (None, r.api_key)]

    def api_key_of(self, activation_id: str) -> str | None:
        with self._lock:
            record = self._activations.get(activation_id)
            return record.api_key if record else None

    # --- webhooks -------------------------------------------------------------------------------------

    def _check_low_balance(self, account: Account, events: list[WebhookRecord]) -> None:
        if account.total < self.low_balance_threshold:
            if not account.low_balance_notified:
                account.low_balance_notified = True
                data = {"balance": account.total, "reserved": account.reserved}
                self._queue_event(events, "account.low_balance", data)
        else:
            account.low_balance_notified = False

    def _queue_event(
        self, events: list[WebhookRecord], kind: str, data: dict[str, Any], activation_id: str | None = None
    ) -> None:
        record = self._outbox.record(kind, data, activation_id)
        if record is not None:
            events.append(record)

    def redeliver(self, event_id: str) -> dict[str, Any]:
        """Send a recorded event again, same id (what a receiver's duplicate detection must absorb)."""
        return self._outbox.redeliver(event_id)

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every recorded event with its delivery attempts, last status and payload."""
        return self._outbox.deliveries()

    def close(self) -> None:
        """Stop the background webhook thread, if any."""
        self._outbox.close()
