"""Checks for lab 06 (bonus), chaos engineering.

The learner's ``ChaosMonkey``, ``read_answer``, ``summarise``, ``ChaosTransport``,
``retry_delay`` and ``resilient_ask`` are driven against an in-process mock LLM through the
official SDK, or against hand-made chunks and transports where a check needs an exact case.
Expectations are independent of the reference wherever they can be: the faults a seed
injects are drawn here with the same ``random.Random`` calls the notebook specifies, and the
right answer to a prompt is the mock's fault-free, non-streamed answer. Every wait goes
through an injected virtual clock, so no verdict depends on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk

from mock_llm import InProcessMock, Settings
from mock_llm.inprocess import BASE_URL

from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import VirtualClock, call, names_unawaited, run_async, until_done_or_idle

MODEL = "gpt-3.5-turbo"  # the notebook's MODEL
MONKEY_KINDS = ("timeout", "rate_limit", "malformed_response", "partial_response")  # the order of failure_modes
CORRUPT = "\ufffd\ufffd\ufffdCORRUPT\ufffd\ufffd\ufffd"
MOCK_FAULTS = {"overloaded": "unavailable", "malformed_json": "malformed_json", "stream_error": "stream_error"}
MOCK_FAULTS["corrupted"] = "corrupted"
FALLBACK_TEXT = "Sorry, I cannot answer that right now. Please try again in a minute."


def mock_app_transport(mock: InProcessMock) -> httpx2.AsyncBaseTransport:
    """The mock's app as a transport, with no real-time read timeout: the requests' timeouts only matter to
    the learner's transport, on the virtual clock, so a busy machine cannot time a check's request out."""
    return httpx2.ASGITransport(app=mock.app, client=("127.0.0.1", 50000))


def expected_kinds(seed: int, rate: float, kinds: Sequence[str], n: int) -> list[str | None]:
    """The faults the notebook's contract draws: one rng.random() per call, rng.choice(kinds) below the rate."""
    rng = random.Random(seed)
    out: list[str | None] = []
    for _ in range(n):
        out.append(rng.choice(list(kinds)) if rng.random() < rate else None)
    return out


def counts(kinds: Sequence[str | None]) -> dict[str, int]:
    found: dict[str, int] = {}
    for kind in kinds:
        if kind is not None:
            found[kind] = found.get(kind, 0) + 1
    return dict(sorted(found.items()))


def first_difference(got: Sequence[Any], wanted: Sequence[Any]) -> int | None:
    for index, (a, b) in enumerate(zip(got, wanted, strict=False)):
        if a != b:
            return index
    return None if len(got) == len(wanted) else min(len(got), len(wanted))


# --- exercise 1: the monkey ----------------------------------------------------------------------


def make_monkey(learner: Namespace, rate: float, seed: int, clock: VirtualClock, **kwargs: Any) -> Any:
    return call(
        f"ChaosMonkey({rate}, seed={seed}, ...)", learner.ChaosMonkey, rate, seed=seed, sleep=clock.sleep, **kwargs
    )


def answer_of(i: int) -> str:
    return f"the answer to question {i}, complete"


