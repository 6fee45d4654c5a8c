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

Any JSON value may arrive as a schema, so the generator defends itself:

* every keyword's value is checked for its type before anything is generated (a
  :class:`SchemaError` naming the keyword and its path);
* numbers are exact: bounds and ``multipleOf`` are :class:`fractions.Fraction` values of
  the decimals the schema wrote, so ``1e-300`` steps and 400-digit bounds neither overflow
  nor round (an integer ``multipleOf: 0.3`` is a multiple of 3);
* one answer has a budget (:data:`MAX_CHARS` characters, :data:`MAX_VALUES` values,
  :data:`MAX_WORK` steps of work): a schema that needs more is refused with
  :class:`TooLarge`, before the memory is spent;
* any other failure inside the generator is an :class:`Unsupported` saying the mock could
  not generate an instance, never an exception the server would answer with a 500.

:func:`strict_problems` applies OpenAI's rules for ``strict: true`` schemas (an object
root, ``additionalProperties: false`` and every property required in every object) and
its published size limits (:data:`LIMIT_PROPERTIES` and the others), so a schema OpenAI
would refuse is refused here with the same message.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

MAX_DEPTH = 8  # nesting beyond this takes the shortest way out (null, empty list, fewest properties)
GIVE_UP_DEPTH = 150  # a value still unfinished this deep has no finite instance
MAX_TEXT = 400  # characters of the answer put in one string field

# The mock's budget for one answer: beyond it a schema is refused (TooLarge), not answered.
MAX_CHARS = 100_000  # characters of JSON
MAX_VALUES = 20_000  # values: strings, numbers, booleans, nulls, arrays and objects
MAX_WORK = 100_000  # steps of generation, failed anyOf branches included

