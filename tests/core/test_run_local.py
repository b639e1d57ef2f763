"""``make run`` (scripts/run_local.py) fails loudly: a busy port is a one-line error before anything starts, and a
child that dies makes it exit non-zero with the last lines of that child's log (never a false "Platform running")."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_local.py"


def run_script(**env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HOST": "127.0.0.1", **env}
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(SCRIPT)], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def free_port_pair() -> int:
    """A port p with p, p + 1 and p + 2 free at the moment of asking (web, emulator, second emulator)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 2 >= 65536:
            continue
        try:
            for candidate in (port, port + 1, port + 2):
                with socket.socket() as check:
                    check.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise AssertionError("no three consecutive free ports")


@pytest.mark.parametrize("which", ["PORT", "EMULATOR_PORT", "second emulator"])
def test_a_busy_port_is_a_one_line_error_naming_it_and_the_variables(which):
    # given something already listening on one of the ports make run needs
    base = free_port_pair()
    with listening_socket() as busy:
        taken = busy.getsockname()[1]
        if which == "PORT":
            env = {"PORT": str(taken), "EMULATOR_PORT": str(base)}
        elif which == "EMULATOR_PORT":
            env = {"PORT": str(base), "EMULATOR_PORT": str(taken)}
        else:
            env = {"PORT": str(base), "EMULATOR_PORT": str(taken - 1)}
        # when
        result = run_script(**env)
    # then it stops before starting anything, in one line naming the port and both variables
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Port {taken} " in lines[0] and "already in use" in lines[0]
    assert "PORT" in lines[0] and "EMULATOR_PORT" in lines[0]
    assert "Platform running" not in result.stdout and "Demo API key" not in result.stdout


@pytest.fixture
def run_local(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("run_local_under_test", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "LOG_DIR", tmp_path)
    yield module
    module.terminate_children()


def test_a_child_that_dies_exits_non_zero_with_the_last_lines_of_its_log(run_local, tmp_path, capsys):
    # given a supervised child that prints 30 lines and dies, next to one that keeps running
    lines = "; ".join(f"print('line {n}')" for n in range(30))
    dying = run_local.start("emulator", [sys.executable, "-c", f"{lines}; raise SystemExit(3)"])
    survivor = run_local.start("web", [sys.executable, "-c", "import time; time.sleep(60)"])
    dying.wait(timeout=30)
    # when the supervisor looks
    with pytest.raises(SystemExit) as exited:
        run_local.fail_if_a_child_died()
    # then a non-zero exit, the last lines of the dead child's log, and the other child stopped
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "exited with 3; stopping" in err and "emulator.log" in err
    assert "line 29" in err and "line 10" in err and "line 9\n" not in err
    assert survivor.poll() is not None


def test_waiting_for_a_server_stops_at_once_when_its_process_died(run_local):
    # given a child that dies before it ever serves
    dying = run_local.start("web", [sys.executable, "-c", "print('Error: That port is already in use.'); exit(1)"])
    dying.wait(timeout=30)
    # when make run waits for it, then it does not wait 30 s nor claim success: it fails with the cause
    with pytest.raises(SystemExit) as exited:
        run_local.wait_for("http://127.0.0.1:9/never", seconds=30)
    assert exited.value.code == 1


def test_nothing_is_listening_means_no_busy_port(run_local, monkeypatch):
    base = free_port_pair()
    monkeypatch.setattr(run_local, "PORT", base)
    monkeypatch.setattr(run_local, "EMULATOR_PORT", base + 1)
    monkeypatch.setattr(run_local, "SECOND_EMULATOR_PORT", base + 2)
    assert run_local.busy_port() is None