async def observe(monkey: Any, i: int, calls: list[int]) -> str | None:
    """What one maybe_fail call did, seen from outside: None (the real answer) or the fault's kind."""

    async def func(index: int) -> str:
        calls.append(index)
        return answer_of(index)

    try:
        result = await monkey.maybe_fail(func, i)
    except NotImplementedError:
        raise
    except openai.RateLimitError:
        return "rate_limit"
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"[:120]
    if result == answer_of(i):
        return None
    if result == answer_of(i)[: len(answer_of(i)) // 2] + CORRUPT:
        return "malformed_response"
    if result == answer_of(i)[: len(answer_of(i)) // 2]:
        return "partial_response"
    return f"returned {result!r}"[:120]


@check(
    "06-monkey-seeded",
    2,
    "maybe_fail injects the seed's faults: same kinds, same calls, same counts as the reference",
    "Create self.rng = random.Random(seed) in __init__ and draw only from it: once self.rng.random() per call, "
    "then self.rng.choice(self.failure_modes) below failure_rate; record the kind in injected and log before "
    "running the fault, and log None for an untouched call.",
)
@names_unawaited
def monkey_seeded(learner: Namespace, ref: Reference) -> None:
    for rate, seed, n in ((0.3, 7, 200), (0.5, 11, 60), (0.0, 3, 20), (1.0, 5, 20)):
        clock = VirtualClock()
        monkey = make_monkey(learner, rate, seed, clock, timeout_delay=0.25)
        wanted = expected_kinds(seed, rate, MONKEY_KINDS, n)
        calls: list[int] = []

        async def run(monkey: Any = monkey, n: int = n, calls: list[int] = calls) -> list[str | None]:
            return [await observe(monkey, i, calls) for i in range(n)]

        got = run_async(run(), f"{n} calls of maybe_fail")
        where = first_difference(got, wanted)
        if where is not None:
            raise CheckFailed(
                f"Call {where + 1} of maybe_fail does not do what the seed draws (failure_rate={rate}, seed={seed}): "
                "draw exactly once with self.rng.random() per call and, for a fault, self.rng.choice("
                "self.failure_modes); never the random module's shared generator.",
                input=f"ChaosMonkey({rate}, seed={seed}); maybe_fail called {n} times",
                expected=f"calls 1..{where + 1}: {wanted[: where + 1][-5:]} (None: the real answer)",
                actual=f"calls 1..{where + 1}: {got[: where + 1][-5:]}",
            )
        called = [i for i, kind in enumerate(wanted) if kind not in ("timeout", "rate_limit")]
        if calls != called:
            raise CheckFailed(
                "maybe_fail called the function when it should not have (an injected timeout or 429 never reaches "
                "it), or not once for every other call.",
                input=f"ChaosMonkey({rate}, seed={seed}); {n} calls",
                expected=f"the function called {len(called)} times",
                actual=f"called {len(calls)} times",
            )
        log = list(getattr(monkey, "log", []) or [])
        injected = getattr(monkey, "injected", None)
        if log != wanted:
            raise CheckFailed(
                "monkey.log must hold one entry per maybe_fail call: the fault's kind (the method name without "
                "'inject_'), or None when the call ran untouched; a fault that raises is logged too, before it runs.",
                input=f"ChaosMonkey({rate}, seed={seed}); {n} calls",
                expected=f"{wanted[:6]}... ({len(wanted)} entries)",
                actual=f"{log[:6]}... ({len(log)} entries)",
            )
        if not isinstance(injected, dict) or dict(sorted(injected.items())) != counts(wanted):
            raise CheckFailed(
                "monkey.injected must count each injected kind, those that raise (timeout, rate_limit) included: "
                "count before running the fault.",
                input=f"ChaosMonkey({rate}, seed={seed}); {n} calls",
                expected=counts(wanted),
                actual=injected,
            )

    clock = VirtualClock()
    first, second = make_monkey(learner, 0.4, 21, clock), make_monkey(learner, 0.4, 21, clock)

    async def interleaved() -> tuple[list[str | None], list[str | None]]:
        a: list[str | None] = []
        b: list[str | None] = []
        for i in range(40):
            a.append(await observe(first, i, []))
            b.append(await observe(second, i, []))
        return a, b

    a, b = run_async(interleaved(), "two monkeys with the same seed, called in turn")
    wanted = expected_kinds(21, 0.4, MONKEY_KINDS, 40)
    if a != wanted or b != wanted:
        raise CheckFailed(
            "Two monkeys with the same seed, called in turn, must inject the same faults: each needs its own "
            "generator (random.Random(seed)), not random.seed(seed) on the shared one.",
            input="ChaosMonkey(0.4, seed=21) twice; maybe_fail on each in turn, 40 times",
            expected=f"both: {wanted[:8]}...",
            actual=f"first: {a[:8]}..., second: {b[:8]}...",
        )


@check(
    "06-monkey-faults",
    2,
    "inject_timeout waits timeout_delay on the injected sleep; inject_rate_limit raises a 429 with retry-after",
    "inject_timeout: await self.sleep(self.timeout_delay), then raise TimeoutError, without calling func. "
    "inject_rate_limit: raise rate_limit_error(self.retry_after), without calling func or waiting.",
)
@names_unawaited
def monkey_faults(learner: Namespace, ref: Reference) -> None:
    clock = VirtualClock()
    monkey = make_monkey(learner, 0.0, 1, clock, timeout_delay=3600.0, retry_after=2.5)
    called: list[str] = []

    async def func(prompt: str) -> str:
        called.append(prompt)
        return "the real answer"

    async def timeout_case() -> str:
        task = asyncio.ensure_future(monkey.inject_timeout(func, "q"))
        pending = await until_done_or_idle([task])
        if pending:
            task.cancel()
            return "still waiting"
        try:
            result = task.result()
        except TimeoutError:
            return "TimeoutError"
        except NotImplementedError:
            raise
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
        return f"returned {result!r}"

    got = run_async(timeout_case(), "inject_timeout(func, 'q')")
    if got == "still waiting":
        raise CheckFailed(
            "inject_timeout waited in real time: with timeout_delay=3600 it never finished. Wait with "
            "await self.sleep(self.timeout_delay), the sleep the monkey was given (the checks give a virtual clock).",
            input="ChaosMonkey(timeout_delay=3600, sleep=<virtual clock>).inject_timeout(func, 'q')",
            expected="TimeoutError after one virtual sleep of 3600 s",
            actual="still waiting in real time",
        )
    if got != "TimeoutError" or clock.sleeps != [3600.0] or called:
        raise CheckFailed(
            "inject_timeout must wait timeout_delay seconds on self.sleep (once), then raise TimeoutError, "
            "without calling the function.",
            input="ChaosMonkey(timeout_delay=3600, sleep=<virtual clock>).inject_timeout(func, 'q')",
            expected="TimeoutError; sleeps [3600.0]; func not called",
            actual=f"{got}; sleeps {clock.sleeps}; func called {len(called)} times",
        )

    async def rate_limit_case() -> Any:
        try:
            return await monkey.inject_rate_limit(func, "q")
        except NotImplementedError:
            raise
        except Exception as exc:
            return exc

    clock.sleeps.clear()
    error = run_async(rate_limit_case(), "inject_rate_limit(func, 'q')")
    header = None
    if isinstance(error, openai.APIStatusError):
        header = error.response.headers.get("retry-after")
    if not isinstance(error, openai.RateLimitError) or error.status_code != 429 or header != "2.5":
        raise CheckFailed(
            "inject_rate_limit must raise the SDK's RateLimitError, a 429 whose retry-after header is "
            "self.retry_after: raise rate_limit_error(self.retry_after).",
            input="ChaosMonkey(retry_after=2.5).inject_rate_limit(func, 'q')",
            expected="openai.RateLimitError, status 429, retry-after '2.5'",
            actual=f"{type(error).__name__}: {error}"[:200] + (f"; retry-after {header!r}" if header else ""),
        )
    if called or clock.sleeps:
        raise CheckFailed(
            "A rate limit is answered at once: inject_rate_limit must neither call the function nor wait.",
            input="ChaosMonkey(retry_after=2.5).inject_rate_limit(func, 'q')",
            expected="func not called, no sleep",
            actual=f"func called {len(called)} times; sleeps {clock.sleeps}",
        )


# --- exercise 2: read_answer ---------------------------------------------------------------------


class Streams:
    """An in-process mock and an async SDK client on it, with each prompt's fault-free answer."""

    def __init__(self) -> None:
        self.mock = InProcessMock(Settings(latency=0.0))
        self.client = self.mock.async_client()

    async def truth(self, prompt: str) -> str:
        response = await self.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": prompt}]
        )
        return response.choices[0].message.content or ""

    async def stream(self, prompt: str, fault: str | None = None, **kwargs: Any) -> Any:
        headers = {"x-mock-fault": fault} if fault else {}
        return await self.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": prompt}], stream=True, extra_headers=headers, **kwargs
        )


