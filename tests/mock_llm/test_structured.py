"""Does the structured-output generator produce JSON that the schema, checked by jsonschema, accepts?"""

from __future__ import annotations

import json
import math
import time
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
from mock_llm.structured import (
    MAX_CHARS,
    SUPPORTED,
    TYPES,
    Hints,
    SchemaError,
    TooLarge,
    Unsupported,
    instance,
    strict_problems,
)

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


# --- hostile and odd schemas: a 400 in OpenAI's shape or a valid answer, never a 500 or a hang -------------


def _nest(inner: dict[str, Any], levels: int) -> dict[str, Any]:
    for _ in range(levels):
        inner = {"type": "object", "properties": {"a": inner}, "required": ["a"]}
    return inner


def _chained_levels(width: int, levels: int) -> dict[str, Any]:
    """A strict schema whose levels $ref each other: width ** levels leaves (6 x 7 is 280,000 strings)."""
    names = [f"p{i}" for i in range(width)]

    def level(inner: dict[str, Any]) -> dict[str, Any]:
        props = dict.fromkeys(names, inner)
        return {"type": "object", "properties": props, "required": names, "additionalProperties": False}

    last = levels - 1
    defs = {f"l{k}": level({"$ref": f"#/$defs/l{k + 1}"} if k < last else {"type": "string"}) for k in range(1, levels)}
    return {**level({"$ref": "#/$defs/l1"}), "$defs": defs}


def _post_schema(http: httpx2.Client, schema_json: str, as_tool: bool, strict: bool = False) -> httpx2.Response:
    """The schema, as JSON text (so it may hold literals Python would not write), as a format or a tool."""
    flag = ',"strict":true' if strict else ""
    if as_tool:
        extra = f'"tools":[{{"type":"function","function":{{"name":"f","parameters":{schema_json}{flag}}}}}],'
        extra += '"tool_choice":"required"'
    else:
        extra = f'"response_format":{{"type":"json_schema","json_schema":{{"name":"x","schema":{schema_json}{flag}}}}}'
    body = f'{{"model":"gpt-4","messages":[{{"role":"user","content":"Is this good?"}}],{extra}}}'
    return http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})


def _answer(response: httpx2.Response, as_tool: bool) -> str:
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    return str(message["tool_calls"][0]["function"]["arguments"] if as_tool else message["content"])


