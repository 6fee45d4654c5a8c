"""The mock inside the test process: the official SDK talks to it with no socket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import openai
from starlette.testclient import TestClient

from .app import create_app
from .settings import Settings

BASE_URL = "http://mock-llm.local/v1"


class TimedASGITransport(httpx2.ASGITransport):
    """An ASGI transport that honours the client's read timeout, as a socket would.

    httpx's ASGITransport ignores timeouts, so in process the SDK's ``timeout=`` would do
    nothing and a hung upstream would hang the test; here it raises ``ReadTimeout``, which
    the SDK turns into ``APITimeoutError`` exactly as over the network.
    """

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = (request.extensions.get("timeout") or {}).get("read")
        if timeout is None:
            return await super().handle_async_request(request)
        try:
            return await asyncio.wait_for(super().handle_async_request(request), timeout)
        except TimeoutError:
            raise httpx2.ReadTimeout(f"no answer within {timeout:g} s", request=request) from None


class InProcessMock:
    """One mock app and SDK clients wired to it through ASGI transports.

    >>> mock = InProcessMock(seed=1)
    >>> client = mock.async_client()          # openai.AsyncOpenAI
    >>> mock.ledger()["total"]["calls"]
    0
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        base = settings or Settings(latency=0.0)
        for key, value in overrides.items():
            setattr(base, key, value)
        self.settings = base
        self.app = create_app(base)
        self.state = self.app.state.mock

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` whose requests go straight into the app."""
        transport = TimedASGITransport(app=self.app, client=("127.0.0.1", 50000))
        kwargs.setdefault("api_key", "mock-key")
        kwargs.setdefault("max_retries", 0)
        return openai.AsyncOpenAI(base_url=BASE_URL, http_client=httpx2.AsyncClient(transport=transport), **kwargs)

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """A synchronous ``openai.OpenAI`` over Starlette's test transport."""
        kwargs.setdefault("api_key", "mock-key")
        kwargs.setdefault("max_retries", 0)
        http = TestClient(
            self.app, base_url="http://mock-llm.local", client=("127.0.0.1", 50000), raise_server_exceptions=True
        )
        return openai.OpenAI(base_url=BASE_URL, http_client=http, **kwargs)

    def http(self) -> httpx2.AsyncClient:
        """A raw async HTTP client on the app, for the wire-level view."""
        transport = httpx2.ASGITransport(app=self.app, client=("127.0.0.1", 50000))
        return httpx2.AsyncClient(transport=transport, base_url="http://mock-llm.local")

    def ledger(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = self.state.ledger.snapshot()
        return snapshot

    def reset_ledger(self) -> None:
        self.state.ledger.reset()

    def set_faults(
        self, rates: dict[str, float] | None = None, seed: int | None = None, script: list[str | None] | None = None
    ) -> None:
        """Server-wide fault rates, seed, and/or a script for the next requests (see FaultInjector)."""
        self.state.faults.configure(rates, seed, script)
