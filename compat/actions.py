"""The handler's actions: each parses its parameters, calls one service or selector, and renders the answer.

Services raise domain errors; they leave through ``compat.protocol.PROTOCOL_ERRORS`` in ``compat.views``. What
the protocol checks before any service is called (a code we do not know, an id that is not the caller's, a
status that does not exist) is a ``ProtocolError`` raised here, having changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from accounts.models import Tenant, User
from activations import selectors as activation_selectors
from activations import services as activation_services
from activations.models import Activation
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.errors import NoNumbers, UnknownServiceOrCountry
from compat import selectors
from compat.protocol import CURRENCY_USD, Answer, ProtocolError, dollars, dollars_number, protocol_time
from platfone.types import ENDED, ActivationStatus, SmsStatus
from wallet import selectors as wallet_selectors

# The protocol orders in Russia (0) when no country is given.
DEFAULT_COUNTRY_CODE = "0"
# orderId becomes the order's idempotency key, in a namespace of its own (the JSON API's Idempotency-Key
# shares the column): the same orderId again is ORDER_ALREADY_EXISTS, never a second number.
ORDER_ID_PREFIX = "orderId:"
ORDER_ID_MAX_LENGTH = 100 - len(ORDER_ID_PREFIX)
# maxPrice above this many cents is as good as no limit (and keeps absurd input out of the database).
MAX_PRICE_CAP_CENTS = 10_000_000
ACTIVATION_OPERATOR = "any"  # the protocol's operator field: we do not choose operators


@dataclass
class Call:
    """One authenticated call of the handler: who calls, with which parameters."""

    user: User
    tenant: Tenant
    params: Mapping[str, str]

    @property
    def actor(self) -> str:
        return f"user:{self.user.pk} via sms-activate"

    @cached_property
    def codes(self) -> selectors.CodeTable:
        return selectors.code_table(tenant=self.tenant)

    def param(self, name: str) -> str:
        return (self.params.get(name) or "").strip()


# --- parameters ---------------------------------------------------------------------------------------


def _service(call: Call) -> tuple[str, str] | None:
    """(code, our service_id) of the ``service`` parameter, None when absent; BAD_SERVICE for a code this
    storefront does not map."""
    code = call.param("service").lower()
    if not code:
        return None
    service_id = call.codes.service_id(code)
    if service_id is None:
        raise ProtocolError("BAD_SERVICE")
    return code, service_id


def _country(call: Call) -> tuple[str, str] | None:
    """(code, our country_id) of the ``country`` parameter, None when absent; BAD_COUNTRY when unknown."""
    raw = call.param("country")
    if not raw:
        return None
    code = str(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else raw  # "016" is 16
    country_id = call.codes.country_id(code)
    if country_id is None:
        raise ProtocolError("BAD_COUNTRY")
    return code, country_id


def _activation(call: Call) -> Activation:
    """The caller's own activation named by ``id``; NO_ACTIVATION for anything else (another user's or tenant's
    activation, an unknown or malformed id) — the same answer, so nothing leaks."""
    activation = activation_selectors.activation_get_for_user(user=call.user, activation_id=call.param("id"))
    if activation is None:
        raise ProtocolError("NO_ACTIVATION")
    return activation


def _max_price_cents(raw: str) -> int | None:
    """``maxPrice`` (dollars) as sell cents, rounded down (never above what the caller allows). None when absent;
    0 when it is not a positive amount, which the order answers WRONG_MAX_PRICE:<the price>."""
    if not raw:
        return None
    try:
        value = Decimal(raw) if len(raw) <= 32 else Decimal(0)
    except InvalidOperation:
        return 0
    if not value.is_finite() or value <= 0:
        return 0
    if value >= Decimal(MAX_PRICE_CAP_CENTS) / 100:  # before any arithmetic: "1e999999" would overflow
        return MAX_PRICE_CAP_CENTS
    return int((value * 100).to_integral_value(rounding=ROUND_FLOOR))


def _order_key(call: Call) -> str | None:
    order_id = call.param("orderId")
    if not order_id:
        return None
    if len(order_id) > ORDER_ID_MAX_LENGTH or not order_id.isprintable() or not order_id.isascii():
        raise ProtocolError("BAD_DATA")
    return ORDER_ID_PREFIX + order_id


# --- rendering ----------------------------------------------------------------------------------------


def _digits(activation: Activation) -> str:
    return activation.phone.lstrip("+")


def _code(activation: Activation) -> str:
    return activation.sms_code or activation.sms_text or ""


def _canceled(activation: Activation) -> bool:
    """Canceled, refunded, or ended without its SMS: for the protocol, all of these are STATUS_CANCEL."""
    if activation.activation_status == ActivationStatus.CANCELED:
        return True
    if activation.billing_status == Activation.BillingStatus.REFUNDED:
        return True
    return not activation.sms_received and (activation.activation_status in ENDED or activation.expired)


def _sms_time(activation: Activation) -> datetime | None:
    if activation.sms_status == SmsStatus.RETRY_RECEIVED and activation.upstream_updated_at:
        return datetime.fromtimestamp(activation.upstream_updated_at, tz=UTC)
    return activation.sms_received_at


def _status_text(activation: Activation) -> str:
    if _canceled(activation):
        return "STATUS_CANCEL"
    if activation.sms_received:
        if activation.sms_status == SmsStatus.RETRY_REQUESTED:
            return f"STATUS_WAIT_RETRY:{_code(activation)}"
        return f"STATUS_OK:{_code(activation)}"
    return "STATUS_WAIT_CODE"


# getActiveActivations' activationStatus, as the setStatus numbers that lead there: 1 (the number is ready,
# waiting for the SMS), 3 (another SMS was asked for) and 4 (an SMS is there, as in the protocol's example).
def _activation_status_number(activation: Activation) -> str:
    if activation.sms_status == SmsStatus.RETRY_REQUESTED:
        return "3"
    return "4" if activation.sms_received else "1"


# --- actions ------------------------------------------------------------------------------------------


def get_balance(call: Call) -> Answer:
    """What the caller can spend now: the balance less the money held for pending orders."""
    summary = wallet_selectors.wallet_summary(user=call.user)
    return Answer(f"ACCESS_BALANCE:{dollars(summary.available_cents)}")


def _order(call: Call, *, idempotency_key: str | None) -> tuple[Activation, str]:
    service = _service(call)
    if service is None:
        raise ProtocolError("BAD_SERVICE")
    country = _country(call)
    if country is None:
        country_id = call.codes.country_id(DEFAULT_COUNTRY_CODE)
        if country_id is None:
            raise ProtocolError("BAD_COUNTRY")
        country = (DEFAULT_COUNTRY_CODE, country_id)
    country_code, country_id = country
    max_price_cents = _max_price_cents(call.param("maxPrice"))
    if idempotency_key and activation_selectors.activation_for_idempotency_key(
        user=call.user, idempotency_key=idempotency_key
    ):
        raise ProtocolError("ORDER_ALREADY_EXISTS")
    activation = activation_services.activation_create(
        user=call.user,
        service_id=service[1],
        country_id=country_id,
        max_price_cents=max_price_cents,
        idempotency_key=idempotency_key,
    )
    return activation, country_code


def get_number(call: Call) -> Answer:
    activation, _ = _order(call, idempotency_key=None)
    return Answer(f"ACCESS_NUMBER:{activation.pk}:{_digits(activation)}")


def get_number_v2(call: Call) -> Answer:
    activation, country_code = _order(call, idempotency_key=_order_key(call))
    return Answer(
        {
            "activationId": activation.pk,
            "phoneNumber": _digits(activation),
            "activationCost": dollars_number(activation.sell_price_cents),
            "currency": CURRENCY_USD,
            "countryCode": country_code,
            "canGetAnotherSms": bool(activation.is_retriable),
            "activationTime": protocol_time(activation.created_at),
            "activationEndTime": protocol_time(activation.expire_at),
            "activationOperator": ACTIVATION_OPERATOR,
        }
    )


def get_status(call: Call) -> Answer:
    """Settles exactly like the JSON API's poll (``activation_refresh``): charged once when the SMS is there."""
    activation = activation_services.activation_refresh(activation=_activation(call), actor=call.actor)
    return Answer(_status_text(activation))


