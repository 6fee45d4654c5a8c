"""Do the three ways of running the mock work, and fail clearly when the port is taken?"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

import mock_llm
from mock_llm.connect import openai_client
from mock_llm.server import BackgroundServer, probe

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ensure_server_reuses_a_running_server(live: BackgroundServer) -> None:
    """Pointed at a port where a mock answers, it returns that URL and starts nothing."""
    assert mock_llm.ensure_server(port=live.port) == live.base_url


def test_ensure_server_starts_one_and_then_reuses_it() -> None:
    port = free_port()
    url = mock_llm.ensure_server(port=port, latency=0.0)
    try:
        assert url == f"http://127.0.0.1:{port}/v1"
        assert mock_llm.ensure_server(port=port) == url
        with openai.OpenAI(base_url=url, api_key="k") as client:
            assert client.models.list().data
    finally:
        mock_llm.stop_servers()
    assert probe("127.0.0.1", port) is None


def test_ensure_server_refuses_a_port_held_by_something_else() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(RuntimeError, match="already in use by another program"):
            mock_llm.ensure_server(port=port)


def test_cli_reports_a_taken_port_without_a_traceback() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mock_llm", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert done.returncode == 2
    assert "already in use" in done.stderr and f"MOCK_LLM_PORT={port + 1}" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_rejects_bad_flags_clearly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_llm", "--fault", "gremlins=0.5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2 and "gremlins" in done.stderr and "Traceback" not in done.stderr


def test_cli_serves_with_env_settings() -> None:
    """`python -m mock_llm` as `make mock` runs it: env sets port and seed; it answers and stops on SIGTERM."""
    port = free_port()
    env = {**os.environ, "MOCK_LLM_PORT": str(port), "MOCK_LLM_SEED": "5", "MOCK_LLM_LATENCY": "off"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_llm"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while (health := probe("127.0.0.1", port)) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert health["seed"] == 5 and health["latency"] == 0
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert "listening on" in out
    assert "Traceback" not in err


def test_openai_client_switches_on_openai_base_url(monkeypatch: pytest.MonkeyPatch, live: BackgroundServer) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", live.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = openai_client()
    assert str(client.base_url).rstrip("/") == live.base_url
    assert isinstance(client, openai.OpenAI)
    assert client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}]).choices
    client.close()
