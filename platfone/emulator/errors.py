"""Errors the emulator answers with, shaped like the upstream's `{"errorName", "errorMessage"}` bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EmulatorError(Exception):
    """An upstream error response: HTTP status, `errorName`, `errorMessage`, optional extra fields and headers."""

    def __init__(
        self,
        status: int,
        error_name: str,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error_name}: {message}")
        self.status = status
        self.error_name = error_name
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"errorName": self.error_name, "errorMessage": self.message, **self.extra}


def bad_request(message: str) -> EmulatorError:
    return EmulatorError(400, "BadRequestException", message)


def not_found(message: str = "Activation not found") -> EmulatorError:
    return EmulatorError(404, "NotFoundException", message)


def conflict(message: str) -> EmulatorError:
    """A state precondition failed (retry/cancel/finalize/report); the emulator's choice is 409."""
    return EmulatorError(409, "InvalidActivationStateException", message)


def rate_limited(error_name: str, message: str, reset_at: int) -> EmulatorError:
    return EmulatorError(429, error_name, message, headers={"x-ratelimit-reset": str(reset_at)})
