"""Can a hostile or broken client make the mock answer 500, hang, or hold a connection for ever?

In process: every number read from a header, a fault option or a control body, at any
size. On a real server started as `python -m mock_llm` starts it, under both of uvicorn's
HTTP implementations: oversized heads, slow heads and trickling bodies, and that normal
keep-alive and streaming clients are untouched by the deadlines.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessageParam
from starlette.types import Message

from mock_llm import InProcessMock, Settings
from mock_llm.inprocess import SyncASGITransport

from .mock_process import ROOT, MockProcess

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What are your support hours?"}]
CHAT = json.dumps({"model": "gpt-4", "messages": MESSAGES}).encode()

# --- in process: numbers in headers and bodies --------------------------------------------

_MOCK = InProcessMock(Settings(latency=0.0))
_HTTP = httpx2.Client(transport=SyncASGITransport(_MOCK.app, client=("127.0.0.1", 1)), base_url="http://mock")


def post_chat(headers: dict[str, str] | list[tuple[bytes, bytes]]) -> httpx2.Response:
    base = [(b"content-type", b"application/json")]
    extra = [(k.encode(), v.encode()) for k, v in headers.items()] if isinstance(headers, dict) else headers
    return _HTTP.post("/v1/chat/completions", content=CHAT, headers=base + extra)


def assert_openai_error(response: httpx2.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert len(error["message"]) < 400, "a hostile value is not echoed back whole"
    return dict(error)


@pytest.mark.parametrize(
    ("retry_count", "faulted"),
    [
        (b"0", True),
        (b"1", True),  # attempts=2: the first two attempts (retry counts 0 and 1) fail
        (b"2", False),
        (b"9" * 5000, False),  # more than int() takes: many retries in, clamped
        (b"0" * 5000, True),  # 5,000 digits that are zero: a first attempt
        (b"0" * 4999 + b"3", False),
        (b"abc", True),  # not a number: as if absent, a first attempt
        (b"-1", True),
        (b"1.5", True),
        (b"", True),
        ("²".encode(), True),  # a Unicode digit, which str.isdigit (but not int) accepts
    ],
)
def test_retry_count_of_any_size_or_shape(retry_count: bytes, faulted: bool) -> None:
    """x-stainless-retry-count decides `attempts=`; a value int() refuses is no 500."""
    response = post_chat([(b"x-mock-fault", b"rate_limit; attempts=2"), (b"x-stainless-retry-count", retry_count)])
    if faulted:
        assert_openai_error(response, 429)
    else:
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "fault",
    [
        "timeout; hang=" + "9" * 5000,
        "timeout; hang=nan",
        "timeout; hang=inf",
        "timeout; hang=-inf",
        "slow_stream; delay=NaN",
        "rate_limit; attempts=" + "9" * 5000,
        "rate_limit; attempts=1e999",
        "rate_limit; retry_after_ms=1e308",
        "rate_limit; retry_after=-1",
        "rate_limit; " + "x" * 5000 + "=1",
        "x" * 5000,
    ],
)
def test_fault_options_out_of_range_are_a_400(fault: str) -> None:
    error = assert_openai_error(post_chat({"x-mock-fault": fault}), 400)
    assert error["param"] == "x-mock-fault" and error["code"] == "invalid_fault"


def test_huge_content_length_is_a_413_not_a_500() -> None:
    """The body-size check reads Content-Length itself (in process, no server parses it first)."""
    import asyncio

    async def call(length: bytes) -> list[Message]:
        sent: list[Message] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"content-length", length)],
            "client": ("127.0.0.1", 1),
            "server": ("mock", 80),
        }

        async def receive() -> Message:
            return {"type": "http.request", "body": CHAT, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await _MOCK.app(scope, receive, send)
        return sent

    for length in (b"9" * 5000, b"1" + b"0" * 30):
        start = asyncio.run(call(length))[0]
        assert start["type"] == "http.response.start" and start["status"] == 413
    # Leading zeros are still the number: 0...0<len> is the real length, and is served.
    padded = b"0" * 5000 + str(len(CHAT)).encode()
    assert asyncio.run(call(padded))[0]["status"] == 200


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/_mock/faults", '{"seed": 1' + "0" * 4000 + "}", "seed"),
        ("/_mock/faults", f'{{"seed": {2**63}}}', "seed"),
        ("/_mock/config", f'{{"seed": {-(2**63) - 1}}}', "seed"),
        ("/_mock/config", '{"latency": NaN}', "latency"),
        ("/_mock/config", '{"latency": 1e400}', "latency"),
        ("/_mock/faults", '{"rates": {"timeout": NaN}}', "rates.timeout"),
        ("/_mock/faults", '{"rates": {"timeout": 1e-400, "rate_limit": 1e400}}', "rates.rate_limit"),
    ],
)
def test_control_numbers_out_of_range_are_a_400(path: str, body: str, param: str) -> None:
    response = _HTTP.put(path, content=body, headers={"content-type": "application/json"})
    assert assert_openai_error(response, 400)["param"] == param
    config = _HTTP.get("/_mock/config").json()
    assert config == {"seed": 0, "latency": 0.0}, "nothing was changed"
    assert _HTTP.get("/_mock/faults").json()["rates"] == {}


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
header_bytes = st.one_of(
    st.binary(max_size=300).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F)),
    st.tuples(st.sampled_from(b"0123456789"), st.integers(4000, 6000)).map(lambda t: bytes([t[0]]) * t[1]),
)
fault_options = st.lists(
    st.tuples(
        st.sampled_from(["attempts", "retry_after", "retry_after_ms", "should_retry", "hang", "delay", "colour"]),
        st.one_of(
            st.text(alphabet="0123456789.eE+-naifINF_", max_size=30),
            st.integers().map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.text(max_size=20),
        ),
    ),
    max_size=4,
)


@FUZZ
@given(
    kind=st.sampled_from(["rate_limit", "server_error", "unavailable", "corrupted", "empty", "bogus"]),
    options=fault_options,
    retry_count=header_bytes,
)
def test_fuzz_numeric_headers(kind: str, options: list[tuple[str, str]], retry_count: bytes) -> None:
    """Any fault option and any retry count: an answer or an OpenAI-shaped 4xx, never a 5xx of ours."""
    fault = "; ".join([kind, *(f"{k}={v}" for k, v in options)])
    raw = bytes(c for c in fault.encode("latin-1", "replace") if c >= 0x20 and c != 0x7F)  # a valid header value
    headers = [(b"x-mock-fault", raw), (b"x-stainless-retry-count", retry_count)]
    response = post_chat(headers)
    # server_error and unavailable are the faults asked for; any other 5xx would be ours.
    allowed = {"server_error": {500}, "unavailable": {503}}.get(kind, set())
    assert response.status_code < 500 or response.status_code in allowed, response.text
    if response.status_code >= 400:
        assert_openai_error(response, response.status_code)


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("illegal header line: b'Authorization: Bearer sk-1234'", "illegal header line: 'authorization', 29 bytes"),
        ("illegal header line: bytearray(b'Bearer sk-1234')", "illegal header line of 14 bytes"),
        ("Illegal header value b'sk-1234'", "illegal header value of 7 bytes"),
        ("illegal chunk header: bytearray(b'sk-1234 zz')", "illegal chunk header of 10 bytes"),
        ("something new: 'sk-1234'", "something new (withheld)"),
        ('something new: b"sk-1234" + b"x"', "something new (withheld)"),
        ("Invalid header value char", "Invalid header value char"),
    ],
)
def test_a_parser_reason_never_shows_what_it_quotes(reason: str, shown: str) -> None:
    from mock_llm.protocols import _safe_reason

    assert _safe_reason(reason) == shown
    assert "sk-1234" not in _safe_reason(reason)


# --- a real server: heads, deadlines, keep-alive -------------------------------------------

HEADER_TIMEOUT = 1.0
BIG = b"a" * 100_000
BODY_TIMEOUT = 1.0
PATIENCE = 30.0  # how long a test waits for an answer that should come: the machine may be busy


@pytest.fixture(scope="module", params=["httptools", "h11"])
def guarded(request: pytest.FixtureRequest) -> Iterator[MockProcess]:
    """The mock as `make mock` runs it, with short deadlines, under each HTTP implementation."""
    process = MockProcess(
        "--latency",
        "off",
        "--http",
        request.param,
        env={"MOCK_LLM_HEADER_TIMEOUT": str(HEADER_TIMEOUT), "MOCK_LLM_BODY_TIMEOUT": str(BODY_TIMEOUT)},
    )
    yield process
    log = process.stop()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


def connect(server: MockProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a content-length (all the mock's non-streamed answers have one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def exchange(server: MockProcess, request: bytes) -> tuple[int, dict[str, str], bytes, int]:
    """Send a whole request; the answer and the client's port (to find its log lines)."""
    with connect(server) as sock:
        port = sock.getsockname()[1]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)  # refused before all was sent: the answer is still there to read
        status, headers, body = read_answer(sock)
    return status, headers, body, port


