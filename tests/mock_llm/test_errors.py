"""Does every bad request get an OpenAI-shaped 4xx, and never a 500 or a traceback?"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_llm import InProcessMock, Settings
from mock_llm.inprocess import SyncASGITransport
from mock_llm.server import BackgroundServer

ENDPOINTS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]


def assert_openai_error(response: httpx2.Response, status: int, param: str | None = "-") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text
    if param != "-":
        assert body["error"]["param"] == param
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def http(live: BackgroundServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=live.base_url.removesuffix("/v1")) as client:
        yield client


def test_unknown_model_is_404(http: httpx2.Client) -> None:
    error = assert_openai_error(
        http.post(
            "/v1/chat/completions", json={"model": "gpt-5-ultra", "messages": [{"role": "user", "content": "x"}]}
        ),
        404,
        "model",
    )
    assert error["code"] == "model_not_found"


def test_wrong_kind_of_model_is_404(http: httpx2.Client) -> None:
    assert_openai_error(
        http.post(
            "/v1/chat/completions",
            json={"model": "text-embedding-3-small", "messages": [{"role": "user", "content": "x"}]},
        ),
        404,
        "model",
    )
    assert_openai_error(http.post("/v1/embeddings", json={"model": "gpt-4", "input": "x"}), 404, "model")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "gpt-4"}, "messages"),
        ({"model": "gpt-4", "messages": []}, "messages"),
        ({"model": "gpt-4", "messages": "hello"}, "messages"),
        ({"model": "gpt-4", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "gpt-4", "messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}], "temperature": 7}, "temperature"),
        ({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"}, "max_tokens"),
        ({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ({"model": 4, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ],
)
def test_invalid_chat_body_names_the_field(http: httpx2.Client, body: dict[str, Any], param: str) -> None:
    assert_openai_error(http.post("/v1/chat/completions", json=body), 400, param)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"[1, 2]", b"null", b'"text"', b"\xff\xfe"])
def test_unparseable_bodies_are_400(http: httpx2.Client, path: str, raw: bytes) -> None:
    response = http.post(path, content=raw, headers={"content-type": "application/json"})
    assert_openai_error(response, 400)


def test_embedding_input_errors(http: httpx2.Client) -> None:
    assert_openai_error(
        http.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ""}), 400, "input"
    )
    assert_openai_error(
        http.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["a", ""]}), 400, "input[1]"
    )
    assert_openai_error(http.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": []}), 400)
    assert_openai_error(
        http.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "a", "dimensions": 9999}),
        400,
        "dimensions",
    )


def test_context_too_long_is_400(http: httpx2.Client) -> None:
    long_text = "word " * 9000
    error = assert_openai_error(
        http.post(
            "/v1/chat/completions", json={"model": "gpt-4", "messages": [{"role": "user", "content": long_text}]}
        ),
        400,
        "messages",
    )
    assert error["code"] == "context_length_exceeded"
    assert "8192" in error["message"]
    # the same text fits claude-instant's 100K window
    ok = http.post(
        "/v1/chat/completions", json={"model": "claude-instant", "messages": [{"role": "user", "content": long_text}]}
    )
    assert ok.status_code == 200
    embed = http.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": long_text})
    assert_openai_error(embed, 400, "input")


def test_context_counts_max_tokens(http: httpx2.Client) -> None:
    error = assert_openai_error(
        http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9000},
        ),
        400,
        "messages",
    )
    assert error["code"] == "context_length_exceeded"


def test_huge_body_is_413_before_parsing(http: httpx2.Client) -> None:
    huge = b'{"model": "gpt-4", "messages": [{"role": "user", "content": "' + b"a" * (9 * 1024 * 1024) + b'"}]}'
    assert_openai_error(
        http.post("/v1/chat/completions", content=huge, headers={"content-type": "application/json"}), 413
    )


def test_huge_chunked_body_is_413() -> None:
    """A body without content-length is counted as it arrives."""
    import asyncio

    mock = InProcessMock(Settings(latency=0.0, max_body_bytes=1000))

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    async def go() -> httpx2.Response:
        async with mock.http() as client:
            return await client.post("/v1/chat/completions", content=body())

    assert_openai_error(asyncio.run(go()), 413)


def test_unknown_route_and_method(http: httpx2.Client) -> None:
    error = assert_openai_error(http.post("/v1/nothing", json={}), 404)
    assert "Invalid URL" in error["message"]
    assert_openai_error(http.get("/v1/chat/completions"), 405)


def test_sdk_raises_its_own_classes(live: BackgroundServer) -> None:
    client = openai.OpenAI(base_url=live.base_url, api_key="k", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "x"}], temperature=9)
    assert info.value.param == "temperature"
    client.close()


def test_control_endpoints_refuse_non_loopback() -> None:
    """A request from another address gets 403 on /_mock/*, while the API still answers it."""
    import asyncio

    mock = InProcessMock()

    async def go() -> tuple[httpx2.Response, httpx2.Response]:
        transport = httpx2.ASGITransport(app=mock.app, client=("10.1.2.3", 4444))
        async with httpx2.AsyncClient(transport=transport, base_url="http://mock") as client:
            return await client.get("/_mock/ledger"), await client.get("/v1/models")

    control, models = asyncio.run(go())
    assert_openai_error(control, 403)
    assert models.status_code == 200


# --- fuzzing: arbitrary JSON never produces a 500 -------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "system", "assistant", "bogus"]) | json_values,
        "content": st.text(max_size=200) | json_values,
    },
)
chat_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-4", "gpt-3.5-turbo", "claude-instant", "x"]) | json_values,
        "messages": st.lists(message, max_size=3) | json_values,
    },
    optional={
        "max_tokens": st.integers(-5, 20000) | json_values,
        "stream": st.booleans() | json_values,
        "n": st.integers(-1, 20) | json_values,
        "temperature": st.floats(-1, 3) | json_values,
        "logprobs": st.booleans() | json_values,
        "top_logprobs": st.integers(-1, 30),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}) | json_values,
        "response_format": st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object", "x"])}),
    },
)
completion_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["text-davinci-003", "gpt-4"]) | json_values,
        "prompt": st.text(max_size=200) | st.lists(st.text(max_size=50), max_size=3) | json_values,
    },
    optional={
        "max_tokens": st.integers(-5, 5000) | json_values,
        "logprobs": st.integers(-1, 7) | json_values,
        "echo": st.booleans(),
        "n": st.integers(0, 4),
        "stream": st.booleans(),
    },
)
embedding_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["text-embedding-3-small", "gpt-4"]) | json_values,
        "input": st.text(max_size=100)
        | st.lists(st.text(max_size=30), max_size=4)
        | st.lists(st.integers(0, 100000), max_size=5)
        | json_values,
    },
    optional={
        "encoding_format": st.sampled_from(["float", "base64", "hex"]),
        "dimensions": st.integers(-1, 400) | json_values,
    },
)

_FUZZ_MOCK = InProcessMock(Settings(latency=0.0))
# Exceptions from the app propagate through this transport: an unhandled one fails the test.
_FUZZ_CLIENT = httpx2.Client(
    transport=SyncASGITransport(_FUZZ_MOCK.app, client=("127.0.0.1", 1)), base_url="http://mock"
)


def _post(path: str, body: object) -> httpx2.Response:
    return _FUZZ_CLIENT.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def _check(response: httpx2.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_openai_error(response, response.status_code)
    elif response.headers["content-type"].startswith("application/json"):
        assert "error" not in response.json()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(chat_bodies)
def test_fuzz_chat(body: dict[str, Any]) -> None:
    _check(_post("/v1/chat/completions", body))


@FUZZ
@given(completion_bodies)
def test_fuzz_completions(body: dict[str, Any]) -> None:
    _check(_post("/v1/completions", body))


@FUZZ
@given(embedding_bodies)
def test_fuzz_embeddings(body: dict[str, Any]) -> None:
    _check(_post("/v1/embeddings", body))


@FUZZ
@given(st.sampled_from(ENDPOINTS), json_values)
def test_fuzz_any_json(path: str, body: object) -> None:
    _check(_post(path, body))
