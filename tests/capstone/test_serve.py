"""`make serve` as a person runs it: Ctrl-C, a plain `kill`, and a mock that is already running.

`python -m scripts.serve` (what `make serve` runs) starts the mock unless one answers on
MOCK_LLM_PORT, then the service in the foreground. Ctrl-C reaches the whole process group,
as a terminal sends it; `kill` reaches the wrapper alone, as a process manager sends it.
Either way the service drains, nothing prints a traceback, the exit is clean, and a mock the
wrapper started is stopped with it (never left holding the port), while a mock it found
running is left alone. Nothing is timed: every wait is for an event, with generous bounds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mock_llm.server import port_is_free, probe
from tests.mock_llm.mock_process import MockProcess

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.server, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def wait_for(condition, what: str, seconds: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def classify(port: int, text: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/classify",
        data=json.dumps({"text": text}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def serve(mock_port: int) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {**os.environ, "MOCK_LLM_PORT": str(mock_port), "CAPSTONE_PORT": str(port)}
    env.pop("CAPSTONE_LLM_BASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
    )
    wait_for(lambda: ready(port) or proc.poll() is not None, "the service did not become ready")
    assert proc.poll() is None, proc.communicate()[0]
    return proc, port


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_serve_stops_cleanly_and_takes_its_mock_with_it(how: str) -> None:
    mock_port = free_port()
    proc, port = serve(mock_port)
    try:
        answer = classify(port, "I love it, works great")
        assert answer["sentiment"] == "Positive" and answer["degraded"] is False, answer
        assert probe("127.0.0.1", mock_port) is not None, "make serve started the mock"
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C: the whole group
        else:
            proc.send_signal(signal.SIGTERM)  # `kill <pid>`: the wrapper alone
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert '"msg": "draining"' in out, "the service drained before it stopped"
    wait_for(lambda: port_is_free("127.0.0.1", mock_port), "the mock make serve started was left running", 30)
    wait_for(lambda: port_is_free("127.0.0.1", port), "the service was left running", 30)


def test_serve_uses_a_running_mock_and_leaves_it_running() -> None:
    mock = MockProcess("--latency", "0")
    try:
        proc, port = serve(mock.port)
        try:
            assert classify(port, "This is terrible, it broke")["sentiment"] == "Negative"
            os.killpg(proc.pid, signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 0 and "Traceback" not in out, out
        assert f"Using the mock LLM already running on http://127.0.0.1:{mock.port}/v1" in out
        assert probe("127.0.0.1", mock.port) is not None, "a mock it did not start is not its to stop"
    finally:
        mock.stop()
