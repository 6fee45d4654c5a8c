"""Vendor the parts of OpenAI's OpenAPI document that the mock's contract tests use.

    python tests/mock_llm/spec/extract.py PATH/TO/openapi.json

reads OpenAI's published document (the public repository openai/openai-openapi, file
``openapi.json``), takes the component schemas named in ``ROOTS`` and every schema they
reference, transitively, drops documentation-only keys (descriptions, examples,
``x-oaiMeta``), and writes ``openai-schemas.json`` beside this script with a header
naming the source, the commit and the licence. Schemas are copied as published: the
conversion of OpenAPI's ``nullable`` happens when the tests load them
(``tests/mock_llm/openapi_spec.py``), so a re-extraction from a newer commit is a
plain diff of OpenAI's own changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SOURCE = "https://github.com/openai/openai-openapi (openapi.json)"
COMMIT = "f85dbe223d40e1a31cba812ab2d755c7e98a92a3"
LICENCE = """The MIT License

Copyright (c) OpenAI (https://openai.com)

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE."""

# Request bodies the fuzz tests generate from, and every response body the mock sends.
ROOTS = (
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateCompletionRequest",
    "CreateCompletionResponse",
    "CreateEmbeddingRequest",
    "CreateEmbeddingResponse",
    "ListModelsResponse",
    "Model",
    "ErrorResponse",
)
DOC_ONLY = frozenset({"description", "example", "examples", "x-oaiMeta"})
PREFIX = "#/components/schemas/"
OUT = Path(__file__).with_name("openai-schemas.json")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _strip(node: Any, in_properties: bool = False) -> Any:
    """Drop documentation keys; a *property* called ``description`` or ``name`` is kept."""
    if isinstance(node, dict):
        return {
            key: _strip(value, key in {"properties", "$defs", "patternProperties"} and not in_properties)
            for key, value in node.items()
            if in_properties or key not in DOC_ONLY
        }
    if isinstance(node, list):
        return [_strip(value) for value in node]
    return node


def extract(document: dict[str, Any], roots: tuple[str, ...] = ROOTS) -> dict[str, Any]:
    """The component schemas ``roots`` need, closed under ``$ref``, without documentation keys."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    keep: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = schemas[name]
        for ref in _refs(schemas[name]):
            if not ref.startswith(PREFIX):
                raise ValueError(f"{name} refers outside components/schemas: {ref}")
            todo.append(ref.removeprefix(PREFIX))
    return {name: _strip(keep[name]) for name in sorted(keep)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("openapi", type=Path, help="OpenAI's openapi.json at commit " + COMMIT[:7])
    args = parser.parse_args(argv)
    document = json.loads(args.openapi.read_text(encoding="utf-8"))
    vendored = {
        "x-source": SOURCE,
        "x-commit": COMMIT,
        "x-openapi": document["openapi"],
        "x-extracted-by": "tests/mock_llm/spec/extract.py",
        "x-roots": list(ROOTS),
        "x-licence": LICENCE,
        "components": {"schemas": extract(document)},
    }
    OUT.write_text(json.dumps(vendored, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(vendored['components']['schemas'])} schemas to {OUT.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
