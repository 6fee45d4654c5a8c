"""Builds the mock's FastAPI application. Nothing runs at import time."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__
from .accounts import KeyScope
from .errors import OpenAIError, client_gone, install_handlers, request_id
from .responses import ConnectionCut
from .routes import chat, completions, control, embeddings, models
from .schemas import openapi_components
from .settings import Settings
from .state import MockState


class BodySizeLimit:
    """Refuses bodies over the limit with OpenAI's 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                # Count digits first: int() refuses more than 4,300, and a length with more
                # digits than the limit is over it anyway.
                digits = value.lstrip(b"0")
                if len(digits) > len(str(self.max_bytes)) or int(digits or b"0") > self.max_bytes:
                    await self._reject(send)
                    return
                # The server holds a body to its declared length: nothing to count.
                await self.app(scope, receive, send)
                return
        seen = 0
        too_large = False
        rejected = False

        async def limited() -> Message:
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                too_large = True
                raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # The framework turns a failed body read into its own 400; answer 413 instead.
            nonlocal rejected
            if not too_large:
                await send(message)
            elif not rejected:
                rejected = True
                await self._reject(send)

        try:
            await self.app(scope, limited, guarded_send)
        except _TooLarge:
            if not rejected:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        error = OpenAIError(
            413, f"Request body too large: the limit is {self.max_bytes} bytes.", code="request_too_large"
        )
        body = json.dumps(error.body()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class ModelRoutes:
    """Sends ``POST`` to the model endpoints straight to their handlers.

    The model endpoints are every load test's hot path. Past this point FastAPI would run
    its exception middleware, an exit stack and the router's match over every route:
    about 15 us of a request whose own work, for a prompt never seen before, is about 40
    (bench/mock_throughput.py). Errors get the answers the app's handlers give them; an
    unexpected exception still reaches the outer error middleware, which logs it and
    answers 500 in OpenAI's shape. Every other request goes on through FastAPI.
    """

    def __init__(self, app: ASGIApp, routes: dict[str, Callable[[Request], Awaitable[Response]]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except OpenAIError as exc:
            response = exc.response(request_id(request))
        except ClientDisconnect:
            response = client_gone(request)
        await response(scope, receive, send)


class HideInjectedCuts(logging.Filter):
    """Drops the server's error log for connections the `truncated` fault cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionCut)


BODY_ROUTES = (chat.route, completions.route, embeddings.route)


def _document_bodies(app: FastAPI) -> None:
    """Add the model endpoints and their request schemas to the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(openapi_components())
            for body_route in BODY_ROUTES:
                schema.setdefault("paths", {})[body_route.path] = {"post": body_route.operation()}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """A mock server application; each call has its own ledger, faults and limits."""
    settings = settings or Settings()
    app = FastAPI(
        # FastAPI's built-in OpenTelemetry hooks read the environment on every request;
        # a mock has nothing to trace, and the check costs ~10 us a request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="mock_llm",
        version=__version__,
        description="An OpenAI-compatible mock LLM for offline workshops: deterministic answers, "
        "prices, latency and fault injection.",
    )
    app.state.mock = MockState(settings, clock=clock)
    install_handlers(app)
    # The model endpoints go first, so the hot path matches on the first try; the other
    # routers' routes are copied in rather than include_router()'d, because FastAPI 0.16x
    # matches through each included router in turn, at a cost of ~15 us per router.
    app.router.routes[:0] = [body_route.route() for body_route in BODY_ROUTES]
    for router in (models.router, control.health_router, control.router):
        app.router.routes.extend(router.routes)
    app.add_middleware(ModelRoutes, routes={r.path: r.endpoint for r in BODY_ROUTES})  # innermost of ours
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # ledgers and faults per API key (mock_llm.accounts); the operator token is no key
    app.add_middleware(KeyScope, operator_token=settings.operator_token)
    _document_bodies(app)
    for name in ("uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideInjectedCuts) for f in logger.filters):
            logger.addFilter(HideInjectedCuts())
    return app
