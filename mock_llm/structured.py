"""Structured outputs: a JSON value that satisfies a JSON Schema, for ``json_schema`` answers and tool calls.

OpenAI's structured outputs constrain the model to a subset of JSON Schema. The mock
produces one valid instance of such a schema, deterministically, and fills it with the
model's answer where a field is meant for it: a string property named like
``sentiment``/``label``/``answer`` gets the answer (the label for a sentiment prompt),
``confidence``/``score`` gets the classifier's confidence, ``query``/``question``/``text``
gets the user's message, and an ``enum`` picks the member that matches the answer.

Supported: ``type`` (one or a list, ``null`` included), ``object`` with ``properties``,
``required`` and ``additionalProperties``, ``string`` with ``enum``/``const``,
``minLength``/``maxLength`` and the formats OpenAI lists, ``number``/``integer`` with
``minimum``/``maximum`` (exclusive too) and ``multipleOf``, ``boolean``, ``array`` with
``items``/``prefixItems``/``minItems``/``maxItems``, ``anyOf``/``oneOf``, ``allOf`` of
one schema, and ``$defs``/``definitions``/``$ref`` (recursion included). A keyword that
would constrain the value and that the mock cannot honour (``pattern``, ``not``,
``if``/``then``/``else``, ...) is refused with :class:`Unsupported` rather than
answered with JSON that breaks it.

:func:`strict_problems` applies OpenAI's rules for ``strict: true`` schemas (an object
root, ``additionalProperties: false`` and every property required in every object), so
a schema OpenAI would refuse is refused here with the same message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 8  # nesting beyond this takes the shortest way out (null, empty list, fewest properties)
GIVE_UP_DEPTH = 150  # a value still unfinished this deep has no finite instance
MAX_TEXT = 400  # characters of the answer put in one string field

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "example",
        "$comment",
        "$schema",
        "$id",
        "$anchor",
        "deprecated",
        "readOnly",
        "writeOnly",
        "strict",
        "discriminator",
        "nullable",
        "contentEncoding",
        "contentMediaType",
    }
)
SUPPORTED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "format",
        "additionalItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    }
)
TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
}

ANSWER_NAMES = frozenset(
    """answer reply response sentiment label labels classification class category polarity tone verdict
    result output content message summary explanation completion prediction""".split()
)
CONFIDENCE_NAMES = frozenset("confidence score probability certainty likelihood".split())
QUERY_NAMES = frozenset("query question text input prompt q search search_query user_query keywords".split())


class SchemaError(ValueError):
    """The schema is not a usable JSON Schema (``where`` is the path inside it)."""

    def __init__(self, message: str, where: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


class Unsupported(SchemaError):
    """The schema uses a keyword the mock cannot honour."""


@dataclass(frozen=True, slots=True)
class Hints:
    """What the model would put in the fields meant for it."""

    answer: str
    query: str = ""
    confidence: float | None = None


def _words(name: str) -> set[str]:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    parts = {p for p in re.split(r"[^a-z0-9]+", snake) if p}
    return parts | {snake.strip("_")}


def _context(where: tuple[str, ...]) -> str:
    return repr(tuple(where))


def strict_problems(schema: Any) -> str | None:
    """Why OpenAI's strict mode would refuse ``schema`` (its own wording), or None when it is fine."""
    if not isinstance(schema, dict) or schema.get("type") != "object" or "anyOf" in schema:
        got = schema.get("type") if isinstance(schema, dict) else type(schema).__name__
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."
    for where, node in _subschemas(schema, ()):
        is_object = node.get("type") == "object" or (isinstance(node.get("type"), list) and "object" in node["type"])
        if not is_object and "properties" not in node:
            continue
        if node.get("additionalProperties") is not False:
            return f"In context={_context(where)}, 'additionalProperties' is required to be supplied and to be false."
        properties = node.get("properties", {})
        required = node.get("required", [])
        missing = [name for name in properties if name not in required] if isinstance(required, list) else []
        if not isinstance(required, list) or missing:
            shown = f" Missing '{missing[0]}'." if missing else ""
            return (
                f"In context={_context(where)}, 'required' is required to be supplied and to be an array "
                f"including every key in properties.{shown}"
            )
    return None


