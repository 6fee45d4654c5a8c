"""Graceful shutdown, as Kubernetes does it: SIGTERM while a request is in flight.

The service runs as `python -m solutions.capstone` in its own process, the mock as
`python -m mock_llm` with its latency on, so a paid request is still in flight when the
signal arrives. Nothing is timed: the test waits for events, with generous bounds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest

from tests.mock_llm.mock_process import MockProcess

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.server
def test_sigterm_finishes_the_request_in_flight() -> None:
    """Does SIGTERM stop the service only after the request in flight is answered, with a clean exit?"""
    mock = MockProcess("--latency", "4")  # a paid answer takes a few seconds
    port = free_port()
    env = {
        **os.environ,
        "CAPSTONE_PORT": str(port),
        "CAPSTONE_LLM_BASE_URL": mock.base_url,
        "CAPSTONE_DEADLINE_SECONDS": "30",
        "CAPSTONE_CALL_TIMEOUT_SECONDS": "25",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "solutions.capstone"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx2.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.1)
        result: dict[str, httpx2.Response] = {}
        worker = threading.Thread(
            target=lambda: result.setdefault(
                "r", httpx2.post(url + "/classify", json={"text": "Ticket 1, meh"}, timeout=60)
            )
        )
        worker.start()
        while True:  # wait until the request has reached the mock: then it is in flight
            ledger = httpx2.get(mock.base_url.removesuffix("/v1") + "/_mock/ledger", timeout=5).json()
            requests = httpx2.get(url + "/metrics", timeout=5).text
            if "capstone_in_flight_requests 2.0" in requests or ledger["total"]["calls"] > 0:
                break
            assert worker.is_alive() and time.monotonic() < deadline, "the request never got in flight"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        worker.join(timeout=60)
        code = proc.wait(timeout=60)
        log = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        mock.stop()
    response = result["r"]
    assert response.status_code == 200 and response.json()["degraded"] is False, response.text
    assert response.json()["tier"] in ("cheap", "strong")
    # uvicorn re-raises the signal once it has shut down, so the exit is "terminated by SIGTERM"
    # (what Kubernetes expects), after the lifespan's clean-up has logged "stopped".
    assert code in (0, -signal.SIGTERM)
    messages = [json.loads(line)["msg"] for line in log.splitlines() if line.startswith("{")]
    assert "draining" in messages and "stopped" in messages
    assert messages.index("draining") < messages.index("stopped")