def chat_request(extra: bytes = b"", body: bytes = CHAT, path: bytes = b"/v1/chat/completions") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n" + extra
        + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )  # fmt: skip


@pytest.mark.server
@pytest.mark.parametrize(
    ("name", "request_bytes", "statuses", "code"),
    [
        (
            "100 KB header",
            chat_request(b"x-big: " + b"a" * 100_000 + b"\r\n"),
            {431},
            "request_header_fields_too_large",
        ),
        ("1,000 headers", chat_request(b"".join(b"x-h%d: v\r\n" % i for i in range(1000))), {431}, None),
        ("101 headers", chat_request(b"".join(b"x-h%d: v\r\n" % i for i in range(101))), {431}, "too_many_headers"),
        ("100 KB URL", chat_request(path=b"/v1/chat/completions?q=" + BIG), {414, 431}, None),
    ],
)
def test_oversized_heads_are_refused(
    guarded: MockProcess, name: str, request_bytes: bytes, statuses: set[int], code: str | None
) -> None:
    """A 4xx in OpenAI's shape, one log line, and the server serves on."""
    status, headers, body, port = exchange(guarded, request_bytes)
    assert status in statuses, (name, body)
    assert headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert code is None or error["code"] == code
    [line] = guarded.settled_lines_about(port, 1)
    assert f"answered {status} and closed the connection" in line
    assert exchange(guarded, chat_request())[0] == 200


