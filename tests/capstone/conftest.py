"""Fixtures for the capstone: a real Redis, the real mock over HTTP, and the service in process.

The service is driven in process (httpx's ASGI transport) for speed, while every model call
it makes goes through the real ``openai`` SDK, over loopback, to the real mock server (the
session's ``server`` fixture from tests/conftest.py), whose ledger is the independent
record of what was called and billed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from mock_llm.server import BackgroundServer
from solutions.capstone.app import create_app
from solutions.capstone.settings import Settings

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> bytes:
        """One command over a raw socket (RESP), independent of the client the service uses."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(payload.encode())
            return sock.recv(65536)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, no persistence, for the session."""
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed (apt-get install redis-server): the Redis tests need a real one")
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(proc, port)
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError):
            if server.command("PING").startswith(b"+PONG"):
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip(f"redis-server did not start on port {port}")
        time.sleep(0.05)
    yield server
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.command("FLUSHALL")
    return redis_server.url


class MockControl:
    """The mock's operator endpoints: ledger, faults and latency."""

    def __init__(self, server: BackgroundServer) -> None:
        self.server = server
        self.root = server.base_url.removesuffix("/v1")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    def ledger(self) -> dict[str, Any]:
        return self._call("GET", "/_mock/ledger")

    def calls(self, model: str | None = None) -> int:
        ledger = self.ledger()
        if model is None:
            return int(ledger["total"]["calls"])
        return int(ledger["models"].get(model, {}).get("calls", 0))

    def cost(self) -> float:
        return float(self.ledger()["total"]["cost_usd"])

    def faults(self, rates: dict[str, float], seed: int = 0) -> None:
        self._call("PUT", "/_mock/faults", {"rates": rates, "seed": seed})

    def injected(self) -> int:
        """Faults the mock has injected so far (every kind)."""
        return sum(int(n) for n in self._call("GET", "/_mock/faults")["injected"].values())

    def latency(self, scale: float) -> None:
        self._call("PUT", "/_mock/config", {"latency": scale})


@pytest.fixture
def mock(live: BackgroundServer) -> Iterator[MockControl]:
    """The session's real mock, its ledger and faults reset, latency off unless a test sets it."""
    control = MockControl(live)
    control.latency(0.0)
    yield control
    control.latency(0.0)


def settings_for(mock: MockControl, **overrides: Any) -> Settings:
    """Settings for the mock, with deadlines no busy machine reaches: no verdict depends on speed."""
    return Settings(
        llm_base_url=mock.server.base_url,
        **{"deadline_seconds": 60.0, "call_timeout_seconds": 30.0, "redis_timeout_seconds": 10.0, **overrides},
    )


@contextlib.asynccontextmanager
async def service_client(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    """The service in process, ready, and closed afterwards."""
    app = create_app(settings)
    service = app.state.service
    service.ready = True
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://capstone") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
    finally:
        await service.close()
