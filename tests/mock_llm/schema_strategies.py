"""Hypothesis strategies for the JSON Schema keywords OpenAI's request schemas use.

hypothesis-jsonschema (0.23.1, its latest release) no longer runs on current Hypothesis:
it calls a private ``many.more()`` that Hypothesis removed. schemathesis carries its
own generator but brings eight more dependencies (a Rust validator, GraphQL, requests,
werkzeug...). OpenAI's request schemas use a small set of keywords, so this module
covers exactly that set and refuses any other keyword, rather than silently ignoring a
constraint; the fuzz tests also validate every generated body against the spec, so a
generator bug fails loudly instead of testing the mock with invalid requests.

Sizes are kept small (arrays of a few items, short strings): the point is the shape of
every request the spec allows, not load.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

KNOWN = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
    }
)
MAX_EXTRA_ITEMS = 3
_ABSENT = object()
MAX_TEXT = 40

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _check_keywords(schema: dict[str, Any]) -> None:
    unknown = set(schema) - KNOWN
    if unknown:
        raise NotImplementedError(f"schema keyword(s) {sorted(unknown)} are not supported by this generator")


def _flatten(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if set(part) == {"allOf"}:
            out.extend(_flatten(part["allOf"]))
        else:
            out.append(part)
    return out


def _merge_objects(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``allOf`` of object schemas as one object schema (a property in several parts gets their allOf)."""
    properties: dict[str, list[dict[str, Any]]] = {}
    required: list[str] = []
    closed = False
    for part in _flatten(parts):
        if set(part) - {"type", "properties", "required", "additionalProperties"} or part.get("type") != "object":
            return None
        for name, sub in part.get("properties", {}).items():
            properties.setdefault(name, []).append(sub)
        required.extend(r for r in part.get("required", []) if r not in required)
        closed = closed or part.get("additionalProperties") is False
    merged: dict[str, Any] = {
        "type": "object",
        "properties": {name: subs[0] if len(subs) == 1 else {"allOf": subs} for name, subs in properties.items()},
        "required": required,
    }
    if closed:
        merged["additionalProperties"] = False
    return merged


def from_schema(schema: dict[str, Any] | bool) -> st.SearchStrategy[Any]:
    """Values valid under ``schema`` (a self-contained schema: no ``$ref``)."""
    if schema is True or schema == {}:
        return json_values
    if schema is False:
        return st.nothing()
    assert isinstance(schema, dict)
    _check_keywords(schema)
    combinators = [k for k in ("anyOf", "oneOf", "allOf") if k in schema]
    if combinators:
        if len(schema) > 1:
            raise NotImplementedError(f"keywords beside {combinators}: {sorted(schema)}")
        key = combinators[0]
        if key == "allOf":
            merged = _merge_objects(schema["allOf"])
            if merged is not None:
                return _object(merged)
            # not objects (a property declared by several parts): draw from one, keep what all accept
            parts = _flatten(schema["allOf"])
            return st.one_of([from_schema(p) for p in parts]).filter(Draft202012Validator(schema).is_valid)
        branches = st.one_of([from_schema(branch) for branch in schema[key]])
        # oneOf means exactly one branch: a value two branches accept is not valid
        return branches.filter(Draft202012Validator(schema).is_valid) if key == "oneOf" else branches
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type")
    if types is None:
        types = ["object"] if "properties" in schema else ["array"] if "items" in schema else None
    if types is None:
        return json_values.filter(Draft202012Validator(schema).is_valid)
    if isinstance(types, str):
        types = [types]
    return st.one_of([_typed(t, schema) for t in types])


def _typed(kind: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
            None if low is None else int(-(-low // 1)), None if high is None else int(high // 1)
        )
    if kind == "string":
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=min(schema.get("maxLength", MAX_TEXT), low + MAX_TEXT))
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + MAX_EXTRA_ITEMS), low + MAX_EXTRA_ITEMS)
        return st.lists(from_schema(schema.get("items", True)), min_size=low, max_size=high)
    if kind == "object":
        return _object(schema)
    raise NotImplementedError(f"type {kind!r}")


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    missing = [name for name in schema.get("required", []) if name not in properties]
    extra = schema.get("additionalProperties", True)
    # Each optional property is present half the time (fixed_dictionaries' own optional keys
    # are drawn so sparsely that most bodies would be the bare required fields).
    drawn = st.fixed_dictionaries(
        {name: from_schema(properties[name]) for name in required}
        | {name: json_values for name in missing}
        | {
            name: st.one_of(st.just(_ABSENT), from_schema(sub))
            for name, sub in properties.items()
            if name not in required
        }
    )
    fixed = drawn.map(lambda values: {k: v for k, v in values.items() if v is not _ABSENT})
    if extra is False:
        return fixed
    names = st.text(max_size=10).filter(lambda n: n not in properties)
    extras = st.dictionaries(names, from_schema(extra), max_size=2 if not properties else 1)
    return st.builds(lambda known, more: {**more, **known}, fixed, extras)