def _error(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    return error


def _wrapped(schema_json: str) -> str:
    """A schema as the one property of a tool's object parameters (a tool's parameters must be an object)."""
    return f'{{"type":"object","properties":{{"v":{schema_json}}},"required":["v"]}}'


BAD_TYPES = [
    ({"type": "object", "properties": {"v": {"type": "string", "format": ["x"]}}}, "'format' must be a string"),
    ({"allOf": [{"properties": []}, {"type": "object"}]}, "'properties' must be an object"),
    ({"allOf": [{"required": 1}, {"type": "object"}]}, "'required' must be an array of strings"),
    ({"type": "object", "properties": {"v": {"type": "array", "items": 3}}}, "'items' must be a schema"),
    ({"type": "object", "properties": {"v": {"type": "number", "minimum": "1"}}}, "'minimum' must be a number"),
    ({"type": "object", "properties": {"v": {"type": "string", "minLength": -1}}}, "'minLength' must be a non-neg"),
    ({"type": "object", "properties": {"v": {"anyOf": {"type": "null"}}}}, "'anyOf' must be a non-empty array"),
    ({"type": "object", "properties": {"v": {"$ref": 7}}}, "'$ref' must be a string"),
]


@pytest.mark.parametrize(("schema", "message"), BAD_TYPES)
@pytest.mark.parametrize("as_tool", [False, True])
def test_a_keyword_of_the_wrong_type_is_a_400_naming_it(
    http: httpx2.Client, schema: dict[str, Any], message: str, as_tool: bool
) -> None:
    """Found by review: an unhashable format, or allOf parts with odd keywords, were 500s."""
    error = _error(_post_schema(http, json.dumps(schema), as_tool))
    assert error["code"] == "invalid_json_schema"
    assert message in error["message"]
    assert error["param"] == ("tools[0].function.parameters" if as_tool else "response_format")
    keyword = message.split("'")[1]
    assert f"'{keyword}')" in error["message"], "the context names the keyword's path"


@pytest.mark.parametrize("as_tool", [False, True])
def test_strict_schema_with_properties_of_the_wrong_type_is_a_400(http: httpx2.Client, as_tool: bool) -> None:
    schema = '{"type":"object","properties":5,"required":[],"additionalProperties":false}'
    error = _error(_post_schema(http, schema, as_tool, strict=True))
    assert error["code"] == ("invalid_function_parameters" if as_tool else "invalid_json_schema")
    assert "In context=('properties',), 'properties' must be an object" in error["message"]


@pytest.mark.parametrize("as_tool", [False, True])
def test_numbers_are_exact(http: httpx2.Client, as_tool: bool) -> None:
    """A 1e-300 step overflowed to a 500; a 400-digit bound too; a 0.3 step for integers was refused."""
    big = "1" + "0" * 400
    cases = [
        ('{"type":"number","multipleOf":1e-300,"minimum":1e10}', 10**10),
        (f'{{"type":"integer","minimum":{big}}}', 10**400),
        (f'{{"type":"number","exclusiveMinimum":{big},"multipleOf":0.5}}', 10**400 + 1),
        ('{"type":"integer","multipleOf":0.3,"minimum":1}', 3),
        ('{"type":"number","multipleOf":0.1,"exclusiveMinimum":0.05,"maximum":0.15}', 0.1),
        ('{"type":"integer","multipleOf":2.5,"minimum":1,"maximum":5}', 5),
    ]
    for schema, expected in cases:
        text = _answer(_post_schema(http, _wrapped(schema) if as_tool else schema, as_tool), as_tool)
        assert json.loads(text) == ({"v": expected} if as_tool else expected), schema


def test_an_integer_multiple_of_a_fraction_is_found() -> None:
    for step, low, expected in [(0.3, 1, 3), (0.25, 1.1, 2), (1.5, 1, 3), (1.5, -4, 0), (1e-300, 7, 7)]:
        schema = {"type": "integer", "multipleOf": step, "minimum": low}
        assert instance(schema, HINTS) == expected
    with pytest.raises(SchemaError, match="no number"):
        instance({"type": "integer", "multipleOf": 0.3, "minimum": 1, "maximum": 2.9}, HINTS)


@pytest.mark.parametrize("as_tool", [False, True])
def test_a_list_of_types_deep_inside_an_any_of(http: httpx2.Client, as_tool: bool) -> None:
    """Past the recursion depth, anyOf branches are sorted by weight: a list-valued type was a 500."""
    schema = _nest({"anyOf": [{"type": ["string", "integer"]}, {"type": "object"}]}, 10)
    value = json.loads(_answer(_post_schema(http, json.dumps(schema), as_tool), as_tool))
    assert_valid(schema, value)


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "array", "minItems": 3_000_000}, "'minItems' asks for 3,000,000 items"),
        ({"type": "string", "minLength": 30_000_000}, "'minLength' asks for 30,000,000 characters"),
        ({"type": "object", "minProperties": 100_000_000}, "'minProperties' asks for 100,000,000"),
        ({"type": "array", "minItems": 15_000, "items": {"type": "string", "minLength": 20}}, "100,000 characters"),
    ],
)
@pytest.mark.parametrize("as_tool", [False, True])
def test_answers_beyond_the_budget_are_refused_at_once(
    http: httpx2.Client, schema: dict[str, Any], keyword: str, as_tool: bool
) -> None:
    """These took seconds and gigabytes; the budget refuses them before spending either."""
    text = json.dumps(schema)
    started = time.process_time()  # CPU seconds: a busy machine does not change them
    error = _error(_post_schema(http, _wrapped(text) if as_tool else text, as_tool))
    assert time.process_time() - started < 2
    assert error["code"] == "unsupported_value"
    assert error["message"].startswith("The mock LLM does not support this schema")
    assert keyword in error["message"] and "budget" in error["message"]


@pytest.mark.parametrize("as_tool", [False, True])
def test_levels_that_multiply_are_refused_by_the_budget(http: httpx2.Client, as_tool: bool) -> None:
    """6 properties x 7 levels through $refs: a 3.8 MB answer, six times more per level. OpenAI's limits allow it."""
    schema = _chained_levels(6, 7)
    assert strict_problems(schema) is None
    started = time.process_time()  # CPU seconds: a busy machine does not change them
    error = _error(_post_schema(http, json.dumps(schema), as_tool, strict=True))
    assert time.process_time() - started < 3
    assert "the mock's budget" in error["message"]
    assert len(error["message"]) < 500
    small = _chained_levels(3, 3)  # 27 strings: well inside the budget
    assert_valid(small, json.loads(_answer(_post_schema(http, json.dumps(small), as_tool, strict=True), as_tool)))


