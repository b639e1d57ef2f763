"""An offline emulator of the Platfone Activation API.

`Emulator` is the pure, thread-safe state machine; `EmulatorApp` serves it as WSGI under `/api/v1/` (plus the
`/_emulator/` control surface); `emulator_session` routes a `requests.Session` to it in-process; `RunningServer`
and `python -m platfone.emulator` / `manage.py platfone_emulator` serve it over real HTTP.
"""

from platfone.emulator.adapter import EmulatorAdapter, emulator_session
from platfone.emulator.errors import EmulatorError
from platfone.emulator.http import EmulatorApp
from platfone.emulator.server import RunningServer, make_emulator_server
from platfone.emulator.state import DEFAULT_API_KEY, DEFAULT_BALANCE, Emulator

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_BALANCE",
    "Emulator",
    "EmulatorAdapter",
    "EmulatorApp",
    "EmulatorError",
    "RunningServer",
    "emulator_session",
    "make_emulator_server",
]
