"""The emulator as a WSGI app: the upstream API under `/api/v1/`, the control surface under `/_emulator/`.

Upstream paths, methods, headers, status codes and JSON shapes follow the Platfone doc; errors are
`{"errorName", "errorMessage"}`. Every call to `/api/v1/` is counted per endpoint (before faults and auth),
so tests can assert how many upstream calls the platform made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from platfone.emulator.control import ControlApi
from platfone.emulator.errors import EmulatorError, bad_request
from platfone.emulator.faults import Fault, SimulatedTimeout
from platfone.emulator.state import Emulator
from platfone.emulator.wsgi import query, read_json, status_line

# Set in the WSGI environ by the in-process adapter: a timeout fault then raises instead of sleeping.
IN_PROCESS_KEY = "platfone.emulator.in_process"

Response = tuple[int, Any, dict[str, str]]
StartResponse = Callable[..., Any]

_ROUTE_TABLE = (
    # Fixed paths before parameterised ones: `activation/history` must not be read as an activation id.
    ("POST", "activation", "create_activation"),
    ("GET", "activation/history", "activation_history"),
    # The doc's curl example for history uses `/activations`; serve it too.
    ("GET", "activations", "activation_history"),
    ("GET", "activation/reports", "list_reports"),
    ("GET", "activation/countries", "countries"),
    ("GET", "activation/services", "services"),
    ("GET", "activation/services/popular", "popular_services"),
    ("GET", "activation/prices/countries", "prices_by_country"),
    ("GET", "activation/prices/services", "prices_by_service"),
    ("GET", "activation/prices/services/{service_id}/countries/{country_id}", "get_price"),
    ("GET", "user/balance", "balance"),
    ("GET", "activation/{activation_id}", "get_activation"),
    ("PUT", "activation/{activation_id}/retry", "retry_activation"),
    ("PUT", "activation/{activation_id}/cancel", "cancel_activation"),
    ("PUT", "activation/{activation_id}/finalize", "finalize_activation"),
    ("GET", "activation/{activation_id}/report/reasons", "report_reasons"),
    ("POST", "activation/{activation_id}/report", "create_report"),
    ("GET", "activation/{activation_id}/report", "get_report"),
)


def compile_routes(table: Iterable[tuple[str, str, str]]) -> list[tuple[str, re.Pattern[str], str]]:
    routes = []
    for method, template, name in table:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        routes.append((method, re.compile(f"^{pattern}$"), name))
    return routes


_ROUTES = compile_routes(_ROUTE_TABLE)
_GARBAGE_TEXT = b"<html><head><title>502 Bad Gateway</title></head><body>upstream hiccup</body></html>"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/").strip('"') for c in header.split(",")]
    return "*" in candidates or etag in candidates


class EmulatorApp:
    """WSGI callable serving one `Emulator`."""

    def __init__(self, emulator: Emulator, *, prefix: str = "/api/v1", control_prefix: str = "/_emulator") -> None:
        self.emulator = emulator
        self.prefix = prefix.rstrip("/")
        self.control_prefix = control_prefix.rstrip("/")
        self.control = ControlApi(emulator)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        if path == self.control_prefix or path.startswith(self.control_prefix + "/"):
            status, body, headers = self.control.handle(method, path[len(self.control_prefix) :].strip("/"), environ)
        elif path.startswith(self.prefix + "/"):
            status, body, headers = self._api(method, path[len(self.prefix) :].strip("/"), environ)
        else:
            status, body, headers = self._error(EmulatorError(404, "NotFoundException", f"Cannot {method} {path}"))
        return self._respond(start_response, status, body, headers)

    @staticmethod
    def _respond(start_response: StartResponse, status: int, body: Any, headers: dict[str, str]) -> list[bytes]:
        if isinstance(body, bytes):
            payload = body
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
        elif status == 304:
            payload = b""
        else:
            payload = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers["Content-Length"] = str(len(payload))
        start_response(status_line(status), list(headers.items()))
        return [payload]

    @staticmethod
    def _error(error: EmulatorError) -> Response:
        return error.status, error.body(), dict(error.headers)

    def _api(self, method: str, subpath: str, environ: dict[str, Any]) -> Response:
        endpoint, params = None, {}
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(subpath)
            if match and route_method == method:
                endpoint, params = name, match.groupdict()
                break
        self.emulator.count_request(endpoint or "unknown")
        if endpoint is None:
            return self._error(EmulatorError(404, "NotFoundException", f"Cannot {method} {self.prefix}/{subpath}"))
        if self.emulator.latency_ms:
            self.emulator.sleep(self.emulator.latency_ms / 1000)
        fault = self.emulator.pick_fault(endpoint)
        if fault is not None and not (fault.kind == "timeout" and fault.when == "after"):
            return self._fault(fault, environ)
        try:
            api_key = environ.get("HTTP_X_API_KEY") or ""
            self.emulator.authenticate(api_key)
            headers = self.emulator.check_rate(api_key, endpoint)
            status, body, extra = self._dispatch(endpoint, api_key, params, environ)
            response: Response = (status, body, {**headers, **extra})
        except EmulatorError as error:
            response = self._error(error)
        if fault is not None:
            self._stall(fault, environ)
        return response

    def _fault(self, fault: Fault, environ: dict[str, Any]) -> Response:
        if fault.kind == "timeout":
            self._stall(fault, environ)
            return self._error(EmulatorError(504, "GatewayTimeoutException", "Injected timeout"))
        if fault.kind == "garbage":
            if fault.variant == "json":
                return 200, {"unexpected": "shape", "data": None}, {}
            return 200, _GARBAGE_TEXT, {}
        return self._error(fault.error(self.emulator.now()))

    def _stall(self, fault: Fault, environ: dict[str, Any]) -> None:
        if environ.get(IN_PROCESS_KEY):
            raise SimulatedTimeout(f"injected timeout (fault {fault.id})")
        self.emulator.sleep(fault.seconds)

    def _dispatch(self, endpoint: str, api_key: str, params: dict[str, str], environ: dict[str, Any]) -> Response:
        em = self.emulator
        activation_id = params.get("activation_id", "")
        if endpoint in ("countries", "services", "popular_services"):
            items, etag = getattr(em, endpoint)(api_key)
            headers = {"x-etag": etag, "ETag": f'"{etag}"'}
            if _etag_matches(environ.get("HTTP_IF_NONE_MATCH"), etag):
                return 304, None, headers
            return 200, items, headers
        if endpoint in ("get_activation", "retry_activation", "cancel_activation", "finalize_activation"):
            return 200, getattr(em, endpoint)(api_key, activation_id), {}
        if endpoint in ("report_reasons", "get_report"):
            return 200, getattr(em, endpoint)(api_key, activation_id), {}
        if endpoint in ("activation_history", "list_reports"):
            q = query(environ)
            return 200, getattr(em, endpoint)(api_key, page=q.get("page"), limit=q.get("limit")), {}
        if endpoint == "balance":
            return 200, em.balance(api_key), {}
        if endpoint == "get_price":
            return 200, em.get_price(api_key, service_id=params["service_id"], country_id=params["country_id"]), {}
        if endpoint == "prices_by_country":
            return 200, em.prices_by_country(api_key, country_id=query(environ).get("country_id") or None), {}
        if endpoint == "prices_by_service":
            return 200, em.prices_by_service(api_key, service_id=query(environ).get("service_id") or None), {}
        body = read_json(environ)
        if not isinstance(body, dict):
            raise bad_request("Request body must be a JSON object")
        if endpoint == "create_activation":
            fields = ("service_id", "country_id", "max_price", "order_id", "quality_factor")
            return 200, em.create_activation(api_key, **{f: body.get(f) for f in fields}), {}
        report_fields = ("reason_id", "message", "evidence")
        return 200, em.create_report(api_key, activation_id, **{f: body.get(f) for f in report_fields}), {}