def get_status_v2(call: Call) -> Answer:
    activation = activation_services.activation_refresh(activation=_activation(call), actor=call.actor)
    if _canceled(activation):
        return Answer("STATUS_CANCEL")
    sms = None
    # While another SMS is awaited, the last one is not shown again as if it were new (getStatus says
    # STATUS_WAIT_RETRY:<last code>).
    if activation.sms_received and activation.sms_status != SmsStatus.RETRY_REQUESTED:
        sms = {
            "dateTime": protocol_time(_sms_time(activation)),
            "code": activation.sms_code or "",
            "text": activation.sms_text or activation.sms_code or "",
        }
    return Answer({"verificationType": 0, "sms": sms, "call": None})


# setStatus: the protocol's status -> (the service that carries it out, if any; the answer).
SET_STATUS: dict[str, tuple[Callable[..., Activation] | None, str]] = {
    "1": (None, "ACCESS_READY"),  # "the SMS was sent to the number": nothing for us to do
    "3": (activation_services.activation_retry, "ACCESS_RETRY_GET"),
    "6": (activation_services.activation_finalize, "ACCESS_ACTIVATION"),
    "8": (activation_services.activation_cancel, "ACCESS_CANCEL"),
}


def set_status(call: Call) -> Answer:
    activation = _activation(call)
    entry = SET_STATUS.get(call.param("status"))
    if entry is None:
        raise ProtocolError("BAD_STATUS")
    service, answer = entry
    if service is not None:
        service(activation=activation, actor=call.actor)
    return Answer(answer)


