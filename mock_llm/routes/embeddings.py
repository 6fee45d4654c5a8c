"""``POST /v1/embeddings``."""

from __future__ import annotations

import base64
import time

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from ..embeddings import embed
from ..errors import OpenAIError
from ..faults import corrupt
from ..responses import json_response
from ..schemas import EmbeddingRequest, parse_body
from ..state import MockState
from ..tokens import count_tokens
from . import BodyRoute
from .generation import base_headers


def _texts(body: EmbeddingRequest) -> list[str]:
    raw = body.input
    items: list[str] = []
    if isinstance(raw, str):
        items = [raw]
    else:
        # Token arrays have no vocabulary here: each id becomes a stable pseudo-word.
        for element in raw:
            if isinstance(element, str):
                items.append(element)
            elif isinstance(element, int):
                items = [" ".join(f"t{t}" for t in raw)]
                break
            else:
                items.append(" ".join(f"t{t}" for t in element))
    for i, item in enumerate(items):
        if not item:
            param = "input" if isinstance(raw, str) else f"input[{i}]"
            raise OpenAIError(400, f"'{param}' must not be an empty string.", param=param, code="invalid_value")
    return items


async def create_embeddings(request: Request) -> Response:
    """Creates embedding vectors representing the input text."""
    body = await parse_body(request, EmbeddingRequest)
    started = time.perf_counter()
    state: MockState = request.app.state.mock
    spec = state.model(body.model, ("embedding",), "/v1/embeddings")
    texts = _texts(body)
    counts = [count_tokens(t) for t in texts]
    for i, n in enumerate(counts):
        if n > spec.context_window:
            raise OpenAIError(
                400,
                f"This model's maximum context length is {spec.context_window} tokens, "
                f"however you requested {n} tokens in input[{i}]. Please reduce your input.",
                param="input",
                code="context_length_exceeded",
            )
    dims = body.dimensions or spec.dimensions
    if dims > spec.dimensions:
        raise OpenAIError(
            400,
            f"'dimensions' must be at most {spec.dimensions} for {spec.id}, got {dims}.",
            param="dimensions",
            code="invalid_value",
        )
    fault = state.choose_fault(request)
    extra = await state.before_answer(spec, fault, sum(counts), stream=False)
    prompt_tokens = sum(counts)
    state.ledger.record(spec, prompt_tokens, 0)
    await state.wait(spec, 0)
    data: list[dict[str, object]] = []
    if fault is None or fault.kind != "empty":
        for i, text in enumerate(texts):
            vector = embed(corrupt(text) if fault is not None and fault.kind == "corrupted" else text)
            if dims != spec.dimensions:
                # Shortened like text-embedding-3: keep the leading dimensions, renormalise.
                vector = vector[:dims] / np.linalg.norm(vector[:dims])
            value: object
            if body.encoding_format == "base64":
                value = base64.b64encode(vector.astype("<f4").tobytes()).decode()
            else:
                value = vector.tolist()
            data.append({"object": "embedding", "index": i, "embedding": value})
    payload = {
        "object": "list",
        "data": data,
        "model": spec.id,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
    return json_response(payload, base_headers(state, started, extra), fault)


route = BodyRoute("/v1/embeddings", create_embeddings, EmbeddingRequest, "embeddings")
