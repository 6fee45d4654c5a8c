"""OpenAI's published schemas, as validators and as self-contained JSON Schemas to generate from.

The schemas come from ``spec/openai-schemas.json`` (vendored by ``spec/extract.py`` from
openai/openai-openapi; see its header for the commit and licence). The document is
OpenAPI 3.1, whose schemas are JSON Schema 2020-12, but OpenAI still writes
``nullable: true`` in about a hundred places (a 3.0 keyword that 3.1 validators ignore,
which would make ``"finish_reason": null`` in a stream chunk invalid). Every schema with
``nullable: true`` is rewritten here as ``anyOf: [<the schema>, {"type": "null"}]``:
widening ``type`` alone would be wrong wherever the schema also has an ``enum`` or is a
``$ref``, since ``null`` would still fail those.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_FILE = Path(__file__).with_name("spec") / "openai-schemas.json"
BASE = "urn:openai-openapi"
PREFIX = "#/components/schemas/"
# Keywords whose values are data, not schemas: never rewritten.
_DATA = frozenset({"enum", "const", "default", "example", "examples", "required", "discriminator"})
_SCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties"})


def convert_nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema: ``anyOf`` the schema or ``null``."""
    if isinstance(node, list):
        return [convert_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "nullable":
            continue
        if key in _DATA:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: convert_nullable(sub) for name, sub in value.items()}
        else:
            out[key] = convert_nullable(value)
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def document() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return {
        "components": {
            "schemas": {name: convert_nullable(schema) for name, schema in raw["components"]["schemas"].items()}
        }
    }


@cache
def header() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return {key: value for key, value in raw.items() if key.startswith("x-")}


@cache
def _registry() -> Registry[Any]:
    resource = DRAFT202012.create_resource(document())
    return Registry().with_resource(BASE, resource)  # type: ignore[no-any-return]


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for the component schema ``name`` (``CreateChatCompletionResponse``, ...)."""
    if name not in document()["components"]["schemas"]:
        raise KeyError(f"{name} is not vendored: add it to ROOTS in spec/extract.py")
    return Draft202012Validator({"$ref": f"{BASE}{PREFIX}{name}"}, registry=_registry())


def schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for a schema of the tests' own that may ``$ref`` the vendored ones."""
    return Draft202012Validator(schema, registry=_registry())


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"{BASE}{PREFIX}{name}"}


def errors(name: str | dict[str, Any], instance: object) -> list[str]:
    """Every way ``instance`` breaks schema ``name``, as readable lines (empty when it conforms)."""
    check = validator(name) if isinstance(name, str) else schema_validator(name)
    out = []
    for error in sorted(check.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        out.append(f"{where}: {error.message[:300]}")
        for sub in (error.context or [])[:6]:
            out.append(f"    {'/'.join(map(str, sub.absolute_path))}: {sub.message[:200]}")
    return out


def assert_conforms(name: str | dict[str, Any], instance: object) -> None:
    problems = errors(name, instance)
    assert not problems, f"not a valid {name}:\n" + "\n".join(problems)


def completion_chunk_schema() -> dict[str, Any]:
    """A streamed legacy completion: CreateCompletionResponse, with ``finish_reason`` null until the end.

    The spec describes no stream for /v1/completions; the API (and the SDK, which parses
    each event as a ``Completion``) sends CreateCompletionResponse objects whose choices
    have ``finish_reason: null`` until the last. That one widening, nothing else.
    """
    return {
        "allOf": [
            {
                "type": "object",
                "properties": {
                    "choices": {
                        "type": "array",
                        "items": {
                            "anyOf": [
                                {"properties": {"finish_reason": {"type": "null"}}},
                                {"properties": {"finish_reason": {"enum": ["stop", "length", "content_filter"]}}},
                            ]
                        },
                    }
                },
            },
            _without_finish_reason_check(),
        ]
    }


def _without_finish_reason_check() -> dict[str, Any]:
    text = json.dumps(document()["components"]["schemas"]["CreateCompletionResponse"])
    schema: dict[str, Any] = json.loads(text.replace('"$ref": "#/', f'"$ref": "{BASE}#/'))  # refs made absolute
    del schema["properties"]["choices"]["items"]["properties"]["finish_reason"]
    return schema


# Keys hypothesis-jsonschema does not know or need: OpenAI's annotations and vendor keys.
_GENERATION_DROP = frozenset(
    {"discriminator", "deprecated", "title", "default", "format", "readOnly", "x-oaiTypeLabel"}
)


def inlined(name: str) -> dict[str, Any]:
    """Schema ``name`` with every ``$ref`` replaced by its target (the vendored set has no cycles).

    hypothesis-jsonschema speaks draft 7, where keywords beside ``$ref`` are ignored, so
    inlining is what keeps them; ``format`` is dropped (``unixtime``, ``int64`` and such
    are OpenAI's own names, not formats a generator knows).
    """
    schemas = document()["components"]["schemas"]

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _GENERATION_DROP or key.startswith("x-") or key == "$ref":
                continue
            if key in _DATA:
                out[key] = value
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {prop: walk(sub, seen) for prop, sub in value.items()}
            else:
                out[key] = walk(value, seen)
        if "$ref" not in node:
            return out
        target = node["$ref"].removeprefix(PREFIX)
        if target in seen:
            raise ValueError(f"recursive schema: {' -> '.join((*seen, target))}")
        resolved = walk(schemas[target], (*seen, target))
        return {"allOf": [resolved, out]} if out else resolved

    result: dict[str, Any] = walk(schemas[name], (name,))
    return result