# OpenAI's published limits for strict schemas (the structured-outputs guide, "Supported schemas").
LIMIT_PROPERTIES = 5_000  # object properties in the whole schema
LIMIT_NESTING = 10  # levels of objects nested below the root
LIMIT_ENUM_VALUES = 1_000  # enum values in the whole schema
LIMIT_STRING_CHARS = 120_000  # property names, definition names, enum and const values, together
LIMIT_BIG_ENUM = 250  # a string enum with more values than this ...
LIMIT_BIG_ENUM_CHARS = 15_000  # ... may hold at most this many characters
MAX_WHERE = 16  # path elements shown in an error; longer paths keep their two ends

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
SCALARS = frozenset({"string", "number", "integer", "boolean"})
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
        if len(where) > MAX_WHERE:  # a deep recursion: its start and its end say enough
            where = (*where[: MAX_WHERE // 2], "...", *where[-(MAX_WHERE // 2 - 1) :])
        self.where = where


class Unsupported(SchemaError):
    """The schema uses a keyword the mock cannot honour."""


class TooLarge(Unsupported):
    """The instance would exceed the mock's budget for one answer."""


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


def _show(value: Any) -> str:
    """A keyword's value, short, for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _name(text: str) -> str:
    """A keyword, property or format name, quoted and short, for an error message."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


# --- keyword value types ------------------------------------------------------------------------------


def _is_schema(value: Any) -> bool:
    return isinstance(value, dict | bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_type(value: Any) -> bool:
    if isinstance(value, str):
        return value in TYPES
    return isinstance(value, list) and bool(value) and all(isinstance(k, str) and k in TYPES for k in value)


def _is_schema_map(value: Any) -> bool:
    return isinstance(value, dict) and all(_is_schema(v) for v in value.values())


def _is_schema_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_schema(v) for v in value)


KEYWORD_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "type": (_is_type, f"one of {', '.join(TYPES)}, or a non-empty array of them"),
    "properties": (_is_schema_map, "an object whose values are schemas"),
    "$defs": (_is_schema_map, "an object whose values are schemas"),
    "definitions": (_is_schema_map, "an object whose values are schemas"),
    "required": (lambda v: isinstance(v, list) and all(isinstance(r, str) for r in v), "an array of strings"),
    "additionalProperties": (_is_schema, "a schema (an object or a boolean)"),
    "additionalItems": (_is_schema, "a schema (an object or a boolean)"),
    "items": (lambda v: _is_schema(v) or _is_schema_list(v), "a schema or an array of schemas"),
    "prefixItems": (_is_schema_list, "an array of schemas"),
    "anyOf": (lambda v: _is_schema_list(v) and bool(v), "a non-empty array of schemas"),
    "oneOf": (lambda v: _is_schema_list(v) and bool(v), "a non-empty array of schemas"),
    "allOf": (lambda v: _is_schema_list(v) and bool(v), "a non-empty array of schemas"),
    "enum": (lambda v: isinstance(v, list) and bool(v), "a non-empty array"),
    "minItems": (_is_count, "a non-negative integer"),
    "maxItems": (_is_count, "a non-negative integer"),
    "minLength": (_is_count, "a non-negative integer"),
    "maxLength": (_is_count, "a non-negative integer"),
    "minProperties": (_is_count, "a non-negative integer"),
    "maxProperties": (_is_count, "a non-negative integer"),
    "minimum": (_is_number, "a number"),
    "maximum": (_is_number, "a number"),
    "exclusiveMinimum": (lambda v: _is_number(v) or isinstance(v, bool), "a number"),
    "exclusiveMaximum": (lambda v: _is_number(v) or isinstance(v, bool), "a number"),
    "multipleOf": (lambda v: _is_number(v) and v > 0, "a number above 0"),
    "format": (lambda v: isinstance(v, str), "a string"),
    "uniqueItems": (lambda v: isinstance(v, bool), "a boolean"),
    "$ref": (lambda v: isinstance(v, str), "a string"),
}


def check_keywords(schema: dict[str, Any], where: tuple[str, ...]) -> None:
    """Raise :class:`SchemaError` for a keyword of this one node whose value has the wrong type."""
    for key, value in schema.items():
        rule = KEYWORD_TYPES.get(key)
        if rule is not None and not rule[0](value):
            raise SchemaError(f"'{key}' must be {rule[1]}, got {_show(value)}", (*where, key))


def _subschemas(schema: Any) -> Iterator[tuple[tuple[str, ...], dict[str, Any], int]]:
    """Every object schema inside ``schema``, in document order: (path, node, objects enclosing it).

    Iterative, so no nesting the JSON parser lets through can exhaust the stack.
    """
    stack: list[tuple[tuple[str, ...], Any, int]] = [((), schema, 0)]
    while stack:
        where, node, level = stack.pop()
        if not isinstance(node, dict):
            continue
        yield where, node, level
        inner = level + (1 if _is_object(node) else 0)
        children: list[tuple[tuple[str, ...], Any, int]] = []
        for key in ("properties", "$defs", "definitions"):
            group = node.get(key)
            if isinstance(group, dict):
                below = inner if key == "properties" else 0  # a definition nests where it is used
                children += [((*where, key, name), child, below) for name, child in group.items()]
        for key in ("items", "additionalProperties", "additionalItems"):
            if isinstance(node.get(key), dict):
                children.append(((*where, key), node[key], inner))
        for key in ("anyOf", "oneOf", "allOf", "prefixItems", "items"):
            if isinstance(node.get(key), list):
                children += [((*where, key, str(i)), child, level) for i, child in enumerate(node[key])]
        stack.extend(reversed(children))


def _is_object(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def check_schema(schema: Any) -> None:
    """Check every keyword's value type in the whole schema, reachable or not."""
    for where, node, _ in _subschemas(schema):
        check_keywords(node, where)


# --- OpenAI's strict mode ---------------------------------------------------------------------------


def strict_problems(schema: Any) -> str | None:
    """Why OpenAI's strict mode would refuse ``schema`` (its own wording), or None when it is fine."""
    if not isinstance(schema, dict) or schema.get("type") != "object" or "anyOf" in schema:
        got = schema.get("type") if isinstance(schema, dict) else type(schema).__name__
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."
    try:
        check_schema(schema)
    except SchemaError as exc:
        return f"In context={_context(exc.where)}, {exc.message}."
    for where, node, _ in _subschemas(schema):
        if not _is_object(node):
            continue
        if node.get("additionalProperties") is not False:
            return f"In context={_context(where)}, 'additionalProperties' is required to be supplied and to be false."
        properties = node.get("properties", {})
        required = node.get("required", [])
        missing = [name for name in properties if name not in required]
        if missing:
            return (
                f"In context={_context(where)}, 'required' is required to be supplied and to be an array "
                f"including every key in properties. Missing '{missing[0]}'."
            )
    return _limit_problem(schema)


def _limit_problem(schema: dict[str, Any]) -> str | None:
    """The first of OpenAI's published size limits for strict schemas that ``schema`` breaks."""
    properties = enums = chars = 0
    for where, node, level in _subschemas(schema):
        if level > LIMIT_NESTING and _is_object(node):
            return (
                f"In context={_context(where)}, objects are nested {level} levels deep; "
                f"a schema may nest objects at most {LIMIT_NESTING} levels deep."
            )
        for key in ("properties", "$defs", "definitions"):
            names = node.get(key, {})
            chars += sum(len(name) for name in names)
            properties += len(names) if key == "properties" else 0
        members = node.get("enum", [])
        enums += len(members)
        texts = [m for m in members if isinstance(m, str)]
        if isinstance(node.get("const"), str):
            texts.append(node["const"])
        size = sum(len(t) for t in texts)
        chars += size
        if len(members) > LIMIT_BIG_ENUM and len(texts) == len(members) and size > LIMIT_BIG_ENUM_CHARS:
            return (
                f"In context={_context(where)}, an enum of {len(members)} values has {size} characters in total; "
                f"an enum of more than {LIMIT_BIG_ENUM} values may have at most {LIMIT_BIG_ENUM_CHARS} characters."
            )
    if properties > LIMIT_PROPERTIES:
        return f"The schema has {properties} object properties; at most {LIMIT_PROPERTIES} are allowed in a schema."
    if enums > LIMIT_ENUM_VALUES:
        return f"The schema has {enums} enum values; at most {LIMIT_ENUM_VALUES} are allowed in a schema."
    if chars > LIMIT_STRING_CHARS:
        return (
            f"The property names, definition names, enum values and const values of the schema have {chars} "
            f"characters in total; at most {LIMIT_STRING_CHARS} are allowed."
        )
    return None


# --- the instance ---------------------------------------------------------------------------------


class _Builder:
    def __init__(self, root: Any, hints: Hints) -> None:
        self.root = root
        self.hints = hints
        self.work = 0  # steps taken, never given back
        self.values = 0  # values in the answer so far
        self.chars = 0  # its characters of JSON so far (estimated; the finished text is measured)
        self.sizes: dict[int, int] = {}  # id of a const or enum member -> its length as JSON

    # --- the budget ------------------------------------------------------------------------

    def step(self, cost: int, where: tuple[str, ...]) -> None:
        self.work += cost
        if self.work > MAX_WORK:
            raise TooLarge(f"generating the answer takes more than the mock's budget of {MAX_WORK:,} steps", where)

    def spend(self, values: int, chars: int, where: tuple[str, ...]) -> None:
        self.values += values
        self.chars += chars
        if self.values > MAX_VALUES:
            raise TooLarge(f"the answer would hold more than the mock's budget of {MAX_VALUES:,} values", where)
        if self.chars > MAX_CHARS:
            raise TooLarge(f"the answer would be longer than the mock's budget of {MAX_CHARS:,} characters", where)

    def room(self, wanted: int, keyword: str, unit: str, where: tuple[str, ...]) -> None:
        """Refuse a count the budget cannot hold before building anything of it."""
        left = MAX_VALUES - self.values if unit == "values" else MAX_CHARS - self.chars
        if wanted > left:
            budget = MAX_VALUES if unit == "values" else MAX_CHARS
            raise TooLarge(
                f"'{keyword}' asks for {wanted:,} {'items' if keyword.endswith('Items') else unit}, "
                f"more than the mock's budget of {budget:,} {unit} in one answer",
                where,
            )

    def leaf(self, value: Any, where: tuple[str, ...]) -> Any:
        """``value`` (a scalar, or a const or enum member of any shape), counted into the budget."""
        if isinstance(value, str):
            size = len(value) + 2
        elif isinstance(value, bool) or value is None:
            size = 5
        elif isinstance(value, int | float):
            size = len(repr(value))
        else:
            key = id(value)
            if key not in self.sizes:
                self.sizes[key] = len(_dump(value))  # raises for NaN: instance() turns it into a SchemaError
            size = self.sizes[key]
        self.spend(1, size, where)
        return value

    # --- helpers ---------------------------------------------------------------------------

    def resolve(self, ref: str, where: tuple[str, ...]) -> Any:
        if not ref.startswith("#"):
            raise Unsupported(f"only local references ('#/...') are supported, got {_show(ref)}", where)
        if ref != "#" and not ref.startswith("#/"):
            raise Unsupported(
                f"only JSON-pointer references ('#' or '#/...') are supported, not anchors: got {_show(ref)}", where
            )
        node = self.root
        for raw in ref[2:].split("/") if ref != "#" else []:
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"reference {_show(ref)} does not resolve", where)
        return node

    def check(self, schema: dict[str, Any], where: tuple[str, ...]) -> None:
        self.step(1 + len(schema), where)
        for key in schema:
            if key in SUPPORTED or key in ANNOTATIONS or key.startswith("x-"):
                continue
            raise Unsupported(f"the mock does not support the keyword {_name(key)}", where)
        check_keywords(schema, where)  # a node reached through a $ref may not have been checked yet

    # --- the instance ----------------------------------------------------------------------

    def value(self, schema: Any, name: str, where: tuple[str, ...], depth: int) -> Any:
        if depth > GIVE_UP_DEPTH:
            raise SchemaError("the schema has no finite instance (a required value that always recurses)", where)
        if schema is True or schema == {}:
            return self.free(name, where)
        if schema is False:
            raise SchemaError("'false' admits no value", where)
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, got {_show(schema)}", where)
        self.check(schema, where)
        if "$ref" in schema:
            target = self.resolve(schema["$ref"], where)
            rest = {k: v for k, v in schema.items() if k not in ANNOTATIONS and k != "$ref"}
            if rest and set(rest) - {"$defs", "definitions"}:
                return self.value({"allOf": [target, rest]}, name, where, depth + 1)
            return self.value(target, name, (*where, "$ref"), depth + 1)
        if "allOf" in schema:
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            parts = [self.deref(p, where) for p in schema["allOf"]] + ([rest] if rest else [])
            for i, part in enumerate(parts):
                if isinstance(part, dict):
                    self.step(len(part) + len(part.get("properties") or ()), where)
                    check_keywords(part, (*where, "allOf", str(i)))
            return self.value(_merge_all(parts, where), name, where, depth + 1)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.branch(schema, key, name, where, depth)
        if "const" in schema:
            return self.leaf(schema["const"], where)
        if "enum" in schema:
            return self.leaf(self.enum(schema["enum"]), where)
        kinds = self.kinds(schema)
        if not kinds:
            return self.free(name, where)
        if "null" in kinds and (depth > MAX_DEPTH or len(kinds) == 1):
            return self.leaf(None, where)
        kind = next(k for k in kinds if k != "null") if set(kinds) != {"null"} else "null"
        return self.typed(kind, schema, name, where, depth)

    def deref(self, schema: Any, where: tuple[str, ...]) -> Any:
        seen = 0
        while isinstance(schema, dict) and set(schema) - ANNOTATIONS == {"$ref"}:
            if not isinstance(schema["$ref"], str):
                raise SchemaError(f"'$ref' must be a string, got {_show(schema['$ref'])}", (*where, "$ref"))
            schema = self.resolve(schema["$ref"], where)
            seen += 1
            if seen > MAX_DEPTH:
                raise SchemaError("references form a loop", where)
        return schema

    def kinds(self, schema: dict[str, Any]) -> list[str]:
        kind = schema.get("type")
        if kind is None:
            if "properties" in schema or "required" in schema:
                return ["object"]
            if "items" in schema or "prefixItems" in schema:
                return ["array"]
            return []
        return list(kind) if isinstance(kind, list) else [kind]

    def branch(self, schema: dict[str, Any], key: str, name: str, where: tuple[str, ...], depth: int) -> Any:
        options = schema[key]
        rest = {k: v for k, v in schema.items() if k not in {key} | ANNOTATIONS}
        order = list(range(len(options)))
        if depth > MAX_DEPTH:  # the way out of a recursion: a null or leaf branch first
            order.sort(key=lambda i: self.weight(options[i], where))
        last: SchemaError | None = None
        for i in order:
            option = options[i] if not rest else {"allOf": [options[i], rest]}
            values, chars = self.values, self.chars
            try:
                return self.value(option, name, (*where, key, str(i)), depth + 1)
            except TooLarge as exc:
                if self.work > MAX_WORK:
                    raise
                last = exc
            except Unsupported:
                raise
            except SchemaError as exc:
                last = exc
            self.values, self.chars = values, chars  # the failed branch is not in the answer
        assert last is not None
        raise last

    def weight(self, option: Any, where: tuple[str, ...]) -> int:
        try:
            return _weight(self.deref(option, where))
        except SchemaError:
            return 5

    def enum(self, members: list[Any]) -> Any:
        wanted = self.hints.answer.strip().lower()
        for member in members:
            if isinstance(member, str) and member.strip().lower() == wanted:
                return member
        if wanted:
            for member in members:
                if isinstance(member, str) and member and (member.lower() in wanted or wanted in member.lower()):
                    return member
        return members[0]

    def free(self, name: str, where: tuple[str, ...]) -> Any:
        """A value for a schema that admits anything: the fitting hint, or null."""
        words = _words(name)
        if words & CONFIDENCE_NAMES and self.hints.confidence is not None:
            return self.leaf(self.hints.confidence, where)
        if words & (ANSWER_NAMES | QUERY_NAMES):
            return self.string({}, name, where)
        return self.leaf(None, where)

    def typed(self, kind: str, schema: dict[str, Any], name: str, where: tuple[str, ...], depth: int) -> Any:
        if kind == "null":
            return self.leaf(None, where)
        if kind == "boolean":
            return self.leaf(True, where)
        if kind == "string":
            return self.string(schema, name, where)
        if kind in {"number", "integer"}:
            return self.leaf(self.number(schema, kind == "integer", where, name), where)
        if kind == "array":
            return self.array(schema, name, where, depth)
        return self.object(schema, where, depth)

    def string(self, schema: dict[str, Any], name: str, where: tuple[str, ...]) -> str:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if high is not None and high < low:
            raise SchemaError("'maxLength' is below 'minLength'", where)
        self.room(low, "minLength", "characters", where)
        fmt = schema.get("format")
        if fmt is not None:
            if fmt not in FORMATS:
                raise Unsupported(f"the mock does not support the string format {_name(fmt)}", where)
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
        return str(self.leaf(text, where))

    def number(self, schema: dict[str, Any], integer: bool, where: tuple[str, ...], name: str) -> int | float:
        """The first of a few candidates that meets the bounds and ``multipleOf``, in exact arithmetic."""
        low = _bound(schema, "minimum", "exclusiveMinimum", lower=True)
        high = _bound(schema, "maximum", "exclusiveMaximum", lower=False)
        step = _exact(schema["multipleOf"]) if "multipleOf" in schema else None
        if integer:  # the integers among the multiples of p/q (in lowest terms) are the multiples of p
            step = Fraction(step.numerator) if step is not None else Fraction(1)

        def fits(x: Fraction) -> bool:
            above = low is None or (x > low[0] if low[1] else x >= low[0])
            below = high is None or (x < high[0] if high[1] else x <= high[0])
            return above and below and (step is None or (x / step).denominator == 1)

        candidates: list[Fraction] = []
        if _words(name) & CONFIDENCE_NAMES and self.hints.confidence is not None:
            hint = _exact(self.hints.confidence)
            if integer:
                hint = Fraction(round(hint * (100 if high is not None and high[0] >= 100 else 1)))
            candidates.append(hint)
        candidates.append(Fraction(0))
        if step is not None:
            # then the multiples of the step's numerator: whole numbers, which JSON writes exactly
            for grid in (step, Fraction(step.numerator)):
                if low is not None:
                    first = math.ceil(low[0] / grid) * grid
                    candidates.append(first + grid if low[1] and first == low[0] else first)
                if high is not None:
                    last = math.floor(high[0] / grid) * grid
                    candidates.append(last - grid if high[1] and last == high[0] else last)
        else:
            for bound, up in ((low, 1), (high, -1)):
                if bound is not None:
                    edge = bound[0]
                    candidates += [edge, edge + up, Fraction(math.floor(edge) + up), edge + Fraction(up, 2)]
            if low is not None and high is not None:
                candidates.append((low[0] + high[0]) / 2)
        for x in candidates:
            if fits(x):
                written = _write_number(x, fits)
                if written is not None:
                    return written
        raise SchemaError("no number satisfies the schema's bounds", where)

    def array(self, schema: dict[str, Any], name: str, where: tuple[str, ...], depth: int) -> list[Any]:
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        if high is not None and high < low:
            raise SchemaError("'maxItems' is below 'minItems'", where)
        prefix = schema.get("prefixItems", [])
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        count = low if depth > MAX_DEPTH else max(low, 1)
        if high is not None:
            count = min(count, high)
        self.room(count, "minItems", "values", where)
        self.spend(1, 2 + count, where)
        out: list[Any] = []
        for i in range(count):
            sub, at = (prefix[i], (*where, "prefixItems", str(i))) if i < len(prefix) else (items, (*where, "items"))
            if sub is False:
                raise SchemaError("the array needs more items than it allows", where)
            out.append(self.value(sub, _singular(name), at, depth + 1))
        if schema.get("uniqueItems") and len(out) > 1:
            self.step(len(out), where)
            if len({_dump(x, sort_keys=True) for x in out}) < len(out):
                raise Unsupported("the mock cannot fill 'uniqueItems' arrays of more than one item", where)
        return out

    def object(self, schema: dict[str, Any], where: tuple[str, ...], depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        required: list[str] = schema.get("required", [])
        extra = schema.get("additionalProperties", True)
        low, high = schema.get("minProperties", 0), schema.get("maxProperties")
        self.room(max(low, len(required)), "minProperties" if low >= len(required) else "required", "values", where)
        self.spend(1, 2, where)
        out: dict[str, Any] = {}
        names = list(properties) if depth <= MAX_DEPTH else [n for n in properties if n in required]
        for prop in names:
            self.spend(0, len(prop) + 4, where)
            out[prop] = self.value(properties[prop], prop, (*where, "properties", prop), depth + 1)
        for prop in required:
            if prop not in out:
                if extra is False:
                    raise SchemaError(f"{_name(prop)} is required but 'additionalProperties' is false", where)
                self.spend(0, len(prop) + 4, where)
                out[prop] = self.value(extra, prop, (*where, "additionalProperties"), depth + 1)
        if high is not None and len(out) > high:
            wanted = set(required)
            for prop in [n for n in out if n not in wanted][: len(out) - high]:
                del out[prop]
            if len(out) > high:
                raise SchemaError("more properties are required than 'maxProperties' allows", where)
        n = 0
        while len(out) < low:
            if extra is False:
                raise SchemaError("'minProperties' needs more properties than the schema allows", where)
            n += 1
            if f"field_{n}" in out:
                continue
            self.spend(0, len(f"field_{n}") + 4, where)
            out[f"field_{n}"] = self.value(extra, f"field_{n}", (*where, "additionalProperties"), depth + 1)
        return out


def _merge_all(parts: list[Any], where: tuple[str, ...]) -> Any:
    """``allOf`` as one schema: one part, or object parts whose properties can be united.

    The parts' keywords have been checked (:func:`check_keywords`).
    """
    parts = [p for p in parts if p is not True and p != {}]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {}
    for part in parts:
        if part is False:
            raise SchemaError("'false' admits no value", where)
        if not isinstance(part, dict):
            raise SchemaError(f"'allOf' parts must be schemas, got {_show(part)}", where)
        for key, value in part.items():
            if key in ANNOTATIONS:
                continue
            if key == "properties":
                merged.setdefault("properties", {})
                for name, sub in value.items():
                    if name in merged["properties"] and merged["properties"][name] != sub:
                        raise Unsupported(f"the mock cannot merge two 'allOf' schemas for {_name(name)}", where)
                    merged["properties"][name] = sub
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key in merged and merged[key] != value:
                raise Unsupported(f"the mock cannot merge 'allOf' schemas that disagree on {_name(key)}", where)
            else:
                merged[key] = value
    return merged


def _weight(schema: Any) -> int:
    """How far a branch is from a leaf: null first, then scalars, then containers."""
    if not isinstance(schema, dict):
        return 1
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" in kinds:
        return 0
    if any(isinstance(k, str) and k in SCALARS for k in kinds) or "enum" in schema or "const" in schema:
        return 1
    if "array" in kinds:
        return 2 if schema.get("minItems", 0) == 0 else 4
    return 3


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and len(name) > 3 else name


def _exact(value: int | float) -> Fraction:
    """The number a JSON literal wrote, exactly: ``0.1`` is 1/10, not the binary float nearest it."""
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, lower: bool) -> tuple[Fraction, bool] | None:
    """The tighter of a schema's inclusive and exclusive bound on one side: (value, exclusive)."""
    out: tuple[Fraction, bool] | None = None
    if inclusive in schema:
        out = (_exact(schema[inclusive]), False)
    if exclusive in schema:
        value = schema[exclusive]
        if isinstance(value, bool):  # draft 4: a flag on the inclusive bound
            return (out[0], value) if out is not None else None
        bound = _exact(value)
        if out is None or (bound >= out[0] if lower else bound <= out[0]):
            out = (bound, True)
    return out


def _write_number(x: Fraction, fits: Callable[[Fraction], bool]) -> int | float | None:
    """``x`` as JSON writes it: an integer exactly, else the float whose decimal still fits (None if none)."""
    if x.denominator == 1:
        return int(x)
    try:
        written = float(x)
    except OverflowError:
        return None
    return written if math.isfinite(written) and fits(_exact(written)) else None


def _dump(value: Any, sort_keys: bool = False) -> str:
    """RFC 8259 JSON: NaN and Infinity raise ValueError."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def instance(schema: Any, hints: Hints) -> Any:
    """One value valid under ``schema``, filled from ``hints`` where a field is meant for them.

    Raises :class:`SchemaError` for a schema that is not usable, :class:`Unsupported` for
    one the mock cannot honour and :class:`TooLarge` (an ``Unsupported``) for one whose
    instance would exceed the budget. Nothing else: whatever else goes wrong is an
    ``Unsupported`` saying the mock could not generate an instance.
    """
    if schema is None or schema is True or schema == {}:
        return {"answer": hints.answer}
    try:
        check_schema(schema)
        value = _Builder(schema, hints).value(schema, "", (), 0)
        text = _dump(value)
    except SchemaError:
        raise
    except ValueError as exc:  # NaN or Infinity in a const or enum (a body parser would have refused them)
        raise SchemaError(f"the instance would hold a value JSON cannot carry ({exc})") from None
    except RecursionError:
        raise TooLarge("the schema nests too deeply for the mock to generate an instance") from None
    except Exception as exc:
        log.warning("structured: could not generate an instance of a schema", exc_info=True)
        raise Unsupported(f"the mock could not generate an instance of this schema ({type(exc).__name__})") from None
    if len(text) > MAX_CHARS:
        raise TooLarge(f"the answer would be longer than the mock's budget of {MAX_CHARS:,} characters")
    return value
