"""Fault injection: make chosen upstream calls time out, fail, return garbage or get rate limited."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from platfone.emulator.errors import EmulatorError, bad_request

FAULT_KINDS = ("timeout", "error", "garbage", "ratelimit")
GARBAGE_VARIANTS = ("text", "json")


class SimulatedTimeout(Exception):
    """Raised by the WSGI app in in-process mode; the adapter turns it into `requests.exceptions.ReadTimeout`."""


@dataclass
class Fault:
    """One injected fault. `count` calls are affected (None = unlimited), each with `probability`."""

    id: int
    kind: str
    endpoint: str = "*"
    count: int | None = 1
    probability: float = 1.0
    seed: int = 0
    seconds: float = 30.0
    when: str = "before"
    status: int = 500
    error_name: str | None = None
    message: str = "Injected fault"
    variant: str = "text"
    retry_after: int = 60
    hits: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Seeded, so a fractional fault hits the same calls on every run; not used for security.
        self._rng = random.Random(self.seed)  # noqa: S311

    def matches(self, endpoint: str) -> bool:
        return self.endpoint in ("*", endpoint) and (self.count is None or self.count > 0)

    def roll(self) -> bool:
        return self.probability >= 1 or self._rng.random() < self.probability

    def error(self, now: int) -> EmulatorError:
        if self.kind == "ratelimit":
            return EmulatorError(
                429,
                self.error_name or "TooManyRequestsException",
                self.message,
                headers={"x-ratelimit-reset": str(now + self.retry_after)},
            )
        default_name = "InternalServerErrorException" if self.status >= 500 else "BadRequestException"
        return EmulatorError(self.status, self.error_name or default_name, self.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "endpoint": self.endpoint,
            "count": self.count,
            "probability": self.probability,
            "seed": self.seed,
            "seconds": self.seconds,
            "when": self.when,
            "status": self.status,
            "error_name": self.error_name,
            "message": self.message,
            "variant": self.variant,
            "retry_after": self.retry_after,
            "hits": self.hits,
        }


class FaultPlan:
    """The active faults, consulted in the order they were added; not thread-safe on its own."""

    def __init__(self, endpoints: frozenset[str]) -> None:
        self._endpoints = endpoints
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> Fault:
        """Validate a JSON-ish spec (see docs/platfone.md) and add the fault it describes."""
        spec = dict(spec)
        kind = spec.pop("kind", None)
        if kind not in FAULT_KINDS:
            raise bad_request(f"kind must be one of {', '.join(FAULT_KINDS)}")
        endpoint = spec.pop("endpoint", "*") or "*"
        if endpoint != "*" and endpoint not in self._endpoints:
            raise bad_request(f"unknown endpoint {endpoint!r}")
        probability = _number(spec.pop("probability", None), "probability", 0, 1)
        count = spec.pop("count", None)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise bad_request("count must be a positive integer")
        if count is None and probability is None:
            count = 1
        fault = Fault(
            id=self._next_id,
            kind=kind,
            endpoint=endpoint,
            count=count,
            probability=1.0 if probability is None else probability,
            seed=int(_number(spec.pop("seed", 0), "seed", -(2**31), 2**31) or 0),
            seconds=_number(spec.pop("seconds", 30.0), "seconds", 0, 3600) or 0.0,
            when=_choice(spec.pop("when", "before"), "when", ("before", "after")),
            status=int(_number(spec.pop("status", 500), "status", 400, 599) or 500),
            error_name=_optional_str(spec.pop("error_name", None), "error_name"),
            message=_optional_str(spec.pop("message", None), "message") or "Injected fault",
            variant=_choice(spec.pop("variant", "text"), "variant", GARBAGE_VARIANTS),
            retry_after=int(_number(spec.pop("retry_after", 60), "retry_after", 1, 86400) or 60),
        )
        if spec:
            raise bad_request(f"unknown fault fields: {', '.join(sorted(spec))}")
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        return [f.to_json() for f in self._faults]

    def pick(self, endpoint: str) -> Fault | None:
        """The fault to apply to this call, if any; spends one of its `count`."""
        for fault in self._faults:
            if fault.matches(endpoint) and fault.roll():
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                return fault
        return None


def _number(value: Any, name: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_request(f"{name} must be a number between {low} and {high}")
    return value


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise bad_request(f"{name} must be one of {', '.join(choices)}")
    return value


def _optional_str(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    return value
