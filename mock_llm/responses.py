"""Response bodies on the wire: JSON, server-sent events, and the faults that mangle them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping

import httpx2
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .errors import log_client_gone
from .faults import Fault

JSON_TYPE = "application/json"
_MALFORMED_TAIL = b"<html><body>502 Bad Gateway</body></html>"


class ConnectionCut(httpx2.RemoteProtocolError):
    """Raised to drop the connection part-way through a body (the `truncated` fault).

    Under uvicorn the half-sent response is abandoned and the socket closed, so the client
    sees a body shorter than promised; the server's log filter hides this expected error.
    In process (ASGI transport) the exception reaches the client as the transport error
    it stands for, which the SDK turns into ``APIConnectionError`` as it would the real one.
    """


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(obj: object) -> bytes:
    return _ENCODER.encode(obj).encode()


def _raw_headers(headers: Mapping[str, str], content_type: str, length: int | None) -> list[tuple[bytes, bytes]]:
    raw = [(b"content-type", content_type.encode())]
    if length is not None:
        raw.append((b"content-length", str(length).encode()))
    raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    return raw


class CutResponse(Response):
    """Promises the whole body, sends the first half, then drops the connection."""

    def __init__(self, body: bytes, headers: Mapping[str, str]) -> None:
        self.status_code = 200
        self.full = body
        self.extra = dict(headers)
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _raw_headers(self.extra, JSON_TYPE, len(self.full)),
            }
        )
        await send({"type": "http.response.body", "body": self.full[: len(self.full) // 2], "more_body": True})
        raise ConnectionCut("truncated body (injected fault)")


class JSONBytes(Response):
    """A 200 with a ready JSON body; skips Starlette's per-response header parsing."""

    def __init__(self, body: bytes, headers: Mapping[str, str]) -> None:
        self.status_code = 200
        self.body = body
        self.raw = _raw_headers(headers, JSON_TYPE, len(body))
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw})
        await send({"type": "http.response.body", "body": self.body})


def json_response(body: object, headers: Mapping[str, str], fault: Fault | None) -> Response:
    """A 200 JSON answer (``body`` may be pre-serialised bytes), mangled as the fault says."""
    data = body if isinstance(body, bytes) else dumps(body)
    if fault is not None:
        if fault.kind == "malformed_json":
            data = data[: len(data) // 2] + _MALFORMED_TAIL
        elif fault.kind == "truncated":
            return CutResponse(data, headers)
    return JSONBytes(data, headers)


def sse(obj: object) -> bytes:
    return b"data: " + dumps(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


class EventStream(Response):
    """A ``text/event-stream`` response fed by an async iterator of ready-made events.

    Written as a bare ASGI callable rather than Starlette's StreamingResponse: it
    needs no task group per stream, which keeps a thousand streams a second cheap.
    It stops, with one log line, when the client goes away: the server would otherwise
    keep generating (and pacing) an answer nobody reads.
    """

    def __init__(self, events: AsyncIterator[bytes], headers: Mapping[str, str]) -> None:
        self.status_code = 200
        self.events = events
        self.extra = {"cache-control": "no-cache", **headers}
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The body has been read, so the next message is http.disconnect: when the client
        # leaves, or (in process) when the response is complete.
        gone = asyncio.ensure_future(receive())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": _raw_headers(self.extra, "text/event-stream; charset=utf-8", None),
                }
            )
            async for chunk in self.events:
                if gone.done():
                    log_client_gone(scope, "during a streamed answer; stopped streaming")
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            close = getattr(self.events, "aclose", None)
            if close is not None:
                await close()