def chunk(content: str | None = None, finish: str | None = None, *, role: bool = False) -> ChatCompletionChunk:
    delta: dict[str, Any] = {"content": content}
    if role:
        delta["role"] = "assistant"
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-check",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def usage_chunk() -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-check",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        }
    )


class FakeStream:
    """Hand-made chunks behind the async iteration an SDK stream offers."""

    def __init__(self, chunks: Sequence[ChatCompletionChunk]) -> None:
        self._chunks = list(chunks)

    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        if not self._chunks:
            raise StopAsyncIteration
        await asyncio.sleep(0)
        return self._chunks.pop(0)


async def read_with(learner: Namespace, stream: Any) -> tuple[str, Any]:
    """("returned", text) or ("raised", exception)."""
    try:
        return "returned", await learner.read_answer(stream)
    except NotImplementedError:
        raise
    except Exception as exc:
        return "raised", exc


VALID_CHUNKS = [
    (
        "a role-only first chunk (content None), then text",
        [chunk(role=True), chunk("Hello, "), chunk("world."), chunk(None, "stop")],
        "Hello, world.",
    ),
    (
        "the last chunk carries text and finish_reason together",
        [chunk("Paris is the "), chunk("capital.", "stop")],
        "Paris is the capital.",
    ),
    (
        "empty-string deltas between pieces, then a usage chunk with no choices",
        [chunk(""), chunk("Yes"), chunk(""), chunk(".", "stop"), usage_chunk()],
        "Yes.",
    ),
    ("one chunk with the whole answer", [chunk("  Spaces inside are kept.  ", "stop")], "  Spaces inside are kept.  "),
]
PROMPTS = ["What does a circuit breaker do?", "Question 3: how should a service behave when its LLM provider fails?"]


@check(
    "06-stream-valid",
    1,
    "read_answer returns a complete streamed answer whole, from the mock and from hand-made chunks",
    "Iterate with `async for chunk in stream`, then over chunk.choices (the usage chunk has none); join every "
    "delta.content that is not None, the last chunk's included, and keep the finish_reason.",
)
@names_unawaited
def stream_valid(learner: Namespace, ref: Reference) -> None:
    streams = Streams()

    async def run() -> list[tuple[str, str, tuple[str, Any]]]:
        out = []
        for prompt in PROMPTS:
            truth = await streams.truth(prompt)
            out.append(
                (
                    f"a streamed answer from the mock to {prompt!r}",
                    truth,
                    await read_with(learner, await streams.stream(prompt)),
                )
            )
        for what, chunks, text in VALID_CHUNKS:
            out.append((what, text, await read_with(learner, FakeStream(chunks))))
        return out

    for what, wanted, (how, got) in run_async(run(), "read_answer on complete streams"):
        if how == "raised" or got != wanted:
            shown = f"{type(got).__name__}: {got}"[:200] if how == "raised" else got
            raise CheckFailed(
                "A complete answer (finish_reason 'stop') must come back whole, exactly as streamed.",
                input=what,
                expected=wanted,
                actual=shown,
            )


INVALID_CHUNKS = [
    (
        "a stream that ends with no finish_reason (cut before its end)",
        [chunk(role=True), chunk("The capital of"), chunk(" France is")],
        "no finish_reason",
    ),
    (
        "finish_reason 'length' (max_tokens cut the answer)",
        [chunk("The capital of France"), chunk(None, "length")],
        "finish_reason",
    ),
    (
        "finish_reason 'content_filter' (the provider withheld the answer)",
        [chunk("I"), chunk(None, "content_filter")],
        "finish_reason",
    ),
    ("finish_reason 'stop' and no text at all", [chunk(role=True), chunk(None, "stop")], "empty"),
    ("finish_reason 'stop' and only whitespace", [chunk("  \n"), chunk(" ", "stop")], "empty"),
    (
        "a replacement character early in a complete answer",
        [chunk("Caf\ufffd au lait is "), chunk("coffee.", "stop")],
        "U+FFFD",
    ),
    ("no chunk at all", [], "no finish_reason"),
    ("text after an empty first chunk, and no finish_reason", [chunk(""), chunk("Half an ans")], "no finish_reason"),
]


