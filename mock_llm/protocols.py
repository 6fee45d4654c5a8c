"""What uvicorn leaves open on a connection: head size, head and body deadlines.

uvicorn reads a request head with no size limit under httptools (h11 has one) and with
no time limit under either: a client that sends its headers a byte at a time
(slowloris), or a body that trickles, holds a connection and its buffers for as long as
it likes. One mock may serve a whole room, so every connection here gets:

- a deadline for the head: ``header_timeout`` seconds from the connection (or, on a
  keep-alive connection, from the first byte of the next request) to the last header.
  A client that sent part of a head gets a 408; one that sent nothing is closed quietly,
  as an idle keep-alive connection is;
- a deadline for the body: ``body_timeout`` seconds from the last header to the end of
  the body. The client gets a 408 (unless an answer has started) and the app sees a
  disconnect;
- a bound on the head: ``max_header_bytes`` for the request line and headers together
  (431, or 414 for the request line alone) and ``max_headers`` header lines (431).

Each refusal is one warning line in the log and an OpenAI-shaped JSON error, sent
before the connection closes. The connection then reads and drops what the client is
still sending for a moment (a "lingering close"), so that closing does not reset the
connection under the answer before the client has read it.

A request that arrives in one read, as nearly all do, arms no timer: the deadlines are
set only when a read leaves a head or a body incomplete, and one timer per connection
covers the wait for its first request.
"""

from __future__ import annotations

import ast
import asyncio
import http
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from .errors import CUT_MARK, OpenAIError
from .settings import Settings

try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] installs httptools
    httptools = None  # type: ignore[assignment]

log = logging.getLogger("uvicorn.error")

LINGER_SECONDS = 2.0  # how long a refused connection keeps draining what the client still sends

Phase = Literal["idle", "head", "body"]


@dataclass(frozen=True)
class Limits:
    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    max_headers: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.header_timeout, settings.body_timeout, settings.max_header_bytes, settings.max_headers)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a head that broke a limit."""

    def __init__(self, status: int, message: str, code: str, why: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.why = why  # for the log line: "client ... {why}; answered ..."


def _answer(status: int, message: str, code: str) -> bytes:
    body = json.dumps(OpenAIError(status, message, type="invalid_request_error", code=code).body()).encode()
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class _Guard:
    """Deadlines, refusals and the lingering close, shared by both HTTP implementations.

    Mixed into a uvicorn protocol class, whose ``loop``, ``transport`` and ``client`` it uses.
    """

    limits: ClassVar[Limits]
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    flow: FlowControl
    client: tuple[str, int] | None
    cycle: Any  # uvicorn's RequestResponseCycle (h11 or httptools), None between requests

    def _guard_init(self) -> None:
        self._phase: Phase = "idle"
        self._head_bytes = 0  # bytes received while the current head was incomplete (an upper bound)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # The request in flight: both implementations keep it as a RequestResponseCycle of the same shape.
    def _answer_in_flight(self) -> bool:
        """True while the app is answering a request (its answer started and is not complete)."""
        cycle = self.cycle
        return cycle is not None and cycle.response_started and not cycle.response_complete

    def _abandon_request(self) -> tuple[str, str] | None:
        """Tell the running app its client is gone; return the request's (method, path), if any."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return None
        scope = cycle.scope
        cast(dict[str, object], scope)[CUT_MARK] = True
        cycle.disconnected = True
        cycle.message_event.set()
        return scope["method"], scope["path"]

    # Both protocols start a connection's head deadline and clear its timers the same way.
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard_lost()
        super().connection_lost(exc)  # type: ignore[misc]

    def _who(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"

    def _after_read(self, received: int, head_was_open: bool) -> None:
        """After a read was parsed: bound an incomplete head, and set or clear the deadlines."""
        if self._refused:
            return
        if self._phase == "head":
            self._head_bytes = (self._head_bytes if head_was_open else 0) + received
            if self._head_bytes > self.limits.max_header_bytes:
                refusal = _head_too_large(self.limits)
                self._refuse(refusal.status, refusal.message, refusal.code, refusal.why)
                return
            self._stop(body=True)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_expired)
        elif self._phase == "body":
            self._stop(head=True)
            if self._body_timer is None:
                self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_expired)
        else:
            self._stop(head=True, body=True)

    def _stop(self, *, head: bool = False, body: bool = False) -> None:
        if head and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if body and self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._phase != "head":  # connected and never sent a byte: close as an idle keep-alive connection
            self.transport.close()
            return
        seconds = f"{self.limits.header_timeout:g}"
        self._refuse(
            408,
            f"Request headers not complete after {seconds} s.",
            "request_timeout",
            f"too slow: request headers not complete after {seconds} s",
        )

    def _body_expired(self) -> None:
        self._body_timer = None
        if self._refused or self.transport.is_closing():
            return
        seconds = f"{self.limits.body_timeout:g}"
        request = self._abandon_request()
        where = f" ({request[0]} {request[1]})" if request else ""
        self._refuse(
            408,
            f"Request body not complete after {seconds} s.",
            "request_timeout",
            f"too slow: request body not complete after {seconds} s{where}",
        )

    def _refuse(self, status: int, message: str, code: str, why: str | None) -> None:
        """Answer ``status`` unless an answer is under way, then close after a lingering drain.

        A request the app is reading sees a disconnect, and logs nothing more: this is its line.
        """
        self._refused = True
        self._stop(head=True, body=True)
        self._abandon_request()
        # Bytes of an answer already on the wire would be corrupted by ours: then only close.
        answering = not self.transport.is_closing() and not self._answer_in_flight()
        if why is not None:
            done = f"answered {status} and closed the connection" if answering else "closed the connection"
            log.warning("mock_llm: client %s %s; %s", self._who(), why, done)
        if not answering:
            self.transport.close()
            return
        self.transport.write(_answer(status, message, code))
        self.flow.resume_reading()  # drain what the client still sends (h11 may have paused reading)
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer, then the end of the stream
            self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:  # pragma: no cover - TLS transports cannot half-close
            self.transport.close()

    def _guard_lost(self) -> None:
        self._stop(head=True, body=True)
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None