@pytest.mark.server
@pytest.mark.parametrize(
    "line",
    [
        b"Authorization: Bearer sk-proj-LEAKED-0123456789abcdef\x00",  # a NUL in the value
        b"Authorization : Bearer sk-proj-LEAKED-0123456789abcdef",  # a space before the colon
        b"Authorization: Bearer sk-proj-LEAKED-0123456789abcdef\x0bmore",  # a vertical tab
    ],
)
def test_an_illegal_header_line_is_logged_without_its_value(guarded: MockProcess, line: bytes) -> None:
    """h11 quotes the header line it refuses; a bearer token in it must not reach the log."""
    secret = b"sk-proj-LEAKED-0123456789abcdef"
    status, _, body, port = exchange(guarded, chat_request(line + b"\r\n"))
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "invalid_http_request"
    [logged] = guarded.settled_lines_about(port, 1)
    assert "invalid HTTP request" in logged
    if "h11" in map(str, guarded.proc.args):
        assert f"illegal header line: 'authorization', {len(line)} bytes" in logged, logged
    log = guarded.log()
    assert secret.decode() not in log and "LEAKED" not in log and "Bearer" not in log, logged


@pytest.mark.server
def test_headers_within_limits_are_served(guarded: MockProcess) -> None:
    """Just under the limits: 90 headers, and a 20 KB header (a long token, say)."""
    many = b"".join(b"x-h%d: v\r\n" % i for i in range(90))
    assert exchange(guarded, chat_request(many))[0] == 200
    assert exchange(guarded, chat_request(b"x-token: " + b"t" * 20_000 + b"\r\n"))[0] == 200


@pytest.mark.server
def test_huge_retry_count_over_the_wire(guarded: MockProcess) -> None:
    """The 5,000-digit retry count that used to be a 500: clamped, so attempts=1 no longer applies."""
    extra = b"x-mock-fault: rate_limit; attempts=1\r\nx-stainless-retry-count: " + b"9" * 5000 + b"\r\n"
    status, _, body, port = exchange(guarded, chat_request(extra))
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["content"]
    assert guarded.lines_about(port) == []


def trickle_until_answered(sock: socket.socket, data: bytes, gap: float = 0.1) -> tuple[bytes, float]:
    """Send ``data`` a byte every ``gap`` seconds until the server answers; (answer, seconds taken).

    Gives up after PATIENCE seconds with no answer (b""): a server without deadlines would wait for ever.
    """
    started = time.monotonic()
    sock.setblocking(False)
    answer = b""
    for byte in data:
        if time.monotonic() - started > PATIENCE:
            return b"", time.monotonic() - started
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(gap)
        try:
            answer = sock.recv(65536)
        except BlockingIOError:
            continue
        break
    sock.setblocking(True)
    sock.settimeout(PATIENCE)
    while not answer.endswith(b"}}"):  # the rest of the answer, if it came in parts
        more = sock.recv(65536)
        if not more:
            break
        answer += more
    return answer, time.monotonic() - started