def get_active_activations(call: Call) -> Answer:
    """The caller's activations still running, as last synced (no upstream call: webhooks and the background
    sync keep them fresh, and getStatus reads one on demand)."""
    activations = activation_selectors.activations_open_for_user(user=call.user)
    if not activations:
        return Answer("NO_ACTIVATIONS")
    countries = {c.country_id: c.name for c in catalog_selectors.countries_available(tenant=call.tenant)}
    items = []
    for activation in activations:
        code = activation.sms_code if activation.sms_received else None
        text = activation.sms_text if activation.sms_received else None
        items.append(
            {
                "activationId": str(activation.pk),
                "serviceCode": call.codes.service_code(activation.service_id) or activation.service_id,
                "phoneNumber": _digits(activation),
                "activationCost": dollars_number(activation.sell_price_cents),
                "activationStatus": _activation_status_number(activation),
                "smsCode": [code] if code else None,
                "smsText": [text] if text else None,
                "activationTime": protocol_time(activation.created_at),
                "discount": "0.00",
                "repeated": "0",
                "countryCode": call.codes.country_code(activation.country_id) or "",
                "countryName": countries.get(activation.country_id, activation.country_id),
                "canGetAnotherSms": "1" if activation.is_retriable else "0",
            }
        )
    return Answer({"status": "success", "activeActivations": items})


def get_prices(call: Call) -> Answer:
    """``{country code: {service code: {"cost": dollars, "count": n}}}`` at our sell prices.

    One pair is the same cached quote an order of it uses (``price_quote``); anything wider comes from the
    upstream's bulk price lists (``price_list``), never from one upstream price call per pair.
    """
    service = _service(call)
    country = _country(call)
    if service is not None and country is not None:
        try:
            quote = catalog_services.price_quote(
                tenant=call.tenant, service_id=service[1], country_id=country[1], spender=f"user:{call.user.pk}"
            )
        except (NoNumbers, UnknownServiceOrCountry):
            return Answer({})  # a list of what is on sale: a pair without stock is simply absent
        return Answer(
            {country[0]: {service[0]: {"cost": dollars_number(quote.sell_price_cents), "count": quote.count}}}
        )
    listing = catalog_services.price_list(
        tenant=call.tenant,
        service_id=service[1] if service else None,
        country_id=country[1] if country else None,
        spender=f"user:{call.user.pk}",
    )
    prices: dict[str, dict[str, Any]] = {}
    for item in listing.prices:
        service_code = service[0] if service else call.codes.service_code(item.service_id)
        country_code = country[0] if country else call.codes.country_code(item.country_id)
        if service_code is None or country_code is None:
            continue  # our catalog sells it, but the protocol has no code for it here
        prices.setdefault(country_code, {})[service_code] = {
            "cost": dollars_number(item.sell_price_cents),
            "count": item.count,
        }
    return Answer(dict(sorted(prices.items(), key=lambda entry: int(entry[0]))))


def get_countries(call: Call) -> Answer:
    """Every country code that names a country this storefront sells, in the protocol's shape (names in English)."""
    countries = {c.country_id: c.name for c in catalog_selectors.countries_available(tenant=call.tenant)}
    listed = {}
    for code, country_id in sorted(call.codes.countries.items(), key=lambda entry: int(entry[0])):
        name = countries.get(country_id)
        if name is None:
            continue
        listed[code] = {
            "id": int(code),
            "rus": name,
            "eng": name,
            "chn": name,
            "visible": 1,
            "retry": 1,
            "rent": 0,
            "multiService": 0,
        }
    return Answer(listed)


def get_services_list(call: Call) -> Answer:
    """Every service code that names a service this storefront sells (``country`` and ``lang`` are not used)."""
    services = {s.service_id: s.name for s in catalog_selectors.services_available(tenant=call.tenant)}
    listed = [
        {"code": code, "name": services[service_id]}
        for code, service_id in call.codes.services.items()
        if service_id in services
    ]
    listed.sort(key=lambda item: (item["name"].lower(), item["code"]))
    return Answer({"status": "success", "services": listed})


ACTIONS: dict[str, Callable[[Call], Answer]] = {
    "getBalance": get_balance,
    "getNumber": get_number,
    "getNumberV2": get_number_v2,
    "getStatus": get_status,
    "getStatusV2": get_status_v2,
    "setStatus": set_status,
    "getActiveActivations": get_active_activations,
    "getPrices": get_prices,
    "getCountries": get_countries,
    "getServicesList": get_services_list,
}
