"""The `/_emulator/` control surface: JSON endpoints that drive the emulator from tests, demos and curl.

Unauthenticated on purpose: the emulator is a development tool and binds to 127.0.0.1 by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from platfone.emulator import delivery
from platfone.emulator.errors import EmulatorError, bad_request
from platfone.emulator.state import Emulator
from platfone.emulator.wsgi import query, read_json

Response = tuple[int, Any, dict[str, str]]


class ControlApi:
    """Routes `(method, path under /_emulator/)` to the emulator's control methods."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", "health", lambda body, q: {"ok": True, "now": emulator.now()}),
            ("POST", "reset", self._reset),
            ("GET", "activations", lambda body, q: emulator.activations(q.get("api_key") or None)),
            ("POST", "activations/{activation_id}/sms", self._sms),
            (
                "POST",
                "activations/{activation_id}/expire",
                lambda body, q, activation_id: emulator.expire_activation(activation_id),
            ),
            ("POST", "activations/{activation_id}/report", self._decide),
            ("POST", "balance", self._balance),
            ("POST", "prices", self._price),
            ("POST", "unblock", self._unblock),
            ("GET", "clock", lambda body, q: {"now": emulator.now()}),
            ("POST", "clock", self._clock),
            ("GET", "settings", lambda body, q: emulator.configure()),
            ("POST", "settings", lambda body, q: emulator.configure(**_object(body))),
            ("GET", "counters", self._counters),
            ("POST", "counters/reset", self._reset_counters),
            ("GET", "faults", lambda body, q: emulator.list_faults()),
            ("POST", "faults", lambda body, q: emulator.add_fault(**_object(body))),
            ("DELETE", "faults", self._clear_faults),
            ("POST", "faults/clear", self._clear_faults),
            ("GET", "webhooks", lambda body, q: emulator.webhook_deliveries()),
            ("POST", "webhooks/{event_id}/redeliver", lambda body, q, event_id: emulator.redeliver(event_id)),
        ]
        self._routes = [
            (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"), handler)
            for method, path, handler in routes
        ]

    def handle(self, method: str, subpath: str, environ: dict[str, Any]) -> Response:
        try:
            for route_method, pattern, handler in self._routes:
                match = pattern.match(subpath)
                if match and route_method == method:
                    body = read_json(environ) if method in ("POST", "PUT") else None
                    return 200, handler(body, query(environ), **match.groupdict()), {}
            raise EmulatorError(404, "NotFoundException", f"Cannot {method} /_emulator/{subpath}")
        except EmulatorError as error:
            return error.status, error.body(), dict(error.headers)

    def _reset(self, body: Any, q: dict[str, str]) -> dict[str, Any]:
        api_keys = _object(body).get("api_keys")
        if api_keys is not None and (
            not isinstance(api_keys, dict)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in api_keys.values())
        ):
            raise bad_request("api_keys must map API keys to balances in cents")
        self.emulator.reset(api_keys)
        return {"ok": True}

    def _sms(self, body: Any, q: dict[str, str], activation_id: str) -> dict[str, Any]:
        body = _object(body)
        code, text = body.get("code"), body.get("text")
        if (code is not None and not isinstance(code, str)) or (text is not None and not isinstance(text, str)):
            raise bad_request("code and text must be strings")
        return self.emulator.deliver_sms(activation_id, code=code, text=text)

    def _decide(self, body: Any, q: dict[str, str], activation_id: str) -> dict[str, Any]:
        decision = _object(body).get("decision")
        if decision not in ("approve", "decline"):
            raise bad_request('decision must be "approve" or "decline"')
        return self.emulator.decide_report(activation_id, approve=decision == "approve")

    def _balance(self, body: Any, q: dict[str, str]) -> dict[str, int]:
        body = _object(body)
        if not isinstance(body.get("api_key"), str) or not body["api_key"]:
            raise bad_request("api_key is required")
        return self.emulator.set_balance(body["api_key"], body.get("total"))

    def _price(self, body: Any, q: dict[str, str]) -> dict[str, Any]:
        body = dict(_object(body))
        try:
            service_id, country_id = body.pop("service_id"), body.pop("country_id")
            fields = {k: body.pop(k) for k in ("min", "max", "suggested", "count")}
        except KeyError as missing:
            raise bad_request(f"missing field {missing}") from None
        if "quality_avg" in body:
            fields["quality_avg"] = body.pop("quality_avg")
        if body:
            raise bad_request(f"unknown fields: {', '.join(sorted(body))}")
        return self.emulator.set_price(service_id, country_id, **fields)

    def _unblock(self, body: Any, q: dict[str, str]) -> dict[str, bool]:
        self.emulator.unblock(str(_object(body).get("api_key") or ""))
        return {"ok": True}

    def _clock(self, body: Any, q: dict[str, str]) -> dict[str, int]:
        advance = _object(body).get("advance")
        if isinstance(advance, bool) or not isinstance(advance, int) or advance < 0:
            raise bad_request("advance must be a non-negative integer (seconds)")
        return {"now": self.emulator.advance_clock(advance)}

    def _counters(self, body: Any, q: dict[str, str]) -> dict[str, Any]:
        counts = self.emulator.request_counts()
        acks = [round(seconds * 1000, 1) for seconds in delivery.ACK_SECONDS]
        return {"total": sum(counts.values()), "by_endpoint": counts, "webhook_ack_ms": acks}

    def _reset_counters(self, body: Any, q: dict[str, str]) -> dict[str, bool]:
        self.emulator.reset_counters()
        delivery.ACK_SECONDS.clear()
        return {"ok": True}

    def _clear_faults(self, body: Any, q: dict[str, str]) -> dict[str, bool]:
        self.emulator.clear_faults()
        return {"ok": True}


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body
