"""Shared by the chat and legacy completion routes: answer, count, bill, stream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool

from ..answers import Sentiment, answer
from ..catalogue import ModelSpec
from ..errors import OpenAIError
from ..faults import MAX_HANG, Fault, corrupt
from ..responses import SSE_DONE, ConnectionCut, dumps
from ..state import MockState
from ..structured import Hints, instance
from ..tokens import count_tokens, tokenize, truncate

FLUSH_EVERY = 16  # events per write when no delay separates them


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the API sends it


@dataclass(frozen=True, slots=True)
class Choice:
    text: str
    finish_reason: str
    tokens: int
    sentiment: Sentiment | None
    tool_call: ToolCall | None = None

    def pieces(self) -> tuple[str, ...]:
        """What a stream sends, a token at a time: the text, or a tool call's arguments."""
        return tokenize(self.tool_call.arguments if self.tool_call else self.text)


class ChunkMaker(Protocol):
    def __call__(self, index: int, text: str | None, finish: str | None, first: bool, position: int) -> bytes:
        """One streamed chunk: choice ``index``, the ``position``-th piece ``text`` of its answer."""


def context_check(spec: ModelSpec, prompt_tokens: int, limit: int | None, param: str) -> None:
    requested = prompt_tokens + (limit or 0)
    if requested > spec.context_window:
        raise OpenAIError(
            400,
            f"This model's maximum context length is {spec.context_window} tokens. However, you requested "
            f"{requested} tokens ({prompt_tokens} in the {param}, {limit or 0} in the completion). "
            f"Please reduce the length of the {param} or completion.",
            param=param,
            code="context_length_exceeded",
        )


def generate(
    state: MockState,
    spec: ModelSpec,
    system: str,
    user: str,
    limit: int | None,
    want_json: bool,
    fault: Fault | None,
    prefix: str = "",
    stop: Sequence[str] = (),
    schema: str | None = None,
) -> Choice:
    """The answer to a prompt; ``schema`` (JSON text) makes it a JSON instance of that schema.

    Raises :class:`structured.SchemaError` when the schema cannot be satisfied.
    """
    args = (state.seed, spec.id, spec.quality_tier, system, user, limit, want_json, prefix, tuple(stop), schema)
    # Answers to long prompts are not kept: a cache keyed on megabyte prompts would hold gigabytes.
    choice = _generate(*args) if len(user) + len(system) <= CACHED_PROMPT_CHARS else _generate.__wrapped__(*args)
    if fault is not None and fault.kind == "corrupted":
        return replace(choice, text=corrupt(choice.text))
    return choice


CACHED_PROMPT_CHARS = 4096  # prompts up to this long have their answers cached
INLINE_CHARS = 20_000  # requests with more text than this are worked on in a thread, off the event loop

T = TypeVar("T")


async def off_loop(size: int, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)``, in a worker thread when ``size`` (characters or token ids) is large.

    Counting, decoding or answering a megabyte prompt takes seconds; on the event loop it
    would stall every other client, ``/health`` included. Small requests stay on the loop,
    where a thread hop would cost more than the work.
    """
    if size > INLINE_CHARS:
        return await run_in_threadpool(work, *args)
    return work(*args)


@lru_cache(maxsize=8192)
def _generate(
    seed: int,
    model: str,
    tier: int,
    system: str,
    user: str,
    limit: int | None,
    want_json: bool,
    prefix: str,
    stop: tuple[str, ...],
    schema: str | None,
) -> Choice:
    # Answers are pure functions of these arguments, so repeated prompts (load tests, the
    # cache labs) skip the work; the cache is bounded.
    text, sentiment = answer(system, user, model, tier, seed, want_json and schema is None)
    if schema is not None:
        text = dumps(instance(json.loads(schema), _hints(text, user, sentiment))).decode()
    text = prefix + text
    finish = "stop"
    text = cut_at_stop(text, stop)
    if limit is not None:
        text, cut = truncate(text, limit)
        finish = "length" if cut else "stop"
    return Choice(text, finish, count_tokens(text), sentiment)


def _hints(text: str, user: str, sentiment: Sentiment | None) -> Hints:
    return Hints(
        answer=sentiment.label if sentiment is not None else text,
        query=user.strip(),
        confidence=sentiment.confidence if sentiment is not None else None,
    )


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text up to (not including) the first of the stop sequences, as the API cuts it."""
    ends = [i for i in (text.find(s) for s in stop if s) if i != -1]
    return text[: min(ends)] if ends else text