@check(
    "06-stream-invalid",
    2,
    "no cut, withheld, empty or corrupted answer passes as valid",
    "After the loop, raise InvalidResponse when no chunk had a finish_reason, when it is not 'stop', when the "
    "text is empty or whitespace (text.strip()), and when it contains '\\ufffd'; let exceptions raised while "
    "iterating pass through.",
)
@names_unawaited
def stream_invalid(learner: Namespace, ref: Reference) -> None:
    invalid_type = learner.InvalidResponse
    streams = Streams()
    prompt = PROMPTS[1]

    async def run() -> list[tuple[str, bool, tuple[str, Any]]]:
        out = []
        silent = [
            (
                "the mock's 'empty' fault: the whole text, then the stream stops with no finish_reason and no [DONE]",
                "empty",
                {},
            ),
            ("the mock's 'corrupted' fault: finish_reason 'stop', the text half cut and mangled", "corrupted", {}),
            ("a real answer cut by max_tokens=3 (finish_reason 'length')", None, {"max_tokens": 3}),
        ]
        for what, fault, kwargs in silent:
            out.append((what, True, await read_with(learner, await streams.stream(prompt, fault, **kwargs))))
        for what, chunks, _ in INVALID_CHUNKS:
            out.append((what, True, await read_with(learner, FakeStream(chunks))))
        loud = [
            ("the mock's 'stream_error' fault: an error event mid-stream", "stream_error"),
            ("the mock's 'malformed_json' fault: a broken JSON chunk mid-stream", "malformed_json"),
            ("the mock's 'truncated' fault: the connection drops mid-stream", "truncated"),
        ]
        for what, fault in loud:
            try:
                stream = await streams.stream(prompt, fault)
            except openai.APIError:
                continue  # the SDK failed before any chunk: nothing reaches read_answer
            out.append((what, False, await read_with(learner, stream)))
        return out

    for what, must_be_invalid, (how, got) in run_async(run(), "read_answer on cut, withheld and corrupted streams"):
        if how == "returned":
            raise CheckFailed(
                f"A broken answer passed as valid: {what}.",
                input=what,
                expected="an exception (InvalidResponse for a stream that ends without error)",
                actual=got,
            )
        if must_be_invalid and not isinstance(got, invalid_type):
            raise CheckFailed(
                "A stream that ends without an error but with a broken answer must raise InvalidResponse (the "
                "error a caller can retry), not another exception.",
                input=what,
                expected="InvalidResponse",
                actual=f"{type(got).__name__}: {got}"[:200],
            )


# --- S1: the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The notebook's Outcome, field for field (summarise reads attributes)."""

    ok: bool
    latency: float
    degraded: bool = False
    error: str | None = None
    faults: tuple[str, ...] = ()


def outcome_rows(seed: int, n: int) -> list[tuple[Any, ...]]:
    """A seeded experiment's outcomes, as plain rows (ok, latency, degraded, error, faults)."""
    rng = random.Random(seed)
    kinds = ["rate_limit", "timeout", "stream_cut", "corrupted", "overloaded"]
    rows: list[tuple[Any, ...]] = []
    for _ in range(n):
        faults = tuple(rng.choice(kinds) for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])))
        latency = round(rng.choice([0.0, 0.0, 0.5, 1.5]) + rng.random() * 3, 3)
        if not faults:
            rows.append((True, latency, False, None, ()))
        elif rng.random() < 0.5:
            rows.append((True, latency, rng.random() < 0.4, None, faults))
        else:
            rows.append(
                (False, latency, False, rng.choice(["APITimeoutError", "InvalidResponse", "WrongAnswer"]), faults)
            )
    return rows


def as_outcomes(rows: Sequence[Sequence[Any]]) -> list[Outcome]:
    return [Outcome(bool(r[0]), float(r[1]), bool(r[2]), r[3], tuple(r[4])) for r in rows]


FIXED_REPORTS: list[tuple[str, list[tuple[Any, ...]], dict[str, Any]]] = [
    (
        "no outcomes",
        [],
        {
            "requests": 0,
            "success_rate": 0.0,
            "fallback_rate": 0.0,
            "p50": 0.0,
            "p95": 0.0,
            "failures": {},
            "cascaded": {},
        },
    ),
    (
        "2 outcomes, latencies 1 and 2 s (nearest rank: p50 is the 1st, p95 the 2nd)",
        [(True, 2.0, False, None, ()), (True, 1.0, False, None, ())],
        {
            "requests": 2,
            "success_rate": 1.0,
            "fallback_rate": 0.0,
            "p50": 1.0,
            "p95": 2.0,
            "failures": {},
            "cascaded": {},
        },
    ),
    (
        "20 outcomes, latencies 1..20 s (nearest rank: p95 is the 19th, p50 the 10th)",
        [(True, float(i), False, None, ()) for i in range(20, 0, -1)],
        {
            "requests": 20,
            "success_rate": 1.0,
            "fallback_rate": 0.0,
            "p50": 10.0,
            "p95": 19.0,
            "failures": {},
            "cascaded": {},
        },
    ),
    (
        "4 outcomes: a clean answer, a fallback after two faults, a failure after the same fault twice, a wrong answer",
        [
            (True, 0.0, False, None, ()),
            (True, 2.5, True, None, ("rate_limit", "timeout")),
            (False, 9.0, False, "APITimeoutError", ("timeout", "timeout")),
            (False, 0.5, False, "WrongAnswer", ("stream_cut",)),
        ],
        {
            "requests": 4,
            "success_rate": 0.5,
            "fallback_rate": 0.25,
            "p50": 0.5,
            "p95": 9.0,
            "failures": {"APITimeoutError": 1, "WrongAnswer": 1},
            "cascaded": {"rate_limit": 1, "timeout": 2, "stream_cut": 1},
        },
    ),
    (
        "3 outcomes: faults absorbed by retries (ok, not degraded) do not cascade",
        [
            (True, 1.0, False, None, ("overloaded",)),
            (True, 0.0, False, None, ()),
            (False, 3.0, False, "RateLimitError", ("rate_limit",)),
        ],
        {
            "requests": 3,
            "success_rate": 2 / 3,
            "fallback_rate": 0.0,
            "p50": 1.0,
            "p95": 3.0,
            "failures": {"RateLimitError": 1},
            "cascaded": {"rate_limit": 1},
        },
    ),
]
REPORT_KEYS = ("requests", "success_rate", "fallback_rate", "p50", "p95", "failures", "cascaded")


