"""``POST /v1/embeddings``."""

from __future__ import annotations

import base64
import time

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..catalogue import ModelSpec
from ..embeddings import embed
from ..errors import OpenAIError
from ..faults import corrupt
from ..responses import dumps, json_response
from ..schemas import EmbeddingRequest, parse_body
from ..state import MockState
from ..tokens import InvalidTokens, count_tokens, decode
from . import BodyRoute
from .generation import base_headers

MAX_INPUTS = 2048  # items in one request (OpenAI's limit)
MAX_REQUEST_TOKENS = 300_000  # tokens summed over all inputs of one request (OpenAI's limit)
INLINE_CHARS = 20_000  # up to this much text is embedded on the event loop; more goes to a thread


def _texts(body: EmbeddingRequest) -> tuple[list[str], list[int]]:
    """The inputs as text, with their token counts; token arrays are decoded to what they encode."""
    raw = body.input
    if isinstance(raw, str):
        items: list[str | list[int]] = [raw]
    elif raw and all(isinstance(x, int) for x in raw):
        items = [raw]  # type: ignore[list-item]  # one token array
    else:
        items = list(raw)  # type: ignore[arg-type]  # strings, or token arrays
    texts: list[str] = []
    counts: list[int] = []
    for i, item in enumerate(items):
        param = "input" if len(items) == 1 and not isinstance(raw, list) else f"input[{i}]"
        if isinstance(item, str):
            if not item:
                raise OpenAIError(400, f"'{param}' must not be an empty string.", param=param, code="invalid_value")
            texts.append(item)
            counts.append(count_tokens(item))
        else:
            if not item:
                raise OpenAIError(400, f"'{param}' must not be an empty array.", param=param, code="invalid_value")
            counts.append(len(item))
            texts.append("")  # decoded once the limits are known to hold
    total = sum(counts)
    if total > MAX_REQUEST_TOKENS:
        raise OpenAIError(
            400,
            f"Requested {total} tokens, max {MAX_REQUEST_TOKENS} tokens per request",
            type="max_tokens_per_request",
            code="max_tokens_per_request",
        )
    for i, item in enumerate(items):
        if not isinstance(item, str):
            try:
                texts[i] = decode(item)
            except InvalidTokens as exc:
                raise OpenAIError(400, f"Invalid token array in input[{i}]: {exc}.", param="input") from None
    return texts, counts


def _check_context(spec: ModelSpec, counts: list[int]) -> None:
    for i, n in enumerate(counts):
        if n > spec.context_window:
            raise OpenAIError(
                400,
                f"This model's maximum context length is {spec.context_window} tokens, however you requested "
                f"{n} tokens ({n} in your prompt; 0 for the completion) in input[{i}]. Please reduce your prompt.",
                param="input",
                code="context_length_exceeded",
            )


def _prepare(body: EmbeddingRequest, spec: ModelSpec) -> tuple[list[str], list[int]]:
    texts, counts = _texts(body)
    _check_context(spec, counts)
    return texts, counts


def _vectors(texts: list[str], dims: int, full: int, base64_format: bool, corrupted: bool) -> list[dict[str, object]]:
    data: list[dict[str, object]] = []
    for i, text in enumerate(texts):
        vector = embed(corrupt(text) if corrupted else text)
        if dims != full:
            # Shortened like text-embedding-3: keep the leading dimensions, renormalise. A sparse
            # vector can be all zero there: it becomes the first axis, still unit length, never NaN.
            head = vector[:dims]
            norm = float(np.linalg.norm(head))
            vector = head / norm if norm > 0 else np.eye(1, dims).ravel()
        value = base64.b64encode(vector.astype("<f4").tobytes()).decode() if base64_format else vector.tolist()
        data.append({"object": "embedding", "index": i, "embedding": value})
    return data


def _is_heavy(body: EmbeddingRequest) -> bool:
    raw = body.input
    if isinstance(raw, str):
        return len(raw) > INLINE_CHARS
    size = 0
    for item in raw:
        size += len(item) if isinstance(item, str | list) else 1
        if size > INLINE_CHARS // 4:
            return True
    return False


async def create_embeddings(request: Request) -> Response:
    """Creates embedding vectors representing the input text."""
    body = await parse_body(request, EmbeddingRequest)
    started = time.perf_counter()
    state: MockState = request.app.state.mock
    spec = state.model(body.model, ("embedding",), "/v1/embeddings")
    dims = body.dimensions or spec.dimensions
    if dims > spec.dimensions:
        raise OpenAIError(
            400,
            f"'dimensions' must be at most {spec.dimensions} for {spec.id}, got {dims}.",
            param="dimensions",
            code="invalid_value",
        )
    # A big batch is tokenised and embedded in a worker thread, so /health and every other
    # request keep being answered while it runs.
    heavy = _is_heavy(body)
    texts, counts = await run_in_threadpool(_prepare, body, spec) if heavy else _prepare(body, spec)
    fault = state.choose_fault(request)
    prompt_tokens = sum(counts)
    extra = await state.before_answer(spec, fault, prompt_tokens, stream=False)
    state.ledger.record(spec, prompt_tokens, 0)
    await state.wait(spec, 0)
    data: list[dict[str, object]] = []
    if fault is None or fault.kind != "empty":
        args = (
            texts,
            dims,
            spec.dimensions,
            body.encoding_format == "base64",
            fault is not None and fault.kind == "corrupted",
        )
        data = await run_in_threadpool(_vectors, *args) if heavy else _vectors(*args)
    payload = {
        "object": "list",
        "data": data,
        "model": spec.id,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
    # 2,048 x 256 floats take most of a second to write as JSON: in the thread too.
    encoded = await run_in_threadpool(dumps, payload) if heavy else dumps(payload)
    return json_response(encoded, base_headers(state, started, extra), fault)


route = BodyRoute("/v1/embeddings", create_embeddings, EmbeddingRequest, "embeddings")