def test_work_that_multiplies_in_failed_branches_is_bounded() -> None:
    """Every anyOf branch builds the whole level below and then fails: 2 ** 30 steps, cut by the budget."""
    defs: dict[str, Any] = {"l30": {"type": "string"}}
    for k in range(30):
        below = {"$ref": f"#/$defs/l{k + 1}"}
        defs[f"l{k}"] = {
            "anyOf": [
                {"type": "object", "properties": {"a": below, "z": False}, "required": ["a", "z"]},
                {
                    "type": "object",
                    "properties": {"a": below, "y": {"type": "string", "minLength": 2, "maxLength": 1}},
                    "required": ["a", "y"],
                },
            ]
        }
    started = time.process_time()  # CPU seconds: a busy machine does not change them
    with pytest.raises(TooLarge, match="steps"):
        instance({"$defs": defs, "$ref": "#/$defs/l0"}, HINTS)
    assert time.process_time() - started < 3


@pytest.mark.parametrize("as_tool", [False, True])
def test_a_ref_that_is_not_a_json_pointer_is_refused_briefly(http: httpx2.Client, as_tool: bool) -> None:
    """``#foo`` (an anchor) resolved to the root and recursed into a 150-level error message."""
    schema = '{"type":"object","properties":{"a":{"$ref":"#foo"}},"required":["a"]}'
    error = _error(_post_schema(http, schema, as_tool))
    assert error["code"] == "unsupported_value"
    assert '"#foo"' in error["message"] and len(error["message"]) < 300


def test_an_endless_recursion_has_a_short_context() -> None:
    with pytest.raises(SchemaError) as caught:
        instance({"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]}, HINTS)
    assert len(caught.value.where) <= 16 and "..." in caught.value.where


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(5001)}},
            "5001 object properties",
        ),
        (_nest({"type": "object"}, 11), "nested 11 levels deep"),
        ({"type": "object", "properties": {"v": {"enum": list(range(1001))}}}, "1001 enum values"),
        ({"type": "object", "properties": {"v": {"enum": ["x" * 61] * 251}}}, "an enum of 251 values"),
        (
            {"type": "object", "properties": {f"p{i}": {"const": "y" * 12_000} for i in range(11)}},
            "at most 120000",
        ),
    ],
)
def test_openai_size_limits_for_strict_schemas(http: httpx2.Client, schema: dict[str, Any], message: str) -> None:
    for node in [schema, *(n for n in _all_objects(schema))]:
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties", {}))
    problem = strict_problems(schema)
    assert problem is not None and message in problem
    error = _error(_post_schema(http, json.dumps(schema), False, strict=True))
    assert error["code"] == "invalid_json_schema" and message in error["message"]


def _all_objects(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for sub in schema.get("properties", {}).values():
        if sub.get("type") == "object":
            yield sub
            yield from _all_objects(sub)


def test_the_limits_are_not_hit_by_schemas_at_them() -> None:
    at_limits = _nest({"type": "object", "properties": {}, "required": [], "additionalProperties": False}, 10)
    for node in [at_limits, *_all_objects(at_limits)]:
        node["additionalProperties"] = False
    assert strict_problems(at_limits) is None
    wide = {f"p{i}": {"type": "boolean"} for i in range(5000)}
    schema = {"type": "object", "properties": wide, "required": list(wide), "additionalProperties": False}
    assert strict_problems(schema) is None
    assert instance(schema, HINTS) == dict.fromkeys(wide, True)


def test_nan_and_infinity_never_come_out() -> None:
    schema: dict[str, Any]
    for schema in (
        {"const": math.inf},
        {"enum": [math.nan]},
        {"type": "object", "properties": {"a": {"const": -math.inf}}},
    ):
        with pytest.raises(SchemaError, match="JSON cannot carry"):
            instance(schema, HINTS)
    for schema in ({"type": "number", "minimum": math.inf}, {"type": "number", "multipleOf": math.nan}):
        with pytest.raises(SchemaError, match="must be a number"):
            instance(schema, HINTS)


# --- any JSON value at all as a schema ------------------------------------------------------------------

KEYWORDS = sorted(SUPPORTED | {"title", "not", "pattern", "x-extra"})
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["#", "#/", "#/$defs/a", "#/properties/a", "#foo", "#/$defs", "object", "string", "null", "date"]),
    st.sampled_from(TYPES),
    st.text(max_size=12),
)


def _json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(KEYWORDS) | st.sampled_from(["a", "b", "$defs"]) | st.text(max_size=6)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=40,
    )


any_json = _json_values(json_scalars)
RELATED = {
    "string": ["format", "minLength", "maxLength", "enum", "const"],
    "number": ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
    "integer": ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
    "array": ["items", "prefixItems", "minItems", "maxItems", "uniqueItems", "additionalItems"],
    "object": ["properties", "required", "additionalProperties", "minProperties", "maxProperties"],
}