def same_report(got: Any, wanted: dict[str, Any]) -> bool:
    if not isinstance(got, dict) or not set(REPORT_KEYS) <= set(got):
        return False
    for key in REPORT_KEYS:
        a, b = got[key], wanted[key]
        if isinstance(b, dict):
            if not isinstance(a, dict) or dict(a) != b:
                return False
        elif not isinstance(a, int | float) or not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def shown_report(report: Any) -> Any:
    if not isinstance(report, dict):
        return report
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in report.items() if k in REPORT_KEYS}


@check(
    "06-report",
    2,
    "summarise's figures match the reference's on fixed outcomes and on a seeded experiment",
    "Rates are shares of all outcomes; p50/p95 by nearest rank over every latency: sorted(latencies)"
    "[ceil(q * n) - 1]; failures count the errors of outcomes that are not ok; cascaded counts each distinct "
    "fault of every outcome that failed or was degraded; no outcomes: zeros and empty dicts.",
    part="stretch",
)
def report(learner: Namespace, ref: Reference) -> None:
    for what, rows, wanted in FIXED_REPORTS:
        got = call(f"summarise(<{what}>)", learner.summarise, as_outcomes(rows))
        if not isinstance(got, dict):
            raise CheckFailed("summarise must return a dict.", input=what, expected="a dict", actual=got)
        if not same_report(got, wanted):
            raise CheckFailed("Wrong report.", input=what, expected=shown_report(wanted), actual=shown_report(got))
    for seed, n in ((1, 137), (2, 400)):
        rows = outcome_rows(seed, n)
        wanted = ref.value(("summarise", seed, n), partial(reference_report, rows=rows))
        got = call("summarise", learner.summarise, as_outcomes(rows))
        if not isinstance(got, dict):
            raise CheckFailed("summarise must return a dict.", input=f"{n} outcomes", expected="a dict", actual=got)
        if not same_report(got, wanted):
            keys = [k for k in REPORT_KEYS if not same_report({**wanted, k: dict(got).get(k)}, wanted)]
            raise CheckFailed(
                f"On a seeded experiment of {n} outcomes, the report differs from the reference's in: {keys}.",
                input=f"{n} outcomes (seed {seed}), the first two: {rows[:2]}",
                expected={k: shown_report(wanted)[k] for k in keys},
                actual={k: shown_report(dict(got)).get(k) for k in keys},
            )


def reference_report(reference: Namespace, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    return dict(reference.summarise(as_outcomes(rows)))


# --- S2: the transport ------------------------------------------------------------------------------


class Recorder(httpx2.AsyncBaseTransport):
    """An inner transport that notes each request's x-mock-fault header and answers with a fixed 200."""

    def __init__(self) -> None:
        self.headers: list[str | None] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.headers.append(request.headers.get("x-mock-fault"))
        return httpx2.Response(200, json={"ok": True})


def bare_request(read_timeout: float | None = 10.0) -> httpx2.Request:
    request = httpx2.Request("POST", BASE_URL + "/chat/completions", json={"model": MODEL})
    if read_timeout is not None:
        request.extensions["timeout"] = {"connect": 5.0, "read": read_timeout, "write": 5.0, "pool": 5.0}
    return request


HEADER_KINDS = ("rate_limit", "overloaded", "malformed_json", "stream_error", "corrupted")


def header_kind(header: str | None) -> str | None:
    if header is None:
        return None
    if header.startswith("rate_limit"):
        return "rate_limit"
    return {v: k for k, v in MOCK_FAULTS.items()}.get(header, f"header {header!r}")


def make_transport(learner: Namespace, inner: Any, rate: float, seed: int, clock: VirtualClock, **kwargs: Any) -> Any:
    return call(
        f"ChaosTransport(inner, {rate}, seed={seed}, ...)",
        learner.ChaosTransport,
        inner,
        rate,
        seed=seed,
        sleep=clock.sleep,
        **kwargs,
    )


@check(
    "06-transport-seeded",
    1,
    "ChaosTransport draws the seed's faults: same kinds on the same requests as the reference",
    "In __init__: self.rng = random.Random(seed), self.injected = {}, self.log = []. Per request: one "
    "self.rng.random(); below failure_rate, kind = self.rng.choice(self.faults), counted; log every request's "
    "kind or None; forward requests without a fault untouched.",
    part="stretch",
)
@names_unawaited
def transport_seeded(learner: Namespace, ref: Reference) -> None:
    for rate, seed, n in ((0.4, 3, 120), (0.0, 1, 10), (1.0, 2, 15)):
        clock = VirtualClock()
        inner = Recorder()
        transport = make_transport(learner, inner, rate, seed, clock, faults=HEADER_KINDS)

        async def run(transport: Any = transport, n: int = n) -> None:
            for _ in range(n):
                await transport.handle_async_request(bare_request())

        run_async(run(), f"{n} requests through ChaosTransport")
        wanted = expected_kinds(seed, rate, HEADER_KINDS, n)
        got = [header_kind(h) for h in inner.headers]
        where = first_difference(got, wanted)
        if where is not None:
            raise CheckFailed(
                f"Request {where + 1} did not get the fault the seed draws (failure_rate={rate}, seed={seed}): one "
                "self.rng.random() per request, then self.rng.choice(self.faults), from the transport's own "
                "random.Random(seed).",
                input=f"ChaosTransport(inner, {rate}, seed={seed}, faults={HEADER_KINDS}); {n} requests",
                expected=f"requests 1..{where + 1}, by the header the mock received: {wanted[: where + 1][-5:]}",
                actual=f"{got[: where + 1][-5:]}",
            )
        log = list(getattr(transport, "log", []) or [])
        injected = getattr(transport, "injected", None)
        if log != wanted or not isinstance(injected, dict) or dict(sorted(injected.items())) != counts(wanted):
            raise CheckFailed(
                "transport.log must hold each request's kind (None without a fault) and transport.injected the "
                "count of each kind.",
                input=f"ChaosTransport(inner, {rate}, seed={seed}); {n} requests",
                expected=f"log {wanted[:5]}... ({n} entries); injected {counts(wanted)}",
                actual=f"log {log[:5]}... ({len(log)} entries); injected {injected}",
            )

    clock = VirtualClock()
    inners = (Recorder(), Recorder())
    pair = [make_transport(learner, inner, 0.5, 9, clock, faults=HEADER_KINDS) for inner in inners]

    async def interleaved() -> None:
        for _ in range(30):
            for transport in pair:
                await transport.handle_async_request(bare_request())

    run_async(interleaved(), "two transports with the same seed, in turn")
    wanted = expected_kinds(9, 0.5, HEADER_KINDS, 30)
    seen = [[header_kind(h) for h in inner.headers] for inner in inners]
    if seen[0] != wanted or seen[1] != wanted:
        raise CheckFailed(
            "Two transports with the same seed must inject the same faults: each needs its own random.Random(seed).",
            input="ChaosTransport(inner, 0.5, seed=9) twice, requests to each in turn",
            expected=f"both: {wanted[:8]}...",
            actual=f"first: {seen[0][:8]}..., second: {seen[1][:8]}...",
        )


class Counting(httpx2.AsyncBaseTransport):
    """The in-process mock's transport, counting the requests that reach it."""

    def __init__(self, mock: InProcessMock) -> None:
        self.inner = mock_app_transport(mock)
        self.requests = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)


