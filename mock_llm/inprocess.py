"""The mock inside the test process: the official SDK talks to it with no socket."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import httpx2
import openai

from .accounts import ApiKey
from .app import create_app
from .routes.control import faults_view, ledger_view
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
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation of the caller
        # that lands in the turn its inner call completes, so a caller's budget would not stop it.
        try:
            async with asyncio.timeout(timeout):
                return await super().handle_async_request(request)
        except TimeoutError:
            raise httpx2.ReadTimeout(f"no answer within {timeout:g} s", request=request) from None


_loop_lock = threading.Lock()
_loop_owner: tuple[int, asyncio.AbstractEventLoop] | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    """One event loop thread per process for the synchronous clients (a new one after fork)."""
    global _loop_owner
    with _loop_lock:
        if _loop_owner is None or _loop_owner[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="inprocess-mock-loop", daemon=True).start()
            _loop_owner = (os.getpid(), loop)
        return _loop_owner[1]


class SyncASGITransport(httpx2.BaseTransport):
    """A synchronous transport onto the app: each request runs on a background event loop.

    It goes through :class:`TimedASGITransport`, so the sync SDK client honours its timeout
    and sees cut connections exactly as the async one does.
    """

    def __init__(self, app: Any, client: tuple[str, int]) -> None:
        self._inner = TimedASGITransport(app=app, client=client)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()

        async def send() -> tuple[int, httpx2.Headers, bytes]:
            forwarded = httpx2.Request(
                request.method, request.url, headers=request.headers, content=body, extensions=request.extensions
            )
            response = await self._inner.handle_async_request(forwarded)
            return response.status_code, response.headers, await response.aread()

        status, headers, content = asyncio.run_coroutine_threadsafe(send(), _background_loop()).result()
        return httpx2.Response(status, headers=headers, content=content, request=request)


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
        """A synchronous ``openai.OpenAI`` whose requests go straight into the app."""
        kwargs.setdefault("api_key", "mock-key")
        kwargs.setdefault("max_retries", 0)
        http = httpx2.Client(transport=SyncASGITransport(self.app, client=("127.0.0.1", 50000)))
        return openai.OpenAI(base_url=BASE_URL, http_client=http, **kwargs)

    def http(self) -> httpx2.AsyncClient:
        """A raw async HTTP client on the app, for the wire-level view."""
        transport = httpx2.ASGITransport(app=self.app, client=("127.0.0.1", 50000))
        return httpx2.AsyncClient(transport=transport, base_url="http://mock-llm.local")

    def ledger(self, key: str | None = None) -> dict[str, Any]:
        """Calls, tokens and dollars: server-wide (with a per-key breakdown under ``keys``), or one API key's."""
        return ledger_view(self.state, None if key is None else ApiKey.of(key))

    def reset_ledger(self, key: str | None = None) -> None:
        """Empty every ledger, or only the one of API key ``key``."""
        if key is None:
            self.state.ledger.reset()
        else:
            self.state.accounts.reset_ledger(ApiKey.of(key))

    def set_faults(
        self,
        rates: dict[str, float] | None = None,
        seed: int | None = None,
        script: list[str | None] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """Fault rates, seed, and/or a script for the next requests (see FaultInjector).

        Server-wide, or with ``key`` for the requests carrying that API key only (the clients
        here send ``api_key``, ``"mock-key"`` unless told otherwise).
        """
        injector = self.state.faults if key is None else self.state.key_faults(ApiKey.of(key))
        injector.configure(rates, seed, script)

    def faults(self, key: str | None = None) -> dict[str, Any]:
        """Fault settings and the faults injected: server-wide, or one API key's."""
        return faults_view(self.state, None if key is None else ApiKey.of(key))