@pytest.mark.server
def test_slow_headers_are_cut(guarded: MockProcess) -> None:
    """Slowloris: headers a byte at a time get a 408 after the header deadline, not a connection for ever."""
    with connect(guarded) as sock:
        port = sock.getsockname()[1]
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        answer, took = trickle_until_answered(sock, b"Host: " + b"h" * 10_000 + b"\r\n\r\n")
        assert sock.recv(1) == b"", "the server closed the connection"
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
    # Sent over 10,000 bytes at one per 0.1 s: the whole would take 1,000 s.
    assert HEADER_TIMEOUT <= took < HEADER_TIMEOUT + PATIENCE
    [line] = guarded.settled_lines_about(port, 1)
    assert f"too slow: request headers not complete after {HEADER_TIMEOUT:g} s; answered 408" in line


@pytest.mark.server
def test_trickling_body_is_cut_with_one_log_line(guarded: MockProcess) -> None:
    """A body that trickles gets a 408 after the body deadline; the app's disconnect adds no second line."""
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
    with connect(guarded) as sock:
        port = sock.getsockname()[1]
        sock.sendall(head + b"Content-Length: %d\r\n\r\n" % (len(CHAT) * 100))
        answer, took = trickle_until_answered(sock, CHAT * 100)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert BODY_TIMEOUT <= took < BODY_TIMEOUT + PATIENCE
    lines = guarded.settled_lines_about(port, 1)
    assert len(lines) == 1, lines
    assert "too slow: request body not complete after 1 s (POST /v1/chat/completions); answered 408" in lines[0]


@pytest.mark.server
def test_a_silent_connection_is_closed_quietly(guarded: MockProcess) -> None:
    """Connected, never a byte: closed after the header deadline, like an idle keep-alive connection, unlogged."""
    with connect(guarded) as sock:
        port = sock.getsockname()[1]
        started = time.monotonic()
        assert sock.recv(1) == b""
        took = time.monotonic() - started
    assert HEADER_TIMEOUT * 0.9 <= took < HEADER_TIMEOUT + PATIENCE
    assert guarded.settled_lines_about(port, 0, settle=0.5) == []


@pytest.mark.server
def test_keep_alive_and_long_answers_are_untouched(guarded: MockProcess) -> None:
    """The deadlines cover sending a request, not waiting between requests or for a long answer."""
    with connect(guarded) as sock:
        port = sock.getsockname()[1]
        sock.sendall(chat_request())
        assert read_answer(sock)[0] == 200
        time.sleep(HEADER_TIMEOUT + 0.5)  # idle past the header deadline, within uvicorn's 5 s keep-alive
        sock.sendall(chat_request())
        assert read_answer(sock)[0] == 200
    assert guarded.lines_about(port) == []

    # A stream that lasts several times both deadlines (0.06 s between some 50 tokens).
    with openai.OpenAI(base_url=guarded.base_url, api_key="k", max_retries=0, timeout=PATIENCE) as client:
        started = time.monotonic()
        stream = client.chat.completions.create(
            model="gpt-4",
            messages=[{"role": "user", "content": "Tell me a story"}],
            stream=True,
            extra_headers={"x-mock-fault": "slow_stream; delay=0.06"},
        )
        chunks = list(stream)
        assert time.monotonic() - started > HEADER_TIMEOUT + BODY_TIMEOUT
        assert chunks[-1].choices[0].finish_reason == "stop"
        # ... and the SDK's pooled connection serves the next call after the stream.
        assert client.chat.completions.create(model="gpt-4", messages=MESSAGES).choices


@pytest.mark.server
@pytest.mark.parametrize(
    "length", [b"9" * 5000, b"0" * 5000 + b"5", b"-1", b"1e3", b"99999999999999999999999", b"9" * 20]
)
def test_content_length_of_any_shape_over_the_wire(guarded: MockProcess, length: bytes) -> None:
    """Parsed by the HTTP layer first: a 4xx in OpenAI's shape, never a 500, one line at most.

    A length over what is sent may also meet the 1 s body deadline first on a busy machine: a 408.
    """
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
    status, _, body, port = exchange(guarded, head + b"Content-Length: " + length + b"\r\n\r\nhello")
    assert status in {400, 408, 413}, body
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}
    assert len(guarded.settled_lines_about(port, 0, settle=0.3)) <= 1


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--max-keys", "0"], {}, "max_keys"),
        (["--header-timeout", "-1"], {}, "timeouts"),
        ([], {"MOCK_LLM_BODY_TIMEOUT": "soon"}, "soon"),
        (["--http", "carrier-pigeon"], {}, "carrier-pigeon"),
    ],
)
def test_cli_rejects_bad_limits_clearly(args: list[str], env: dict[str, str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_llm", "--port", "0", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