def sdk_client(transport: httpx2.AsyncBaseTransport) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=BASE_URL, api_key="mock-key", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )


async def read_plainly(stream: Any) -> tuple[str, str | None]:
    """The grader's own reading of a stream: the text and the last finish_reason."""
    parts, finish = [], None
    async for piece in stream:
        for choice in piece.choices:
            if choice.delta is not None and choice.delta.content:
                parts.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish = choice.finish_reason
    return "".join(parts), finish


@dataclass
class Trial:
    what: str
    kind: str
    timeout: float
    options: dict[str, float]
    expected: str
    virtual: float  # seconds the virtual clock must move
    reaches_mock: bool


TRIALS = [
    Trial(
        "rate_limit, retry_after=2.5",
        "rate_limit",
        10.0,
        {"retry_after": 2.5},
        "RateLimitError, retry-after '2.5'",
        0.0,
        True,
    ),
    Trial("timeout, client read timeout 4 s", "timeout", 4.0, {}, "APITimeoutError", 4.0, False),
    Trial(
        "slow_first_token, ttft_delay 1.5 s, timeout 4 s",
        "slow_first_token",
        4.0,
        {"ttft_delay": 1.5},
        "the full answer",
        1.5,
        True,
    ),
    Trial(
        "slow_first_token, ttft_delay 4 s = the timeout",
        "slow_first_token",
        4.0,
        {"ttft_delay": 4.0},
        "APITimeoutError",
        4.0,
        False,
    ),
    Trial(
        "slow_first_token, ttft_delay 9 s, timeout 4 s",
        "slow_first_token",
        4.0,
        {"ttft_delay": 9.0},
        "APITimeoutError",
        4.0,
        False,
    ),
    Trial("overloaded", "overloaded", 10.0, {}, "InternalServerError 503", 0.0, True),
    Trial("stream_error", "stream_error", 10.0, {}, "an error while reading the stream", 0.0, True),
    Trial("malformed_json", "malformed_json", 10.0, {}, "an error while reading the stream", 0.0, True),
    Trial("corrupted", "corrupted", 10.0, {}, "a complete stream whose text has U+FFFD", 0.0, True),
    Trial(
        "stream_cut",
        "stream_cut",
        10.0,
        {},
        "a clean end half-way: a prefix of the answer, no finish_reason",
        0.0,
        True,
    ),
    Trial("no fault (failure_rate 0)", "", 10.0, {}, "the full answer", 0.0, True),
]


async def trial_outcome(trial: Trial, transport: Any, truth: str, prompt: str) -> str:
    client = sdk_client(transport)
    try:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": prompt}], stream=True, timeout=trial.timeout
        )
    except NotImplementedError:
        raise
    except openai.RateLimitError as exc:
        return f"RateLimitError, retry-after {exc.response.headers.get('retry-after')!r}"
    except openai.APITimeoutError:
        return "APITimeoutError"
    except openai.InternalServerError as exc:
        return f"InternalServerError {exc.status_code}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:160]
    try:
        text, finish = await read_plainly(stream)
    except NotImplementedError:
        raise
    except Exception:
        return "an error while reading the stream"
    if finish == "stop" and text == truth:
        return "the full answer"
    if finish == "stop" and "\ufffd" in text:
        return "a complete stream whose text has U+FFFD"
    if finish is None and text and truth.startswith(text) and len(text) < len(truth):
        return "a clean end half-way: a prefix of the answer, no finish_reason"
    return f"a stream with finish_reason {finish!r} and text {text[:60]!r}"


