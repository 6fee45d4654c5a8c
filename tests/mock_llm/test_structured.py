"""Does the structured-output generator produce JSON that the schema, checked by jsonschema, accepts?"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from mock_llm import InProcessMock
from mock_llm.inprocess import SyncASGITransport
from mock_llm.structured import Hints, SchemaError, Unsupported, instance, strict_problems

HINTS = Hints(answer="Negative", query="The blender is terrible", confidence=0.87)


def assert_valid(schema: Any, value: Any) -> None:
    Draft202012Validator.check_schema(schema)
    checker = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [e.message for e in checker.iter_errors(value)]
    assert not errors, (schema, value, errors)


# --- random schemas of the supported subset ------------------------------------------------------


def _numbers(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": kind}
        low = draw(st.integers(-1000, 1000))
        width = draw(st.integers(0, 50))
        step = draw(st.sampled_from([None, 1, 2, 5, 0.5])) if kind == "number" else draw(st.sampled_from([None, 3]))
        if step is not None:
            schema["multipleOf"] = step
            width += 4 * int(step) + 4  # room for a multiple inside the bounds
        if draw(st.booleans()):
            schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
        if draw(st.booleans()):
            high = low + width + 2
            schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = high
        return schema

    return build()


@st.composite
def _string(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    choice = draw(st.sampled_from(["plain", "enum", "const", "length", "format"]))
    if choice == "enum":
        schema["enum"] = draw(st.lists(st.text(max_size=8), min_size=1, max_size=4, unique=True))
    elif choice == "const":
        schema["const"] = draw(st.text(max_size=8))
    elif choice == "length":
        low = draw(st.integers(0, 30))
        schema["minLength"] = low
        if draw(st.booleans()):
            schema["maxLength"] = low + draw(st.integers(0, 5))
    elif choice == "format":
        schema["format"] = draw(st.sampled_from(["date-time", "date", "time", "email", "uuid", "ipv4", "uri"]))
    return schema


leaves = st.one_of(
    _string(),
    _numbers("integer"),
    _numbers("number"),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({"type": ["string", "null"]}),
    st.just({"type": ["integer", "null"], "minimum": 1}),
    st.just({"enum": ["positive", "negative", "neutral"]}),
    st.just({"type": "string", "enum": ["POSITIVE", "NEGATIVE"]}),
    st.just({"enum": [1, "two", None]}),
)
names = st.sampled_from(["sentiment", "label", "answer", "confidence", "score", "query", "city", "items", "x", "tags"])


def _containers(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def array(draw: st.DrawFn) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": draw(children)}
        low = draw(st.integers(0, 3))
        if low:
            schema["minItems"] = low
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 2))
        return schema

    @st.composite
    def obj(draw: st.DrawFn) -> dict[str, Any]:
        properties = draw(st.dictionaries(names, children, max_size=4))
        required = [n for n in properties if draw(st.booleans())]
        schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
        if draw(st.booleans()):
            schema["additionalProperties"] = False
        return schema

    @st.composite
    def combined(draw: st.DrawFn) -> dict[str, Any]:
        parts = draw(st.lists(children, min_size=1, max_size=3))
        return {"anyOf": parts} if draw(st.booleans()) or len(parts) == 1 else {"allOf": parts[:1]}

    return st.one_of(array(), obj(), combined())


schemas = st.recursive(leaves, _containers, max_leaves=12)
EXAMPLES = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(st.one_of(leaves, _string(), _string()), names | st.just(""))
def test_random_scalar_schemas_get_valid_instances(schema: dict[str, Any], name: str) -> None:
    """Every scalar constraint on its own, under a property name that may attract a hint."""
    wrapped = {"type": "object", "properties": {name: schema}, "required": [name]} if name else schema
    assert_valid(wrapped, instance(wrapped, HINTS))


@EXAMPLES
@given(schemas, st.booleans())
def test_random_schemas_get_valid_instances(schema: dict[str, Any], wrap_in_defs: bool) -> None:
    if wrap_in_defs:  # the same schema reached through $defs and a $ref
        schema = {"$defs": {"thing": schema}, "$ref": "#/$defs/thing"}
    value = instance(schema, HINTS)
    assert_valid(schema, value)
    assert instance(schema, HINTS) == value, "deterministic"


# --- the answer goes where it fits ------------------------------------------------------------------


def test_sentiment_fills_the_fields_meant_for_it() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
            "label": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "score_pct": {"type": "integer", "minimum": 0, "maximum": 100},
        },
        "required": ["text", "sentiment", "label", "confidence", "score_pct"],
        "additionalProperties": False,
    }
    value = instance(schema, HINTS)
    assert_valid(schema, value)
    assert value == {
        "text": "The blender is terrible",
        "sentiment": "negative",
        "label": "Negative",
        "confidence": 0.87,
        "score_pct": 87,
    }
    assert list(value) == list(schema["properties"]), "the schema's property order"


def test_out_of_range_hint_is_not_forced() -> None:
    schema = {"type": "object", "properties": {"confidence": {"type": "number", "minimum": 2, "maximum": 3}}}
    value = instance(schema, HINTS)
    assert_valid(schema, value)
    assert value["confidence"] != 0.87


def test_recursive_schema_terminates() -> None:
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name", "children"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    }
    value = instance(schema, HINTS)
    assert_valid(schema, value)
    depth, node = 0, value
    while node["children"]:
        node, depth = node["children"][0], depth + 1
    assert 1 <= depth < 6
    linked = {
        "type": "object",
        "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
        "required": ["next"],
    }
    assert_valid(linked, instance(linked, HINTS))


def test_a_missing_schema_answers_an_object_with_the_answer() -> None:
    assert instance({}, HINTS) == {"answer": "Negative"}
    assert instance(None, HINTS) == {"answer": "Negative"}


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "string", "pattern": "^[a-z]+$"}, "pattern"),
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "not"),
        ({"if": {"type": "string"}, "then": {"minLength": 2}}, "if"),
        ({"type": "string", "format": "credit-card"}, "credit-card"),
        ({"$ref": "https://example.com/schema.json"}, "local references"),
    ],
)
def test_what_cannot_be_honoured_is_refused(schema: dict[str, Any], keyword: str) -> None:
    with pytest.raises(Unsupported, match=keyword):
        instance(schema, HINTS)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 5},
        {"type": "strin"},
        {"enum": []},
        {"properties": {"a": {"$ref": "#/$defs/missing"}}, "required": ["a"]},
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
        {"type": "string", "minLength": 3, "maxLength": 1},
        {"type": "array", "minItems": 3, "maxItems": 1},
        {"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]},
        {"type": "object", "properties": "a"},
        {"anyOf": []},
        False,
    ],
)
def test_unusable_schemas_are_schema_errors(schema: Any) -> None:
    with pytest.raises(SchemaError):
        instance(schema, HINTS)


# --- OpenAI's strict-mode rules ---------------------------------------------------------------------


def test_strict_rules_and_wording() -> None:
    nested = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert strict_problems(nested) == (
        "In context=('properties', 'a'), 'additionalProperties' is required to be supplied and to be false."
    )
    partial = {"type": "object", "properties": {"a": {}, "b": {}}, "required": ["a"], "additionalProperties": False}
    assert strict_problems(partial) == (
        "In context=(), 'required' is required to be supplied and to be an array including every key in properties."
        " Missing 'b'."
    )
    assert strict_problems({"type": "array", "items": {}}) == (
        "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'."
    )


class Address(BaseModel):
    city: str
    zip_code: str | None


class Review(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    confidence: float
    addresses: list[Address]


def test_the_sdks_strict_schemas_pass_and_get_valid_instances() -> None:
    """The official SDK's own strict schema for a pydantic model (with $defs and nullable fields)."""
    schema = openai.pydantic_function_tool(Review)["function"]["parameters"]
    assert strict_problems(schema) is None
    value = instance(schema, HINTS)
    assert_valid(schema, value)
    assert Review.model_validate(value).sentiment == "negative"