def _subschemas(node: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    yield where, node
    for key in ("properties", "$defs", "definitions"):
        children = node.get(key)
        if isinstance(children, dict):
            for name, child in children.items():
                yield from _subschemas(child, (*where, key, name))
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _subschemas(node[key], (*where, key))
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(node.get(key), list):
            for i, child in enumerate(node[key]):
                yield from _subschemas(child, (*where, key, str(i)))


class _Builder:
    def __init__(self, root: Any, hints: Hints) -> None:
        self.root = root
        self.hints = hints

    # --- helpers ---------------------------------------------------------------------------

    def resolve(self, ref: Any, where: tuple[str, ...]) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise Unsupported(f"only local references ('#/...') are supported, got {ref!r}", where)
        node = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"reference {ref!r} does not resolve", where)
        return node

    def check(self, schema: dict[str, Any], where: tuple[str, ...]) -> None:
        for key in schema:
            if key in SUPPORTED or key in ANNOTATIONS or key.startswith("x-"):
                continue
            raise Unsupported(f"the mock does not support the keyword '{key}'", where)

    # --- the instance ----------------------------------------------------------------------

    def value(self, schema: Any, name: str, where: tuple[str, ...], depth: int) -> Any:
        if depth > GIVE_UP_DEPTH:
            raise SchemaError("the schema has no finite instance (a required value that always recurses)", where)
        if schema is True or schema == {}:
            return self.free(name)
        if schema is False:
            raise SchemaError("'false' admits no value", where)
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, got {json.dumps(schema)[:40]}", where)
        self.check(schema, where)
        if "$ref" in schema:
            target = self.resolve(schema["$ref"], where)
            rest = {k: v for k, v in schema.items() if k not in ANNOTATIONS and k != "$ref"}
            if rest and set(rest) - {"$defs", "definitions"}:
                return self.value({"allOf": [target, rest]}, name, where, depth + 1)
            return self.value(target, name, (*where, "$ref"), depth + 1)
        if "allOf" in schema:
            parts = schema["allOf"]
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            if not isinstance(parts, list) or not parts:
                raise SchemaError("'allOf' must be a non-empty array", where)
            merged = _merge_all([self.deref(p, where) for p in parts] + ([rest] if rest else []), where)
            return self.value(merged, name, where, depth + 1)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.branch(schema, key, name, where, depth)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.enum(schema["enum"], name, where)
        kinds = self.kinds(schema, where)
        if not kinds:
            return self.free(name)
        if "null" in kinds and (depth > MAX_DEPTH or len(kinds) == 1):
            return None
        kind = next(k for k in kinds if k != "null") if set(kinds) != {"null"} else "null"
        return self.typed(kind, schema, name, where, depth)

    def deref(self, schema: Any, where: tuple[str, ...]) -> Any:
        seen = 0
        while isinstance(schema, dict) and set(schema) - ANNOTATIONS == {"$ref"}:
            schema = self.resolve(schema["$ref"], where)
            seen += 1
            if seen > MAX_DEPTH:
                raise SchemaError("references form a loop", where)
        return schema

    def kinds(self, schema: dict[str, Any], where: tuple[str, ...]) -> list[str]:
        kind = schema.get("type")
        if kind is None:
            if "properties" in schema or "required" in schema:
                return ["object"]
            if "items" in schema or "prefixItems" in schema:
                return ["array"]
            return []
        kinds = kind if isinstance(kind, list) else [kind]
        if not kinds or any(k not in TYPES for k in kinds):
            raise SchemaError(f"'type' must be one of {list(TYPES)} or a list of them, got {json.dumps(kind)}", where)
        return list(kinds)

    def branch(self, schema: dict[str, Any], key: str, name: str, where: tuple[str, ...], depth: int) -> Any:
        options = schema[key]
        if not isinstance(options, list) or not options:
            raise SchemaError(f"'{key}' must be a non-empty array", where)
        rest = {k: v for k, v in schema.items() if k not in {key} | ANNOTATIONS}
        order = list(range(len(options)))
        if depth > MAX_DEPTH:  # the way out of a recursion: a null or leaf branch first
            order.sort(key=lambda i: _weight(self.deref(options[i], where)))
        last: SchemaError | None = None
        for i in order:
            option = options[i] if not rest else {"allOf": [options[i], rest]}
            try:
                return self.value(option, name, (*where, key, str(i)), depth + 1)
            except Unsupported:
                raise
            except SchemaError as exc:
                last = exc
        assert last is not None
        raise last

    def enum(self, members: Any, name: str, where: tuple[str, ...]) -> Any:
        if not isinstance(members, list) or not members:
            raise SchemaError("'enum' must be a non-empty array", where)
        wanted = self.hints.answer.strip().lower()
        for member in members:
            if isinstance(member, str) and member.strip().lower() == wanted:
                return member
        if wanted:
            for member in members:
                if isinstance(member, str) and member and (member.lower() in wanted or wanted in member.lower()):
                    return member
        return members[0]

    def free(self, name: str) -> Any:
        """A value for a schema that admits anything: the fitting hint, or null."""
        words = _words(name)
        if words & CONFIDENCE_NAMES and self.hints.confidence is not None:
            return self.hints.confidence
        if words & (ANSWER_NAMES | QUERY_NAMES):
            return self.string({}, name, ())
        return None

    def typed(self, kind: str, schema: dict[str, Any], name: str, where: tuple[str, ...], depth: int) -> Any:
        if kind == "null":
            return None
        if kind == "boolean":
            return True
        if kind == "string":
            return self.string(schema, name, where)
        if kind in {"number", "integer"}:
            return self.number(schema, kind == "integer", name, where)
        if kind == "array":
            return self.array(schema, name, where, depth)
        return self.object(schema, where, depth)

    def string(self, schema: dict[str, Any], name: str, where: tuple[str, ...]) -> str:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if not _count(low) or (high is not None and not _count(high)):
            raise SchemaError("'minLength' and 'maxLength' must be non-negative integers", where)
        fmt = schema.get("format")
        if fmt is not None:
            if fmt not in FORMATS:
                raise Unsupported(f"the mock does not support the string format {fmt!r}", where)
            text = FORMATS[fmt]
        else:
            words = _words(name)
            if words & QUERY_NAMES and self.hints.query:
                text = self.hints.query
            elif words & ANSWER_NAMES or not name:
                text = self.hints.answer
            else:
                text = name.replace("_", " ").strip() or "value"
            text = text[:MAX_TEXT]
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if high is not None and len(text) > high:
            text = text[:high]
        if high is not None and high < low:
            raise SchemaError("'maxLength' is below 'minLength'", where)
        return text

    def number(self, schema: dict[str, Any], integer: bool, name: str, where: tuple[str, ...]) -> int | float:
        low, high = (
            _bound(schema, "minimum", "exclusiveMinimum", where),
            _bound(schema, "maximum", "exclusiveMaximum", where),
        )
        step = schema.get("multipleOf")
        if step is not None and (not _number(step) or step <= 0):
            raise SchemaError("'multipleOf' must be a number above 0", where)

        def fits(x: float) -> bool:
            above = low is None or (x > low[0] if low[1] else x >= low[0])
            below = high is None or (x < high[0] if high[1] else x <= high[0])
            on_step = step is None or math.isclose(x / step, round(x / step), abs_tol=1e-9)
            return above and below and on_step

        candidates: list[float] = []
        if _words(name) & CONFIDENCE_NAMES and self.hints.confidence is not None:
            candidates.append(self.hints.confidence * (100 if integer and high and high[0] >= 100 else 1))
        candidates.append(0)
        for bound, up in ((low, 1), (high, -1)):
            if bound is not None:
                candidates += [bound[0], bound[0] + up, bound[0] + up * 0.5]
        if low is not None and high is not None:
            candidates.append((low[0] + high[0]) / 2)
        if step is not None:
            for base in list(candidates):
                candidates += [math.ceil(base / step) * step, math.floor(base / step) * step]
        for x in candidates:
            value: int | float = round(x) if integer else x
            if integer and not float(value).is_integer():
                continue
            if fits(float(value)):
                return int(value) if integer else value
        raise SchemaError("no number satisfies the schema's bounds", where)

    def array(self, schema: dict[str, Any], name: str, where: tuple[str, ...], depth: int) -> list[Any]:
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        if not _count(low) or (high is not None and not _count(high)):
            raise SchemaError("'minItems' and 'maxItems' must be non-negative integers", where)
        prefix = schema.get("prefixItems", [])
        if not isinstance(prefix, list):
            raise SchemaError("'prefixItems' must be an array", where)
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        count = low if depth > MAX_DEPTH else max(low, 1)
        if high is not None:
            if high < low:
                raise SchemaError("'maxItems' is below 'minItems'", where)
            count = min(count, high)
        out: list[Any] = []
        for i in range(count):
            sub, at = (prefix[i], (*where, "prefixItems", str(i))) if i < len(prefix) else (items, (*where, "items"))
            if sub is False:
                raise SchemaError("the array needs more items than it allows", where)
            out.append(self.value(sub, _singular(name), at, depth + 1))
        if schema.get("uniqueItems") and len({json.dumps(x, sort_keys=True) for x in out}) < len(out):
            raise Unsupported("the mock cannot fill 'uniqueItems' arrays of more than one item", where)
        return out

    def object(self, schema: dict[str, Any], where: tuple[str, ...], depth: int) -> dict[str, Any]:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, dict):
            raise SchemaError("'properties' must be an object", where)
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise SchemaError("'required' must be an array of strings", where)
        extra = schema.get("additionalProperties", True)
        out: dict[str, Any] = {}
        names = list(properties) if depth <= MAX_DEPTH else [n for n in properties if n in required]
        for prop in names:
            out[prop] = self.value(properties[prop], prop, (*where, "properties", prop), depth + 1)
        for prop in required:
            if prop not in out:
                if extra is False:
                    raise SchemaError(f"'{prop}' is required but 'additionalProperties' is false", where)
                out[prop] = self.value(extra, prop, (*where, "additionalProperties"), depth + 1)
        low = schema.get("minProperties", 0)
        high = schema.get("maxProperties")
        if not _count(low) or (high is not None and not _count(high)):
            raise SchemaError("'minProperties' and 'maxProperties' must be non-negative integers", where)
        if high is not None and len(out) > high:
            for prop in [n for n in list(out) if n not in required][: len(out) - high]:
                del out[prop]
            if len(out) > high:
                raise SchemaError("more properties are required than 'maxProperties' allows", where)
        n = 0
        while len(out) < low:
            if extra is False:
                raise SchemaError("'minProperties' needs more properties than the schema allows", where)
            n += 1
            out[f"field_{n}"] = self.value(extra, f"field_{n}", (*where, "additionalProperties"), depth + 1)
        return out