@check(
    "06-transport-faults",
    2,
    "each fault kind reaches the SDK as the real failure: 429 with retry-after, timeouts on the injected clock, "
    "a cut stream",
    "Set request.headers['x-mock-fault'] for the mock's kinds (rate_limit with retry_after={self.retry_after:g}); "
    "slow_first_token waits ttft_delay on self.sleep, unless that reaches the read timeout "
    "(request.extensions['timeout']['read'], or self.hang); timeout waits the read timeout and raises "
    "httpx2.ReadTimeout without forwarding; stream_cut returns await cut_in_half(response).",
    part="stretch",
)
@names_unawaited
def transport_faults(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.0))
    prompt = "Question 11: how should a service behave when its LLM provider fails?"

    async def run() -> list[tuple[Trial, str, float, int]]:
        plain = sdk_client(mock_app_transport(mock))
        answer = await plain.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
        truth = answer.choices[0].message.content or ""
        out = []
        for trial in TRIALS:
            clock = VirtualClock()
            inner = Counting(mock)
            rate, faults = (1.0, (trial.kind,)) if trial.kind else (0.0, ("timeout",))
            transport = make_transport(learner, inner, rate, 0, clock, faults=faults, **trial.options)
            got = await trial_outcome(trial, transport, truth, prompt)
            out.append((trial, got, clock.now, inner.requests))
        clock = VirtualClock()
        inner = Counting(mock)
        transport = make_transport(learner, inner, 1.0, 0, clock, faults=("timeout",), hang=42.0)
        request = bare_request(read_timeout=None)
        try:
            await transport.handle_async_request(request)
            got = "an answer"
        except httpx2.ReadTimeout as exc:
            try:
                same = exc.request is request
            except RuntimeError:  # httpx2: "The request instance has not been set on this exception."
                same = False
            got = "httpx2.ReadTimeout" if same else "httpx2.ReadTimeout without request=request"
        except NotImplementedError:
            raise
        except Exception as exc:
            got = f"{type(exc).__name__}: {exc}"[:160]
        hang = Trial(
            "timeout on a request with no read timeout, hang=42", "timeout", 0.0, {}, "httpx2.ReadTimeout", 42.0, False
        )
        out.append((hang, got, clock.now, inner.requests))
        return out

    for trial, got, moved, requests in run_async(run(), "requests through ChaosTransport with each fault"):
        if got != trial.expected:
            raise CheckFailed(
                f"The fault {trial.kind or 'none'} did not reach the SDK as it should.",
                input=f"one streamed request, {trial.what}",
                expected=trial.expected,
                actual=got,
            )
        if not math.isclose(moved, trial.virtual, abs_tol=1e-9):
            raise CheckFailed(
                "The time the fault took on the injected clock is wrong: wait on self.sleep, the slow first token "
                "for ttft_delay, a timeout for the client's read timeout (or self.hang without one), nothing else.",
                input=trial.what,
                expected=f"{trial.virtual:g} s of (virtual) sleep",
                actual=f"{moved:g} s",
            )
        if (requests > 0) != trial.reaches_mock:
            raise CheckFailed(
                "A request that times out must not reach the server (the client gave up), and every other request "
                "must be forwarded.",
                input=trial.what,
                expected="forwarded" if trial.reaches_mock else "not forwarded",
                actual=f"forwarded {requests} times",
            )


# --- S3: the resilient call --------------------------------------------------------------------------


