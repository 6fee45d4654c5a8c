"""Fuzz the mock with every request shape OpenAI's spec allows, through the in-process app.

Bodies are drawn from the spec's own request schemas (CreateChatCompletionRequest, ...)
with the ``model`` swapped for one the mock serves (most of the time: sometimes a model
of the wrong kind or an unknown one). Whatever the body, the mock must answer:

- never a 5xx;
- a 200 whose body (or each streamed event) conforms to the spec's response schema and
  has as many choices or vectors as the request asked for;
- or a 4xx in ErrorResponse's shape whose ``param`` names a field the request has.

And enough of the answers must be 200s that the success paths were exercised at all.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mock_llm import InProcessMock
from mock_llm.inprocess import SyncASGITransport

from . import openapi_spec
from .schema_strategies import from_schema

EXAMPLES = 300
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Endpoint:
    path: str
    request: str
    models: tuple[str, ...]
    response: str | Callable[[], dict[str, Any]]
    chunk: str | Callable[[], dict[str, Any]] | None
    expected_items: Callable[[dict[str, Any]], int]
    min_ok_share: float


def _n(body: dict[str, Any]) -> int:
    return int(body.get("n") or 1)


def _prompt_count(prompt: Any) -> int:
    if prompt is None or isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)):
        return 1
    return len(prompt)


def _input_count(value: Any) -> int:
    return 1 if isinstance(value, str) or (value and isinstance(value[0], int)) else len(value)


ENDPOINTS = {
    "chat": Endpoint(
        "/v1/chat/completions",
        "CreateChatCompletionRequest",
        ("gpt-4", "gpt-3.5-turbo", "claude-instant"),
        "CreateChatCompletionResponse",
        "CreateChatCompletionStreamResponse",
        _n,
        0.5,
    ),
    "completions": Endpoint(
        "/v1/completions",
        "CreateCompletionRequest",
        ("text-davinci-003",),
        "CreateCompletionResponse",
        openapi_spec.completion_chunk_schema,
        lambda body: _n(body) * _prompt_count(body.get("prompt")),
        0.5,
    ),
    "embeddings": Endpoint(
        "/v1/embeddings",
        "CreateEmbeddingRequest",
        ("text-embedding-3-small",),
        "CreateEmbeddingResponse",
        None,
        lambda body: _input_count(body["input"]),
        0.5,
    ),
}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    mock = InProcessMock()
    # Exceptions from the app propagate through this transport: an unhandled one fails the test.
    with httpx2.Client(
        transport=SyncASGITransport(mock.app, client=("127.0.0.1", 50001)), base_url="http://mock-llm.local"
    ) as client:
        yield client


def bodies(endpoint: Endpoint) -> st.SearchStrategy[tuple[bool, dict[str, Any]]]:
    """Spec-valid bodies, a model the mock serves most of the time, streaming for a third of them.

    Half are made :func:`plausible` (still spec-valid), so the success paths are reached
    with rich bodies; the flag says which.
    """
    models = st.sampled_from([*endpoint.models] * 6 + ["gpt-17", "text-embedding-3-small", "gpt-4"])
    stream = st.sampled_from([{}, {}, {"stream": True}] if endpoint.chunk else [{}])
    return st.builds(
        lambda body, model, streaming, tidy: (tidy, _with(body, model, streaming, tidy)),
        from_schema(openapi_spec.inlined(endpoint.request)),
        models,
        stream,
        st.booleans(),
    )


def _with(body: dict[str, Any], model: str, streaming: dict[str, Any], tidy: bool) -> dict[str, Any]:
    out = {**body, **streaming, "model": model}
    return plausible(out) if tidy else out


NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def plausible(body: dict[str, Any]) -> dict[str, Any]:
    """The body with what the spec allows but OpenAI rejects (and the mock with it) made acceptable.

    Names that break OpenAI's name pattern, token limits below 1 or past the context,
    token ids outside the vocabulary, tool_choice naming no tool, audio output and
    'suffix' are replaced; everything else is left as drawn.
    """
    out = dict(body)
    for key in ("max_tokens", "max_completion_tokens"):
        if isinstance(out.get(key), int):
            out[key] = abs(out[key]) % 200 + 1
    if isinstance(out.get("seed"), int):
        out["seed"] = out["seed"] % 2**31
    out.pop("audio", None)
    out.pop("suffix", None)
    if out.get("modalities"):
        out["modalities"] = ["text"]
    fmt = out.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and not NAME.match(fmt["json_schema"]["name"]):
        out["response_format"] = {**fmt, "json_schema": {**fmt["json_schema"], "name": "answer"}}
    if out.get("functions"):
        out["functions"] = [{**f, "name": f"function_{i}"} for i, f in enumerate(out["functions"])]
    if out.get("function_call") is not None and not isinstance(out["function_call"], str):
        out["function_call"] = "auto"
    if out.get("tools"):
        out["tools"] = [{**t, t["type"]: {**t[t["type"]], "name": f"tool_{i}"}} for i, t in enumerate(out["tools"])]
    if not out.get("tools"):
        out.pop("tool_choice", None)
    elif out.get("tool_choice") is not None and not isinstance(out["tool_choice"], str):
        out["tool_choice"] = "auto"
    for key in ("prompt", "input"):
        value = out.get(key)
        if isinstance(value, list) and value and isinstance(value[0], int):
            out[key] = [abs(i) % 100_000 for i in value]
        elif isinstance(value, list) and value and isinstance(value[0], list):
            out[key] = [[abs(i) % 100_000 for i in ids] for ids in value]
    if isinstance(out.get("dimensions"), int):
        out["dimensions"] = out["dimensions"] % 256 + 1
    return out


def names_a_field(body: Any, param: str) -> bool:
    """Does ``param`` (``tools[0].function.name``) lead to a value of the request, or to a missing last key?"""
    node = body
    parts = re.findall(r"[^.\[\]]+", param)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return last and isinstance(node, dict) and i > 0  # a missing required field of an existing object
    return True


def _schema(ref: str | Callable[[], dict[str, Any]]) -> str | dict[str, Any]:
    return ref if isinstance(ref, str) else ref()


def strict_json(text: str) -> Any:
    """JSON as RFC 8259 has it: NaN and Infinity, which Python would accept, are not JSON."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in a response body is not JSON")

    return json.loads(text, parse_constant=refuse)