class _BoundedH11(h11.Connection):
    """h11's server connection, refusing a head over the limits even when it arrived whole.

    h11 bounds only what it buffers while a head is incomplete; a 100 KB head read at once
    passes. A head over the limits is noted in ``refusal`` and reported as PAUSED, which
    makes uvicorn stop handling events; the protocol then answers it.
    """

    def __init__(self, limits: Limits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self.limits = limits
        self.refusal: _Refused | None = None

    def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        if self.refusal is not None:
            return h11.PAUSED
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            # Answered here rather than by uvicorn, whose log line names no client.
            self.refusal = _head_too_large(self.limits) if exc.error_status_hint == 431 else _invalid(str(exc))
            return h11.PAUSED
        if isinstance(event, h11.Request):
            limits = self.limits
            size = len(event.method) + len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers)
            if len(event.headers) > limits.max_headers:
                self.refusal = _too_many_headers(limits)
            elif size > limits.max_header_bytes:
                self.refusal = _head_too_large(limits)
            if self.refusal is not None:
                return h11.PAUSED
        return event


# h11 quotes what it could not parse: "illegal header line: b'Authorization: Bearer sk-…'".
# (or "bytearray(b'...')"), which it may hold as either.
_QUOTED = re.compile(
    r"""^(?P<what>[A-Za-z][A-Za-z -]*?):? (?:bytearray\()?(?P<quoted>b(?P<q>['"]).*(?P=q))\)?$""", re.DOTALL
)
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")  # a header name as RFC 9110 spells it


def _safe_reason(reason: str) -> str:
    """The parser's reason without the bytes it quotes: a header's name and length, never its value.

    A header line h11 refuses may be ``Authorization: Bearer <secret>``; the log shows
    ``illegal header line: 'authorization', 38 bytes``. Anything else quoted is withheld.
    """
    match = _QUOTED.match(reason)
    if match is not None:
        what = match["what"].lower()
        try:
            data = ast.literal_eval(match["quoted"])
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            data = None
        if not isinstance(data, bytes):
            return f"{what} (withheld)"
        name, colon, _ = data.partition(b":")
        if "line" in what and colon and _TOKEN.fullmatch(name.strip()):
            return f"{what}: {name.strip().decode('ascii').lower()!r}, {len(data)} bytes"
        return f"{what} of {len(data)} bytes"
    cut = min((i for i in (reason.find("b'"), reason.find('b"'), reason.find("'"), reason.find('"')) if i >= 0),
              default=-1)  # fmt: skip
    if cut >= 0:
        reason = reason[:cut].rstrip(" :") + " (withheld)"
    reason = "".join(c if c.isprintable() and c.isascii() else "?" for c in reason)
    return reason if len(reason) <= 80 else reason[:77] + "..."