def status_error(status: int, retry_after: str | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", BASE_URL + "/chat/completions")
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    response = httpx2.Response(status, headers=headers, request=request)
    cls = {429: openai.RateLimitError, 503: openai.InternalServerError}.get(status, openai.APIStatusError)
    return cls("chaos", response=response, body=None)


DELAY_CASES: list[tuple[str, Callable[[Namespace], BaseException], int, float]] = [
    ("a 429 with retry-after '2.5', attempt 0", lambda ns: status_error(429, "2.5"), 0, 2.5),
    (
        "a 429 with retry-after '2.5', attempt 3 (the header wins over the backoff)",
        lambda ns: status_error(429, "2.5"),
        3,
        2.5,
    ),
    ("a 429 with retry-after '100' (over max_delay 8)", lambda ns: status_error(429, "100"), 0, 8.0),
    ("a 429 with retry-after '-3' (counts as 0)", lambda ns: status_error(429, "-3"), 1, 0.0),
    (
        "a 429 with an HTTP-date retry-after (not seconds), attempt 1",
        lambda ns: status_error(429, "Wed, 21 Oct 2026 07:28:00 GMT"),
        1,
        1.0,
    ),
    ("a 503 with no retry-after, attempt 0", lambda ns: status_error(503), 0, 0.5),
    ("a 503 with no retry-after, attempt 2", lambda ns: status_error(503), 2, 2.0),
    ("a 503 with no retry-after, attempt 5 (capped at max_delay 8)", lambda ns: status_error(503), 5, 8.0),
    ("InvalidResponse (no response at all), attempt 1", lambda ns: ns.InvalidResponse("cut"), 1, 1.0),
    ("TimeoutError (no response at all), attempt 3", lambda ns: TimeoutError("chaos"), 3, 4.0),
]


class Scripted(httpx2.AsyncBaseTransport):
    """The mock's transport, noting each request's read timeout; a 400 instead when told."""

    def __init__(self, mock: InProcessMock, bad_request: bool = False) -> None:
        self.inner = mock_app_transport(mock)
        self.timeouts: list[float | None] = []
        self.bad_request = bad_request

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.timeouts.append((request.extensions.get("timeout") or {}).get("read"))
        if self.bad_request:
            error = {
                "message": "Invalid value for 'temperature'.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
            return httpx2.Response(400, json={"error": error})
        return await self.inner.handle_async_request(request)


STALLED = object()


async def settle(coro: Any) -> Any:
    """The coroutine's result or exception; STALLED if it sits idle (a real sleep, a wait for nothing)."""
    task = asyncio.ensure_future(coro)
    if await until_done_or_idle([task]):
        task.cancel()
        return STALLED
    try:
        return task.result()
    except NotImplementedError:
        raise
    except Exception as exc:
        return exc


@dataclass
class Script:
    what: str
    faults: list[str | None]
    kwargs: dict[str, Any]
    answer: str  # "truth", "fallback" or "BadRequestError"
    sleeps: list[float]
    timeouts: list[float]


SCRIPTS = [
    Script(
        "429 (retry-after 1.5), then 503, then an answer",
        ["rate_limit; retry_after=1.5", "unavailable", None],
        {},
        "truth",
        [1.5, 1.0],
        [5.0, 2.0, 2.0],
    ),
    Script(
        "a stream cut with no finish_reason, then a corrupted one, then an answer",
        ["empty", "corrupted", None],
        {},
        "truth",
        [0.5, 1.0],
        [5.0, 2.0, 2.0],
    ),
    Script("an answer at once", [None], {}, "truth", [], [5.0]),
    Script("503 three times", ["unavailable"] * 3, {}, "fallback", [0.5, 1.0], [5.0, 2.0, 2.0]),
    Script(
        "503 five times, attempts=5, timeout=7, retry_timeout=1",
        ["unavailable"] * 5,
        {"attempts": 5, "timeout": 7.0, "retry_timeout": 1.0},
        "fallback",
        [0.5, 1.0, 2.0, 4.0],
        [7.0, 1.0, 1.0, 1.0, 1.0],
    ),
    Script(
        "an error event mid-stream, then an answer, attempts=2",
        ["stream_error", None],
        {"attempts": 2},
        "truth",
        [0.5],
        [5.0, 2.0],
    ),
    Script("a 400 Bad Request (not retryable)", [], {}, "BadRequestError", [], [5.0]),
]


@check(
    "06-resilient",
    2,
    "resilient_ask retries with retry-after and backoff on scripted faults, then falls back, degraded",
    "retry_delay: float(retry-after) when the error's response has a numeric one (at least 0), else "
    "base_delay * 2 ** attempt; at most max_delay. resilient_ask: attempt 0 with timeout, retries with "
    "retry_timeout; raise what is_retryable rejects; sleep retry_delay(exc, attempt) except after the last "
    "attempt; then Answer(FALLBACK_TEXT, source='fallback', degraded=True).",
    part="stretch",
)
@names_unawaited
def resilient(learner: Namespace, ref: Reference) -> None:
    for what, make, attempt, wanted in DELAY_CASES:
        got = call(f"retry_delay(<{what}>, {attempt})", learner.retry_delay, make(learner), attempt)
        if not isinstance(got, int | float) or not math.isclose(got, wanted, abs_tol=1e-9):
            raise CheckFailed(
                "Wrong delay before the next attempt.", input=f"retry_delay: {what}", expected=wanted, actual=got
            )

    prompt = "Question 5: how should a service behave when its LLM provider fails?"

    async def run() -> list[tuple[Script, Any, list[float], list[float | None]]]:
        out = []
        for script in SCRIPTS:
            mock = InProcessMock(Settings(latency=0.0))
            transport = Scripted(mock, bad_request=script.answer == "BadRequestError")
            clock = VirtualClock()
            client = sdk_client(transport)
            mock.set_faults(script=script.faults)
            result = await settle(learner.resilient_ask(client, prompt, sleep=clock.sleep, **script.kwargs))
            out.append((script, result, clock.sleeps, transport.timeouts))
            if result is STALLED:  # the verdict is known: more idle scripts would let the loop watch blame
                break  # "waits for something that never happens" instead of the real sleep
        return out

    truth = run_async(Streams().truth(prompt), "the fault-free answer")
    for script, result, sleeps, timeouts in run_async(run(), "resilient_ask on scripted faults"):
        if result is STALLED:
            raise CheckFailed(
                "resilient_ask did not finish: it waits in real time. Wait with the `sleep` it is given (the checks "
                "give a virtual clock's), never asyncio.sleep or time.sleep directly.",
                input=script.what,
                expected="an answer, with every wait on the injected sleep",
                actual="still waiting in real time (checked by idleness, not by a deadline)",
            )
        if script.answer == "BadRequestError":
            if not isinstance(result, openai.BadRequestError) or timeouts != [5.0] or sleeps:
                raise CheckFailed(
                    "An error that is not worth retrying (a 400: the request itself is wrong) must reach the caller "
                    "at once: no retry, no sleep, no fallback that hides it.",
                    input=script.what,
                    expected="BadRequestError after 1 request, no sleep",
                    actual=f"{type(result).__name__} after {len(timeouts)} requests, sleeps {sleeps}",
                )
            continue
        if isinstance(result, BaseException):
            raise CheckFailed(
                "resilient_ask raised instead of retrying or falling back.",
                input=script.what,
                expected="an Answer",
                actual=f"{type(result).__name__}: {result}"[:200],
            )
        text, source, degraded = (getattr(result, name, None) for name in ("text", "source", "degraded"))
        if script.answer == "truth":
            ok = text == truth and degraded is False and source == "primary"
            shape = "Answer(text=<the model's answer>, source='primary', degraded=False)"
        else:
            ok = text == FALLBACK_TEXT and degraded is True and source == "fallback"
            shape = "Answer(FALLBACK_TEXT, source='fallback', degraded=True)"
        if not ok:
            raise CheckFailed("Wrong answer.", input=script.what, expected=shape, actual=repr(result)[:200])
        if [round(s, 9) for s in sleeps] != script.sleeps:
            raise CheckFailed(
                "Wrong waits between attempts: retry_delay(error, attempt) after each failed attempt but the last "
                "(the server's retry-after first, else base_delay * 2 ** attempt).",
                input=script.what,
                expected=f"sleeps {script.sleeps}",
                actual=f"sleeps {sleeps}",
            )
        if timeouts != script.timeouts:
            raise CheckFailed(
                "Wrong attempts: the first with timeout, every retry with the shorter retry_timeout, at most "
                "`attempts` in all.",
                input=script.what,
                expected=f"{len(script.timeouts)} requests with read timeouts {script.timeouts}",
                actual=f"{len(timeouts)} requests with read timeouts {timeouts}",
            )
