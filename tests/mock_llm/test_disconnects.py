"""Does a client that goes away mid-request cost at most one log line, never a traceback?"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import openai
import pytest

from .mock_process import MockProcess

pytestmark = pytest.mark.server

HEAD = "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    process = MockProcess()  # realistic latency: streams are paced, answers take a while
    yield process
    log = process.stop()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


def send(mock: MockProcess, data: bytes) -> tuple[socket.socket, int]:
    sock = socket.create_connection(("127.0.0.1", mock.port), timeout=30)
    sock.sendall(data)
    return sock, sock.getsockname()[1]


def one_line(mock: MockProcess, port: int, *fragments: str) -> None:
    lines = mock.settled_lines_about(port, 1)
    assert len(lines) == 1, lines
    assert lines[0].startswith("WARNING:"), lines
    assert all(fragment in lines[0] for fragment in fragments), lines


def test_body_cut_short(mock: MockProcess) -> None:
    sock, port = send(mock, (HEAD + "Content-Length: 500\r\n\r\n").encode() + b'{"model": "gpt-4", "mess')
    time.sleep(0.2)  # the server is now waiting for the rest of the body
    sock.close()
    one_line(mock, port, "disconnected before sending the whole request (POST /v1/chat/completions)")


def test_chunked_body_cut_short(mock: MockProcess) -> None:
    sock, port = send(mock, (HEAD + "Transfer-Encoding: chunked\r\n\r\n").encode() + b'11\r\n{"model": "gpt-4"\r\n')
    time.sleep(0.2)
    sock.close()
    one_line(mock, port, "disconnected before sending the whole request (POST /v1/chat/completions)")


def test_malformed_body_part_way(mock: MockProcess) -> None:
    """A chunk longer than it said: a 400 and one line; the app reading the body logs no second one."""
    sock, port = send(mock, (HEAD + "Transfer-Encoding: chunked\r\n\r\n").encode() + b'10\r\n{"model": "gpt-4"\r\n')
    assert sock.recv(64).startswith(b"HTTP/1.1 400 ")
    sock.close()
    one_line(mock, port, "sent an invalid HTTP request", "answered 400")


def test_stream_abandoned_half_way(mock: MockProcess) -> None:
    story = {"model": "gpt-4", "messages": [{"role": "user", "content": "Tell me a long story"}], "stream": True}
    body = json.dumps(story).encode()
    sock, port = send(mock, (HEAD + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    assert sock.recv(64).startswith(b"HTTP/1.1 200")  # streaming has begun
    sock.close()
    one_line(mock, port, "disconnected during a streamed answer; stopped streaming (POST /v1/chat/completions)")


def test_head_cut_short_is_not_logged(mock: MockProcess) -> None:
    """Gone before the request was whole: no request to speak of, nothing to log."""
    sock, port = send(mock, b"POST /v1/chat/completions HTTP/1.1\r\nHost: mo")
    time.sleep(0.2)
    sock.close()
    assert mock.settled_lines_about(port, 0) == []


def test_gone_while_the_answer_is_prepared(mock: MockProcess) -> None:
    """The answer is dropped unseen: at most one line."""
    body = json.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}).encode()
    fault = "x-mock-fault: timeout; hang=0.5\r\n"
    sock, port = send(mock, (HEAD + fault + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    sock.close()
    time.sleep(1)  # past the hang: the server has tried to answer
    assert len(mock.settled_lines_about(port, 0)) <= 1


def test_gone_after_a_refusal(mock: MockProcess) -> None:
    """An oversized head, and the client leaves without reading the 431: the refusal's line only."""
    sock, port = send(mock, (HEAD + "x-big: " + "a" * 100_000 + "\r\n\r\n").encode())
    sock.close()
    one_line(mock, port, "sent request headers over", "answered 431")


def test_the_server_serves_on(mock: MockProcess) -> None:
    with openai.OpenAI(base_url=mock.base_url, api_key="k", max_retries=0, timeout=60) as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
    assert chunks[-1].choices[0].finish_reason == "stop"
