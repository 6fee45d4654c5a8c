"""Does a client that goes away mid-request cost one log line, not a traceback?"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from mock_llm.server import probe

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, body: bytes, declared: int | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if declared is None else declared}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def test_disconnects_log_one_line_each() -> None:
    """A body cut short and a stream abandoned half-way: two warning lines, no traceback, the server serves on."""
    port = free_port()
    mock = subprocess.Popen(
        [sys.executable, "-m", "mock_llm", "--port", str(port)],  # realistic latency: the stream is paced
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while probe("127.0.0.1", port) is None:
            assert mock.poll() is None and time.monotonic() < deadline, "the mock did not start"
            time.sleep(0.1)

        with post(port, b'{"model": "gpt-4", "mess', declared=500):
            time.sleep(0.2)  # the server is now waiting for the rest of the body

        story = {"model": "gpt-4", "messages": [{"role": "user", "content": "Tell me a long story"}], "stream": True}
        with post(port, json.dumps(story).encode()) as sock:
            assert sock.recv(64).startswith(b"HTTP/1.1 200")  # streaming has begun
        time.sleep(1.5)  # a few token gaps: the stream notices and stops

        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0) as client:
            chunks = list(
                client.chat.completions.create(
                    model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True
                )
            )
        assert chunks[-1].choices[0].finish_reason == "stop"
    finally:
        mock.terminate()
        _, stderr = mock.communicate(timeout=15)

    lines = [line for line in stderr.splitlines() if "disconnected" in line]
    assert len(lines) == 2, stderr
    assert "before sending the whole request (POST /v1/chat/completions)" in lines[0]
    assert "during a streamed answer; stopped streaming (POST /v1/chat/completions)" in lines[1]
    assert all(line.startswith("WARNING:") and "127.0.0.1:" in line for line in lines)
    assert "Traceback" not in stderr and "Exception in ASGI application" not in stderr, stderr