# --- end to end: through the app, as the SDK sends it ----------------------------------------------------


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    mock = InProcessMock()
    with httpx2.Client(
        transport=SyncASGITransport(mock.app, client=("127.0.0.1", 50003)), base_url="http://mock-llm.local"
    ) as client:
        yield client


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas, stream=st.booleans())
def test_answers_and_tool_arguments_satisfy_random_schemas(
    http: httpx2.Client, schema: dict[str, Any], stream: bool
) -> None:
    """The chat answer for a json_schema format, and a forced tool call's arguments, validate against the schema."""
    parameters = {"type": "object", "properties": {"value": schema}, "required": ["value"]}
    messages = [{"role": "user", "content": "Classify the sentiment: I love this keyboard."}]
    for extra in (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "random", "schema": schema}}},
        {
            "tools": [{"type": "function", "function": {"name": "record", "parameters": parameters}}],
            "tool_choice": "required",
        },
    ):
        body = {"model": "gpt-4", "messages": messages, "stream": stream, **extra}
        response = http.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        if stream:
            chunks = [
                json.loads(x.removeprefix("data: ")) for x in response.text.split("\n\n") if x.startswith("data: {")
            ]
            deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
            content = "".join(d.get("content") or "" for d in deltas)
            arguments = "".join(
                call["function"].get("arguments", "") for d in deltas for call in d.get("tool_calls", [])
            )
        else:
            message = response.json()["choices"][0]["message"]
            content = message["content"] or ""
            arguments = message["tool_calls"][0]["function"]["arguments"] if message.get("tool_calls") else ""
        if "tools" in extra:
            assert_valid(parameters, json.loads(arguments))
        else:
            assert_valid(schema, json.loads(content))