def check(endpoint: Endpoint, body: dict[str, Any], response: httpx2.Response) -> str:
    """Assert the contract for one exchange; returns the outcome to count."""
    assert response.status_code < 500, f"{response.status_code} for {json.dumps(body)[:600]}: {response.text[:600]}"
    kind = response.headers.get("content-type", "")
    if response.status_code != 200:
        assert response.status_code in {400, 404}, response.text
        error = strict_json(response.text)
        openapi_spec.assert_conforms("ErrorResponse", error)
        param = error["error"]["param"]
        if param is not None:
            assert names_a_field(body, param), f"param {param!r} names nothing in {json.dumps(body)[:400]}"
        return f"{response.status_code} {param}"
    if kind.startswith("text/event-stream"):
        assert endpoint.chunk is not None
        lines = [line for line in response.text.split("\n\n") if line]
        assert lines[-1] == "data: [DONE]", lines[-3:]
        finished: Counter[int] = Counter()
        for line in lines[:-1]:
            chunk = strict_json(line.removeprefix("data: "))
            openapi_spec.assert_conforms(_schema(endpoint.chunk), chunk)
            for choice in chunk["choices"]:
                finished[choice["index"]] += choice["finish_reason"] is not None
        assert sorted(finished) == list(range(endpoint.expected_items(body)))
        assert set(finished.values()) == {1}, "every choice ends exactly once"
        return "200 stream"
    payload = strict_json(response.text)
    if endpoint.request == "CreateEmbeddingRequest" and body.get("encoding_format", "float") == "base64":
        for item in payload["data"]:  # the spec types it as floats; the API sends them base64-encoded
            item["embedding"] = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4").tolist()
    openapi_spec.assert_conforms(_schema(endpoint.response), payload)
    items = payload["data"] if "data" in payload else payload["choices"]
    assert len(items) == endpoint.expected_items(body)
    if endpoint.request == "CreateChatCompletionRequest":
        for choice in payload["choices"]:
            check_structured(body, choice)
    return "200"


def check_structured(body: dict[str, Any], choice: dict[str, Any]) -> None:
    """A complete structured answer satisfies the schema it was asked for (a stop sequence may cut it, as OpenAI's)."""
    if body.get("stop") or choice["finish_reason"] == "length":
        return
    calls = choice["message"].get("tool_calls") or []
    for call in calls:
        tool = next(
            t["function"]
            for t in body["tools"]
            if t["type"] == "function" and t["function"]["name"] == call["function"]["name"]
        )
        schema = tool.get("parameters")
        arguments = strict_json(call["function"]["arguments"])
        if schema is not None:
            assert Draft202012Validator(schema).is_valid(arguments), (schema, arguments)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema" and not calls:
        schema = fmt["json_schema"].get("schema", {})
        content = strict_json(choice["message"]["content"])
        assert Draft202012Validator(schema).is_valid(content), (schema, content)


@pytest.mark.parametrize(
    "name",
    [
        "chat",
        "completions",
        "embeddings",
    ],
)
def test_spec_requests_never_break_the_contract(http: httpx2.Client, name: str) -> None:
    endpoint = ENDPOINTS[name]
    validator = openapi_spec.validator(endpoint.request)
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(bodies(endpoint))
    def exchange(drawn: tuple[bool, dict[str, Any]]) -> None:
        tidy, body = drawn
        # The generator is checked too: a body the spec rejects would test nothing.
        assert validator.is_valid(body), openapi_spec.errors(endpoint.request, body)[:5]
        response = http.post(endpoint.path, content=json.dumps(body), headers={"content-type": "application/json"})
        outcomes[("plausible " if tidy else "raw ") + check(endpoint, body, response)] += 1

    started = time.perf_counter()
    exchange()
    elapsed = time.perf_counter() - started
    total = sum(outcomes.values())
    tidy = sum(count for outcome, count in outcomes.items() if outcome.startswith("plausible"))
    ok = sum(count for outcome, count in outcomes.items() if outcome.startswith("plausible 200"))
    streams = sum(count for outcome, count in outcomes.items() if outcome.endswith("200 stream"))
    summary = ", ".join(f"{outcome}: {count}" for outcome, count in outcomes.most_common())
    print(f"\n{name}: {total} requests in {elapsed:.1f} s; {summary}")
    assert total >= EXAMPLES
    assert ok / tidy >= endpoint.min_ok_share, f"too few successes to have tested them: {summary}"
    assert streams >= (10 if endpoint.chunk else 0), f"too few streams: {summary}"