def _invalid(reason: str) -> _Refused:
    return _Refused(
        400, "Invalid HTTP request.", "invalid_http_request", f"sent an invalid HTTP request ({_safe_reason(reason)})"
    )


def _too_many_headers(limits: Limits) -> _Refused:
    return _Refused(
        431,
        f"Too many request headers: the limit is {limits.max_headers}.",
        "too_many_headers",
        f"sent more than {limits.max_headers} headers",
    )


def _head_too_large(limits: Limits) -> _Refused:
    return _Refused(
        431,
        f"Request headers too large: the limit is {limits.max_header_bytes} bytes.",
        "request_header_fields_too_large",
        f"sent request headers over {limits.max_header_bytes} bytes",
    )


class GuardedH11Protocol(_Guard, H11Protocol):
    """uvicorn's h11 protocol with a bounded head and head and body deadlines."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = self.bounded = _BoundedH11(self.limits)
        self._guard_init()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining before the close
        head_was_open = self._phase == "head"
        super().data_received(data)
        if self._refuse_noted():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self._phase = "head" if self.conn.trailing_data[0] else "idle"
        elif state is h11.SEND_BODY:
            self._phase = "body"
        else:
            self._phase = "idle"
        self._after_read(len(data), head_was_open)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # handles a pipelined request, which may break a limit
        self._refuse_noted()

    def _refuse_noted(self) -> bool:
        refusal = self.bounded.refusal
        if refusal is not None and not self._refused:
            self._refuse(refusal.status, refusal.message, refusal.code, refusal.why)
        return refusal is not None

    def send_400_response(self, msg: str) -> None:  # pragma: no cover - _BoundedH11 reports parse errors itself
        self._refuse(400, "Invalid HTTP request.", "invalid_http_request", None)


if httptools is not None:

    class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
        """uvicorn's httptools protocol with a bounded head and head and body deadlines."""

        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._guard_init()
            self._head_size = 0  # exact: request line and headers seen so far
            self._header_count = 0

        def data_received(self, data: bytes) -> None:
            # uvicorn's own, with its refusals: a callback that raises _Refused stops the parser.
            if self._refused:
                return  # draining before the close
            self._unset_keepalive_if_required()
            head_was_open = self._phase == "head"
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            except httptools.HttpParserError as exc:
                refused = exc.__context__
                if not isinstance(refused, _Refused):
                    refused = _invalid(str(exc))
                self._refuse(refused.status, refused.message, refused.code, refused.why)
                return
            self._after_read(len(data), head_was_open)

        def send_400_response(self, msg: str) -> None:
            self._refuse(400, "Invalid HTTP request.", "invalid_http_request", None)

        def on_message_begin(self) -> None:
            self._phase = "head"
            self._head_size = 0
            self._header_count = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            if self._head_size > self.limits.max_header_bytes:
                raise _Refused(
                    414,
                    f"Request line too long: the limit is {self.limits.max_header_bytes} bytes.",
                    "uri_too_long",
                    f"sent a request line over {self.limits.max_header_bytes} bytes",
                )
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            self._head_size += len(name) + len(value) + 4
            if self._header_count > self.limits.max_headers:
                raise _too_many_headers(self.limits)
            if self._head_size > self.limits.max_header_bytes:
                raise _head_too_large(self.limits)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._phase = "body"
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._phase = "idle"
            super().on_message_complete()


def protocol_class(settings: Settings) -> type[asyncio.Protocol]:
    """The guarded protocol for ``settings.http`` (``auto``: httptools when installed, as uvicorn chooses)."""
    name = settings.http
    if name == "httptools" and httptools is None:  # pragma: no cover
        raise ValueError("http=httptools: httptools is not installed")
    base: type[_Guard] = GuardedHttpToolsProtocol if httptools is not None and name != "h11" else GuardedH11Protocol
    # A subclass per server, carrying that server's limits.
    return cast(type[asyncio.Protocol], type(base.__name__, (base,), {"limits": Limits.of(settings)}))
