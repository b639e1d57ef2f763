"""An in-process `requests` transport to the emulator: no server, no sockets, same HTTP semantics.

session = emulator_session(emulator)            # mounts http://platfone.test
client = PlatfoneClient(base_url="http://platfone.test/api/v1", api_key="emulator-key", session=session, ...)
"""

from __future__ import annotations

import io
import sys
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from platfone.emulator.faults import SimulatedTimeout
from platfone.emulator.http import IN_PROCESS_KEY, EmulatorApp
from platfone.emulator.state import Emulator

DEFAULT_BASE = "http://platfone.test"


class EmulatorAdapter(BaseAdapter):
    """Routes prepared requests through the emulator's WSGI app; timeout faults raise `ReadTimeout`."""

    def __init__(self, emulator: Emulator | EmulatorApp) -> None:
        super().__init__()
        self.app = emulator if isinstance(emulator, EmulatorApp) else EmulatorApp(emulator)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        environ = {
            "REQUEST_METHOD": (request.method or "GET").upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(url.path or "/"),
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "platfone.test",
            "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            IN_PROCESS_KEY: True,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[f"HTTP_{key}"] = value

        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        try:
            chunks = self.app(environ, start_response)
        except SimulatedTimeout as exc:
            raise requests.exceptions.ReadTimeout(str(exc), request=request) from None

        response = requests.Response()
        code, _, reason = captured["status"].partition(" ")
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(captured["headers"])
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(b"".join(chunks))
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]  # the stubs say HTTPAdapter; requests takes any
        return response

    def close(self) -> None:
        """Nothing to release: there is no connection."""


def emulator_session(emulator: Emulator | EmulatorApp, base: str = DEFAULT_BASE) -> requests.Session:
    """A `requests.Session` whose calls to `base` go to the emulator in-process."""
    session = requests.Session()
    session.mount(base, EmulatorAdapter(emulator))
    return session
