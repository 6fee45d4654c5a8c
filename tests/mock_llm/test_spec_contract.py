"""Does every response the mock sends conform to OpenAI's published OpenAPI schemas?

The schemas are OpenAI's own (``spec/openai-schemas.json``, vendored from
openai/openai-openapi), not the mock's idea of them: a field the mock leaves out, a
wrong type or an enum value OpenAI never sends fails here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import numpy as np
import pytest

from mock_llm import InProcessMock
from mock_llm.inprocess import SyncASGITransport

from . import openapi_spec
from .openapi_spec import assert_conforms
from .spec import extract
from .test_wire_contract import FAQ, SENTIMENT, WEATHER

SENTIMENT_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "sentiment",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "required": ["sentiment", "confidence"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    mock = InProcessMock()
    with httpx2.Client(
        transport=SyncASGITransport(mock.app, client=("127.0.0.1", 50000)), base_url="http://mock-llm.local"
    ) as client:
        yield client


def events(response: httpx2.Response) -> list[Any]:
    """The JSON payloads of a server-sent event stream, checking that it ends with [DONE]."""
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in response.text.split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def chat(http: httpx2.Client, **body: Any) -> httpx2.Response:
    body.setdefault("model", "gpt-4")
    body.setdefault("messages", FAQ)
    return http.post("/v1/chat/completions", json=body)


# --- the vendored spec itself ---------------------------------------------------------------------


def test_vendored_spec_says_where_it_comes_from() -> None:
    header = openapi_spec.header()
    assert header["x-source"].startswith("https://github.com/openai/openai-openapi")
    assert header["x-commit"].startswith("f85dbe2")
    assert "MIT License" in header["x-licence"] and "Copyright (c) OpenAI" in header["x-licence"]
    assert header["x-openapi"].startswith("3.1")


def test_vendored_spec_is_closed_and_is_what_extract_produces() -> None:
    """Every $ref resolves inside the file, and re-extracting from it changes nothing."""
    raw = json.loads(openapi_spec.SPEC_FILE.read_text())
    schemas = raw["components"]["schemas"]
    assert extract.extract(raw, tuple(raw["x-roots"])) == schemas
    assert set(raw["x-roots"]) <= set(schemas)


def test_nullable_becomes_anyof_null() -> None:
    """OpenAPI 3.0's nullable, still in the 3.1 document, must allow null even beside an enum or a $ref."""
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "usage": None}
    ok = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": None, "logprobs": None}]}
    assert_conforms("CreateChatCompletionStreamResponse", ok)
    for bad_reason in ("finished", 3):
        bad = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": bad_reason}]}
        assert openapi_spec.errors("CreateChatCompletionStreamResponse", bad)
    raw = openapi_spec.convert_nullable({"type": "string", "enum": ["a"], "nullable": True, "default": {"x": 1}})
    assert raw == {"anyOf": [{"type": "string", "enum": ["a"], "default": {"x": 1}}, {"type": "null"}]}
    # a property that happens to be called "nullable" is data, not the keyword
    assert openapi_spec.convert_nullable({"properties": {"nullable": {"type": "boolean"}}}) == {
        "properties": {"nullable": {"type": "boolean"}}
    }


def test_validator_catches_what_openai_requires() -> None:
    """A check that cannot fail proves nothing: the validator rejects a response missing required fields."""
    assert openapi_spec.errors("CreateChatCompletionResponse", {"id": "x", "object": "chat.completion"})
    assert openapi_spec.errors("ErrorResponse", {"error": {"message": "m", "type": "t"}})  # param, code required
    assert openapi_spec.errors("Model", {"id": "m", "object": "model", "created": "yesterday", "owned_by": "me"})


# --- chat -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"n": 3},
        {"messages": SENTIMENT, "logprobs": True, "top_logprobs": 3},
        {"max_tokens": 3},
        {"stop": [" ET", "24/7"]},
        {
            "messages": [{"role": "user", "content": "Reply in JSON: what are your support hours?"}],
            "response_format": {"type": "json_object"},
        },
        {"messages": SENTIMENT, "response_format": SENTIMENT_SCHEMA},
        {"tools": [WEATHER], "tool_choice": "required"},
        {
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "n": 2,
            "logprobs": True,
        },
        {"tools": [WEATHER], "tool_choice": "auto"},
    ],
    ids=[
        "plain",
        "n3",
        "logprobs",
        "length",
        "stop",
        "json_object",
        "json_schema",
        "tool_required",
        "tool_named",
        "tool_auto",
    ],
)
def test_chat_completion_conforms(http: httpx2.Client, extra: dict[str, Any]) -> None:
    response = chat(http, **extra)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_conforms("CreateChatCompletionResponse", body)
    assert len(body["choices"]) == extra.get("n", 1)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"stream_options": {"include_usage": True}, "n": 2},
        {"messages": SENTIMENT, "logprobs": True, "top_logprobs": 2},
        {"max_tokens": 4, "stream_options": {"include_usage": True}},
        {"messages": SENTIMENT, "response_format": SENTIMENT_SCHEMA},
        {"tools": [WEATHER], "tool_choice": "required", "stream_options": {"include_usage": True}},
    ],
    ids=["plain", "usage_n2", "logprobs", "length", "json_schema", "tool_call"],
)
def test_every_chat_chunk_conforms(http: httpx2.Client, extra: dict[str, Any]) -> None:
    chunks = events(chat(http, stream=True, **extra))
    assert len(chunks) > 2
    for chunk in chunks:
        assert_conforms("CreateChatCompletionStreamResponse", chunk)
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finishes) == extra.get("n", 1)