def _merge_all(parts: list[Any], where: tuple[str, ...]) -> Any:
    """``allOf`` as one schema: one part, or object parts whose properties can be united."""
    parts = [p for p in parts if p is not True and p != {}]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, dict):
            raise SchemaError("'allOf' parts must be schemas", where)
        for key, value in part.items():
            if key in ANNOTATIONS:
                continue
            if key == "properties":
                merged.setdefault("properties", {})
                for name, sub in value.items():
                    if name in merged["properties"] and merged["properties"][name] != sub:
                        raise Unsupported(f"the mock cannot merge two 'allOf' schemas for '{name}'", where)
                    merged["properties"][name] = sub
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key in merged and merged[key] != value:
                raise Unsupported(f"the mock cannot merge 'allOf' schemas that disagree on '{key}'", where)
            else:
                merged[key] = value
    return merged


def _weight(schema: Any) -> int:
    """How far a branch is from a leaf: null first, then scalars, then containers."""
    if not isinstance(schema, dict):
        return 1
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return 0
    if kind in {"string", "number", "integer", "boolean"} or "enum" in schema or "const" in schema:
        return 1
    if kind == "array":
        return 2 if schema.get("minItems", 0) == 0 else 4
    return 3


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and len(name) > 3 else name


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, where: tuple[str, ...]) -> tuple[float, bool] | None:
    """The tighter of a schema's inclusive and exclusive bound on one side: (value, exclusive)."""
    out: tuple[float, bool] | None = None
    if inclusive in schema:
        if not _number(schema[inclusive]):
            raise SchemaError(f"'{inclusive}' must be a number", where)
        out = (schema[inclusive], False)
    if exclusive in schema:
        value = schema[exclusive]
        if isinstance(value, bool):  # draft 4: a flag on the inclusive bound
            return (out[0], value) if out is not None else None
        if not _number(value):
            raise SchemaError(f"'{exclusive}' must be a number", where)
        tighter = out is None or (value >= out[0] if inclusive == "minimum" else value <= out[0])
        if tighter:
            out = (value, True)
    return out


def instance(schema: Any, hints: Hints) -> Any:
    """One value valid under ``schema``, filled from ``hints`` where a field is meant for them.

    Raises :class:`SchemaError` for a schema that is not usable and :class:`Unsupported`
    for one the mock cannot honour.
    """
    if schema is None or schema is True or schema == {}:
        return {"answer": hints.answer}
    return _Builder(schema, hints).value(schema, "", (), 0)