@lru_cache(maxsize=4096)
def call_tool(
    seed: int,
    model: str,
    tier: int,
    system: str,
    user: str,
    name: str,
    parameters: str | None,
    limit: int | None,
) -> Choice:
    """A forced call of function ``name``: arguments that satisfy its ``parameters`` schema (JSON text).

    Raises :class:`structured.SchemaError` when the schema cannot be satisfied.
    """
    text, sentiment = answer(system, user, model, tier, seed, False)
    args: Any = {} if parameters is None else instance(json.loads(parameters), _hints(text, user, sentiment))
    arguments = dumps(args).decode()
    digest = hashlib.blake2b(f"{seed}\x1f{model}\x1f{user}\x1f{name}".encode(), digest_size=12).hexdigest()
    finish = "tool_calls"
    if limit is not None:
        arguments, cut = truncate(arguments, max(limit - count_tokens(name), 0))
        finish = "length" if cut else finish
    tokens = count_tokens(name) + count_tokens(arguments)
    return Choice("", finish, tokens, sentiment, ToolCall(f"call_{digest}", name, arguments))


def bill(state: MockState, spec: ModelSpec, prompt_tokens: int, choices: list[Choice]) -> dict[str, int]:
    completion = sum(c.tokens for c in choices)
    state.ledger.record(spec, prompt_tokens, completion)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def base_headers(state: MockState, started: float, extra: dict[str, str]) -> dict[str, str]:
    return {
        "x-request-id": f"req_{state.next_id()}",
        "openai-processing-ms": str(max(0, round((time.perf_counter() - started) * 1000))),
        **extra,
    }


@lru_cache(maxsize=4096)
def token_logprobs(choice: Choice, top: int) -> list[dict[str, object]]:
    """Chat-style logprobs, one per piece of :func:`tokenize`: the label token carries the classifier's confidence.

    Cached and shared: callers must not change the list.
    """
    out: list[dict[str, object]] = []
    for i, token in enumerate(tokenize(choice.text)):
        if i == 0 and choice.sentiment is not None and token.strip() == choice.sentiment.label:
            ranked = sorted(choice.sentiment.logprobs().items(), key=lambda kv: -kv[1])
            logprob = ranked[0][1]
            alternatives = ranked[:top]
        else:
            logprob = -0.01
            alternatives = [(token, logprob)][:top]
        out.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives],
            }
        )
    return out


async def stream_events(
    state: MockState,
    spec: ModelSpec,
    choices: list[Choice],
    fault: Fault | None,
    make_chunk: ChunkMaker,
    usage: dict[str, int] | None,
    usage_chunk: Callable[[dict[str, int]], bytes],
) -> AsyncIterator[bytes]:
    """Events for a streamed answer, with mid-stream faults applied.

    ``make_chunk(index, text, finish_reason, first, position)`` renders one chunk.
    """
    kind = fault.kind if fault else None
    delay = min(fault.delay, MAX_HANG) if kind == "slow_stream" and fault else 0.0
    paced = state.settings.latency > 0 or delay > 0
    pending: list[bytes] = []
    await state.wait(spec, 0, first_token_only=True)
    for choice_index, choice in enumerate(choices):
        pending.append(make_chunk(choice_index, None, None, True, -1))
        pieces = choice.pieces()
        half = len(pieces) // 2
        for i, piece in enumerate(pieces):
            if i == half and choice_index == 0 and kind in {"truncated", "stream_error", "malformed_json"}:
                if kind == "truncated":
                    yield b"".join(pending)
                    raise ConnectionCut("stream cut (injected fault)")
                if kind == "stream_error":
                    pending.append(
                        b"data: "
                        + dumps(
                            {
                                "error": {
                                    "message": "The server had an error while streaming (injected fault).",
                                    "type": "server_error",
                                    "param": None,
                                    "code": None,
                                }
                            }
                        )
                        + b"\n\n"
                    )
                else:
                    pending.append(b'data: {"id":"chatcmpl-broken","choices":[{"delta":{"content":"\n\n')
                yield b"".join(pending)
                return
            pending.append(make_chunk(choice_index, piece, None, False, i))
            if paced:
                yield b"".join(pending)
                pending.clear()
                if delay:
                    await asyncio.sleep(delay)
                else:
                    await state.token_gap(spec, 1)
            elif len(pending) >= FLUSH_EVERY:
                yield b"".join(pending)
                pending.clear()
        if kind == "empty":
            continue  # no finish_reason, no [DONE]: the stream just stops
        pending.append(make_chunk(choice_index, None, choice.finish_reason, False, len(pieces)))
    if kind != "empty":
        if usage is not None:
            pending.append(usage_chunk(usage))
        pending.append(SSE_DONE)
    if pending:
        yield b"".join(pending)


def quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