def _check_outcome(schema: Any) -> None:
    started = time.process_time()  # CPU seconds: a busy machine does not change them
    try:
        value = instance(schema, HINTS)
    except SchemaError as exc:  # Unsupported and TooLarge included
        assert isinstance(exc.message, str) and len(exc.where) <= 16
        # The last line of defence turns a crash into a 400; here it must not have been needed.
        assert "could not generate" not in exc.message and "nests too deeply" not in exc.message, exc.message
    else:
        text = json.dumps(value, allow_nan=False)
        assert len(text) <= MAX_CHARS
    problem = strict_problems(schema)
    assert problem is None or isinstance(problem, str)
    assert time.process_time() - started < 5


@settings(max_examples=1500, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(any_json)
def test_any_json_value_is_an_instance_or_a_schema_error(schema: Any) -> None:
    """Never any other exception, and never more than the budget's time and size."""
    _check_outcome(schema)


def _nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every object inside a JSON value, the value itself first."""
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _nodes(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _nodes(value)


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(schemas, st.data())
def test_valid_schemas_with_keywords_of_any_value(schema: dict[str, Any], data: st.DataObject) -> None:
    """Real schemas with a few keywords, anywhere inside them, set to anything: the same promise."""
    spoiled = json.loads(json.dumps(schema))
    nodes = list(_nodes(spoiled))
    for _ in range(data.draw(st.integers(1, 3))):
        node = data.draw(st.sampled_from(nodes))
        node[data.draw(st.sampled_from(KEYWORDS))] = data.draw(
            json_scalars | st.lists(json_scalars, max_size=3) | any_json
        )
    _check_outcome(spoiled)
    _check_outcome({"type": "object", "properties": {"v": spoiled, "w": schema}, "required": ["v"]})


ODD_VALUES: list[Any] = [None, True, -1, 0, 1.5, 10**400, "x", "#foo", [], ["x"], [1, "a"], {}, {"a": 1}, {"type": 5}]
BASES: list[dict[str, Any]] = [
    {"type": "string"},
    {"type": "integer"},
    {"type": "number", "minimum": 1},
    {"type": "array", "minItems": 1},
    {"type": "object", "required": ["a"]},
    {"type": ["string", "null"]},
    {},
]


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_every_keyword_with_every_odd_value(keyword: str) -> None:
    """Each keyword set to values of every JSON type, on every kind of node, at the root and nested."""
    for base in BASES:
        for odd in ODD_VALUES:
            node = {**base, keyword: odd}
            for schema in (
                node,
                {"type": "object", "properties": {"a": node}, "required": ["a"]},
                {"allOf": [node, {"type": "object"}]},
                {"anyOf": [node, {"type": "null"}]},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/n"}, "$defs": {"n": node}},
            ):
                _check_outcome(schema)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(KEYWORDS), any_json, max_size=5), st.booleans(), st.booleans())
def test_any_schema_through_the_app_is_a_200_or_a_400(
    http: httpx2.Client, schema: dict[str, Any], as_tool: bool, strict: bool
) -> None:
    response = _post_schema(http, json.dumps(schema), as_tool, strict)
    assert response.status_code in {200, 400}, response.text
    payload = json.loads(response.text, parse_constant=_not_json)
    if response.status_code == 400:
        assert set(payload["error"]) == {"message", "type", "param", "code"}
    else:
        message = payload["choices"][0]["message"]
        json.loads(_answer(response, as_tool) if message["content"] or as_tool else "null", parse_constant=_not_json)


def _not_json(constant: str) -> Any:
    raise AssertionError(f"{constant} is not JSON")


# --- request bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    ['{"const": Infinity}', '{"enum": [NaN]}', '{"type": "object", "properties": {"a": {"const": -Infinity}}}'],
)
def test_nan_and_infinity_in_a_body_are_not_json(http: httpx2.Client, schema: str) -> None:
    """They were parsed, and came back out as text no JSON parser reads."""
    for as_tool in (False, True):
        response = _post_schema(http, _wrapped(schema) if as_tool else schema, as_tool)
        error = _error(response)
        assert error["code"] == "invalid_json" and "could not parse the JSON body" in error["message"]
    words = '{"model":"gpt-4","messages":[{"role":"user","content":"NaN and Infinity are words"}]}'
    response = http.post("/v1/chat/completions", content=words, headers={"content-type": "application/json"})
    assert response.status_code == 200, "in a string they are text"


def test_best_of_below_n_is_a_400(http: httpx2.Client) -> None:
    body = {"model": "text-davinci-003", "prompt": "Say hi", "n": 3, "best_of": 2}
    error = _error(http.post("/v1/completions", json=body))
    assert error["param"] == "best_of" and "best_of must be greater than or equal to n" in error["message"]
    with InProcessMock().client() as client, pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="text-davinci-003", prompt="Say hi", n=2, best_of=1)
    assert caught.value.param == "best_of"
    assert http.post("/v1/completions", json={**body, "best_of": 3}).status_code == 200