# --- completions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"prompt": ["Say hi", "Say bye"], "n": 2, "logprobs": 2, "echo": True},
        {"prompt": [9906, 1917], "max_tokens": 0, "echo": True},
        {"prompt": [[9906], [1917, 0]], "stop": "\n"},
    ],
    ids=["plain", "batch_logprobs_echo", "token_ids_echo_zero", "token_arrays_stop"],
)
def test_completion_conforms(http: httpx2.Client, extra: dict[str, Any]) -> None:
    body = {"model": "text-davinci-003", "prompt": "Classify the sentiment: I love it\n\nSentiment:", **extra}
    response = http.post("/v1/completions", json=body)
    assert response.status_code == 200, response.text
    assert_conforms("CreateCompletionResponse", response.json())


@pytest.mark.parametrize("extra", [{}, {"logprobs": 1, "echo": True, "stream_options": {"include_usage": True}}])
def test_every_completion_chunk_conforms(http: httpx2.Client, extra: dict[str, Any]) -> None:
    """Streamed legacy completions are CreateCompletionResponse objects, one per event (the SDK parses them so)."""
    body = {"model": "text-davinci-003", "prompt": "Write about dragons", "stream": True, **extra}
    chunks = events(http.post("/v1/completions", json=body))
    assert len(chunks) > 2
    for chunk in chunks:
        assert_conforms(openapi_spec.completion_chunk_schema(), chunk)
    assert openapi_spec.errors(openapi_spec.completion_chunk_schema(), {**chunks[0], "choices": [{"text": 1}]})


# --- embeddings, models, errors ---------------------------------------------------------------------


def test_embeddings_float_conform(http: httpx2.Client) -> None:
    body = {"model": "text-embedding-3-small", "input": ["hello", "world"], "encoding_format": "float"}
    response = http.post("/v1/embeddings", json=body)
    assert response.status_code == 200, response.text
    assert_conforms("CreateEmbeddingResponse", response.json())


def test_embeddings_base64_conform_once_decoded(http: httpx2.Client) -> None:
    """The spec types ``embedding`` as an array even for base64, where the API sends a string.

    So the base64 answer is checked as what it stands for: decoded (little-endian float32,
    as the SDK decodes it), it must be a valid response and equal the float answer.
    """
    body = {"model": "text-embedding-3-small", "input": ["hello", "world"]}
    encoded = http.post("/v1/embeddings", json={**body, "encoding_format": "base64"}).json()
    floats = http.post("/v1/embeddings", json={**body, "encoding_format": "float"}).json()
    assert all(isinstance(item["embedding"], str) for item in encoded["data"])
    decoded = {
        **encoded,
        "data": [
            {**item, "embedding": np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4").tolist()}
            for item in encoded["data"]
        ],
    }
    assert_conforms("CreateEmbeddingResponse", decoded)
    for a, b in zip(decoded["data"], floats["data"], strict=True):
        assert np.allclose(a["embedding"], b["embedding"], atol=1e-6)


def test_models_conform(http: httpx2.Client) -> None:
    listing = http.get("/v1/models").json()
    assert_conforms("ListModelsResponse", listing)
    for model in listing["data"]:
        assert_conforms("Model", http.get(f"/v1/models/{model['id']}").json())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/chat/completions", {"model": "gpt-17", "messages": FAQ}),
        ("POST", "/v1/chat/completions", {"model": "gpt-4", "messages": FAQ, "n": 2.5}),
        ("POST", "/v1/chat/completions", {"model": "gpt-4", "messages": FAQ, "tool_choice": "required"}),
        ("POST", "/v1/chat/completions", {"model": "gpt-4", "messages": FAQ, "modalities": ["text", "audio"]}),
        ("POST", "/v1/completions", {"model": "text-davinci-003", "prompt": [10**9]}),
        ("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": ""}),
        ("POST", "/v1/embeddings", b"{"),
        ("GET", "/v1/models/nope", None),
        ("GET", "/v1/nothing", None),
        ("DELETE", "/v1/models", None),
    ],
)
def test_error_bodies_conform(http: httpx2.Client, method: str, path: str, body: object) -> None:
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    response = http.request(method, path, content=content, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert_conforms("ErrorResponse", response.json())
