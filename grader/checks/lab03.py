"""Checks for lab 03, error boundaries.

Nothing here sleeps or reads the wall clock to decide a verdict. Primaries are scripts
(``Script``) that answer or raise the official SDK's own exceptions in a set order, and
the boundary, the fallbacks and the breaker get one fake clock (``FakeTime``) whose
``sleep`` moves time forward at once. Each scenario runs on the learner's classes and on
the reference's, and the two are compared as plain data (recorded for the student kit).
The one check about real waiting (20 back-offs at once) decides by the order of events,
not by how long they took.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import httpx2 as httpx
import openai
from hypothesis import strategies as st

from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import call, names_unawaited, run_async

URL = "https://api.openai.com/v1/chat/completions"
CHEAP = "gpt-3.5-turbo"
FALLBACKS = ("rate_limit", "timeout", "template")

Plain = Any


# --- fake time, SDK errors and scripted primaries ------------------------------------------------


class FakeTime:
    """A clock and an async ``sleep`` that share one fake time: sleeping moves it forward at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(float(seconds), 6))
        if seconds > 0:
            self.now += seconds
        await asyncio.sleep(0)

    @property
    def elapsed(self) -> float:
        return round(self.now - self.start, 6)


def sdk_error(step: str, ns: Namespace | None = None) -> BaseException:
    """The exception a step names, as the official SDK (or the notebook) would raise it.

    ``429``, ``429:2.5`` (retry-after 2.5 s), ``429ms:1500`` (retry-after-ms), ``timeout``,
    ``500``, ``503``, ``conn`` (connection error), ``invalid`` (the notebook's
    InvalidResponse), ``bug`` (a TypeError in our own code).
    """
    request = httpx.Request("POST", URL)
    if step.startswith("429"):
        headers = {}
        if step.startswith("429ms:"):
            headers["retry-after-ms"] = step.split(":", 1)[1]
        elif ":" in step:
            headers["retry-after"] = step.split(":", 1)[1]
        response = httpx.Response(429, headers=headers, request=request)
        return openai.RateLimitError("Error code: 429 - Rate limit reached", response=response, body=None)
    if step == "timeout":
        return openai.APITimeoutError(request=request)
    if step in ("500", "503"):
        response = httpx.Response(int(step), request=request)
        return openai.InternalServerError(f"Error code: {step}", response=response, body=None)
    if step == "conn":
        return openai.APIConnectionError(request=request)
    if step == "invalid":
        assert ns is not None
        error = ns.InvalidResponse("the response is not JSON")
        error.__cause__ = ValueError("Expecting value: line 1 column 1 (char 0)")  # as `raise ... from exc` sets it
        return error  # type: ignore[no-any-return]
    if step == "bug":
        return TypeError("'NoneType' object is not subscriptable")
    raise ValueError(f"unknown step {step!r}")


class Script:
    """A primary call that plays its steps in order, then answers ``ok`` forever.

    ``ok`` answers; ``hang:S`` takes S seconds of fake time, or the request's timeout if
    that is shorter and then raises APITimeoutError; every other step raises
    :func:`sdk_error`. Each call is recorded as (model, timeout).
    """

    def __init__(self, ns: Namespace, steps: list[str], time: FakeTime | None = None) -> None:
        self.ns = ns
        self.steps = list(steps)
        self.time = time or FakeTime()
        self.calls: list[tuple[str, float]] = []
        self.raised: list[BaseException] = []
        self.causes: list[BaseException | None] = []  # each raised error's __cause__, as raised

    async def __call__(self, request: Any) -> str:
        self.calls.append((str(request.model), round(float(request.timeout), 6)))
        step = self.steps.pop(0) if self.steps else "ok"
        if step.startswith("hang:"):
            seconds = float(step.split(":", 1)[1])
            if seconds > request.timeout:
                await self.time.sleep(request.timeout)
                step = "timeout"
            else:
                await self.time.sleep(seconds)
                step = "ok"
        if step == "ok":
            return f"answer to {request.prompt!r} from {request.model}"
        error = sdk_error(step, self.ns)
        self.raised.append(error)
        self.causes.append(error.__cause__)
        raise error


def make_fallbacks(ns: Namespace, names: tuple[str, ...] | list[str], time: FakeTime) -> list[Any]:
    made = []
    for name in names:
        if name == "rate_limit":
            made.append(
                call(
                    "RateLimitFallback(max_attempts=3, base_delay=0.5, max_delay=8.0, sleep=..., rng=..., clock=...)",
                    ns.RateLimitFallback,
                    max_attempts=3,
                    base_delay=0.5,
                    max_delay=8.0,
                    sleep=time.sleep,
                    rng=random.Random(0),
                    clock=time,
                )
            )
        elif name == "timeout":
            made.append(call("TimeoutFallback(clock=...)", ns.TimeoutFallback, model=CHEAP, timeout=3.0, clock=time))
        else:
            made.append(call("TemplateFallback()", ns.TemplateFallback))
    return made


def own_fallbacks(ns: Namespace, names: tuple[str, ...] | list[str], time: FakeTime) -> list[Any]:
    """The grader's own simple fallbacks, named like the notebook's: exercise 1's checks test the boundary alone,
    before exercises 2 and 3 are written."""

    class Retry(ns.Fallback):  # type: ignore[misc,name-defined]
        name, degraded = "rate_limit", False

        def can_handle(self, error: BaseException) -> bool:
            return isinstance(error, openai.RateLimitError)

        async def execute(self, request: Any, error: BaseException, call: Any) -> Any:
            for _ in range(3):
                await time.sleep(float(error.response.headers.get("retry-after", 1.0)))  # type: ignore[attr-defined]
                try:
                    return ns.Answer(await call(request), source=self.name, degraded=False)
                except openai.RateLimitError as exc:
                    error = exc
            raise error

    class Cheaper(ns.Fallback):  # type: ignore[misc,name-defined]
        name, degraded = "timeout", True

        def can_handle(self, error: BaseException) -> bool:
            return isinstance(error, openai.APITimeoutError | TimeoutError)

        async def execute(self, request: Any, error: BaseException, call: Any) -> Any:
            quicker = replace(request, model=CHEAP, timeout=min(3.0, request.timeout))
            return ns.Answer(await call(quicker), source=self.name, degraded=True)

    class Canned(ns.Fallback):  # type: ignore[misc,name-defined]
        name, degraded = "template", True

        def can_handle(self, error: BaseException) -> bool:
            return isinstance(error, openai.APIError | TimeoutError | ns.InvalidResponse)

        async def execute(self, request: Any, error: BaseException, call: Any) -> Any:
            return ns.Answer("a canned answer", source=self.name, degraded=True)

    kinds = {"rate_limit": Retry, "timeout": Cheaper, "template": Canned}
    return [kinds[name]() for name in names]


async def execute(fallback: Any, what: str, *args: Any) -> Any:
    """``await fallback.execute(*args)``; a clear failure when execute is not async (the handout's was not)."""
    pending = fallback.execute(*args)
    if not inspect.isawaitable(pending):
        raise CheckFailed(
            f"{what}.execute is not async: the boundary awaits it. Write async def execute(self, request, error, "
            "call).",
            input=f"{what}.execute(request, error, call)",
            expected="a coroutine to await",
            actual=f"{type(pending).__name__} returned at once",
        )
    return await pending


def make_boundary(
    ns: Namespace,
    names: tuple[str, ...] | list[str],
    time: FakeTime,
    deadline: float | None = None,
    own: bool = False,
) -> Any:
    kwargs: dict[str, Any] = {"clock": time}
    if deadline is not None:
        kwargs["deadline"] = deadline
    boundary = call("ErrorBoundary(clock=...)", ns.ErrorBoundary, **kwargs)
    for fallback in (own_fallbacks if own else make_fallbacks)(ns, names, time):
        call("ErrorBoundary.add_fallback", boundary.add_fallback, fallback)
    return boundary


def describe_outcome(ns: Namespace, outcome: Any, script: Script) -> Plain:
    """An answer or an exception as plain data, for comparison with the reference's."""
    if isinstance(outcome, BaseException):
        original = bool(script.raised) and outcome is script.raised[0]
        if original and outcome.__cause__ is not script.causes[0]:
            return ("raised", type(outcome).__name__, "the primary's own error, with its cause replaced")
        return ("raised", type(outcome).__name__, "the primary's own error" if original else "another exception")
    if inspect.iscoroutine(outcome):
        name = outcome.__qualname__
        outcome.close()
        raise CheckFailed(
            f"A coroutine was called but never awaited, so its work never ran ({name}): a missing await?",
            expected=f"an Answer, from await {name}(...)",
            actual=f"{name}(...) without await: the coroutine itself came back as the answer",
        )
    if not isinstance(outcome, ns.Answer):
        return ("returned", repr(outcome)[:120])
    return ("answer", outcome.text, outcome.source, outcome.degraded)


def metrics_view(metrics: Any) -> Plain:
    if not isinstance(metrics, dict):
        raise CheckFailed("ErrorBoundary.metrics is not a dict.", expected="a dict", actual=type(metrics).__name__)
    keys = ("total_requests", "errors", "unhandled", "fallback_success", "fallback_failure", "latency_seconds")
    missing = [k for k in keys if k not in metrics]
    if missing:
        raise CheckFailed(
            f"ErrorBoundary.metrics has no {missing[0]!r}: keep the keys the given __init__ creates.",
            expected=list(keys),
            actual=sorted(metrics),
        )
    view: dict[str, Any] = {k: metrics[k] for k in ("total_requests", "errors", "unhandled")}
    for key in ("fallback_success", "fallback_failure"):
        view[key] = {str(name): int(n) for name, n in sorted(dict(metrics[key]).items()) if n}
    view["latency_seconds"] = [round(float(x), 6) for x in metrics["latency_seconds"]]
    return view


def run_requests(
    ns: Namespace,
    fallbacks: tuple[str, ...] | list[str],
    scripts: list[list[str]],
    deadline: float | None = None,
    own: bool = False,
) -> Plain:
    """Each script's request through one boundary, one after another: outcomes, calls, sleeps, metrics.

    ``own``: the grader's fallbacks instead of the notebook's (exercise 1 tests the boundary alone).
    """
    time = FakeTime()
    boundary = make_boundary(ns, fallbacks, time, deadline, own)
    results = []

    async def go() -> None:
        for index, steps in enumerate(scripts):
            script = Script(ns, steps, time)
            request = ns.Request(f"question {index}", model="gpt-4", timeout=10.0)
            try:
                outcome: Any = await boundary.execute(script, request)
            except NotImplementedError:
                raise
            except Exception as exc:
                outcome = exc
            results.append({"outcome": describe_outcome(ns, outcome, script), "calls": script.calls})

    run_async(go(), f"ErrorBoundary.execute on scripted primaries {scripts}")
    return {
        "requests": results,
        "sleeps": time.sleeps,
        "elapsed": time.elapsed,
        "metrics": metrics_view(boundary.metrics),
    }


def words(outcome: Plain) -> str:
    if outcome[0] == "raised":
        return f"raised {outcome[1]} ({outcome[2]})"
    if outcome[0] == "returned":
        return f"returned {outcome[1]} (not an Answer)"
    return f"Answer(text={outcome[1]!r}, source={outcome[2]!r}, degraded={outcome[3]})"


def compare_requests(learner: Namespace, ref: Reference, fallbacks: tuple[str, ...], scripts: list[list[str]]) -> Plain:
    """Exercise 1: the notebook's boundary with the grader's own fallbacks, against the reference's."""
    expected = ref.value(
        ("own fallbacks", fallbacks, scripts), partial(run_requests, fallbacks=fallbacks, scripts=scripts, own=True)
    )
    got = run_requests(learner, fallbacks, scripts, own=True)
    for index, (want, have) in enumerate(zip(expected["requests"], got["requests"], strict=True)):
        if tuple(want["outcome"]) != tuple(have["outcome"]):
            raise CheckFailed(
                "Wrong outcome." + _outcome_cause(tuple(want["outcome"]), tuple(have["outcome"])),
                input=f"fallbacks {list(fallbacks)}; primary steps {scripts[index]}",
                expected=words(want["outcome"]),
                actual=words(have["outcome"]),
            )
    return expected, got


def _outcome_cause(want: Plain, have: Plain) -> str:
    if want[0] == "raised" and have[0] == "answer":
        return " The error must reach the caller: no fallback here can handle it (a bug is not a provider failure)."
    if want[0] == "answer" and have[0] == "raised":
        return f" A fallback ({want[2]}) should have answered."
    if want[0] == "raised" and have[0] == "raised" and have[2].endswith("cause replaced"):
        return " Raise the primary's error as it is (raise error): `from None` (or `from` anything) replaces its cause."
    if want[0] == "raised" and have[0] == "raised":
        return " Raise the primary's own error (raise error), not a new exception."
    if want[0] == "answer" and have[0] == "answer" and want[2] != have[2]:
        return f" The answer should come from {want[2]!r}: fallbacks run in order, and only those that can handle it."
    if want[0] == "answer" and have[0] == "answer" and want[3] != have[3]:
        return " Mark degraded answers (a cheaper model, a template) as degraded, and only those."
    return ""


# --- exercise 1: the boundary ----------------------------------------------------------------------


@check(
    "03-primary",
    1,
    "a successful primary call gives Answer(text), not degraded, and is counted",
    "return Answer(await primary(request)) when the primary succeeds, after metrics['total_requests'] += 1.",
)
@names_unawaited
def primary(learner: Namespace, ref: Reference) -> None:
    expected, got = compare_requests(learner, ref, FALLBACKS, [["ok"]])
    if got["requests"][0]["calls"] != expected["requests"][0]["calls"]:
        raise CheckFailed(
            "The primary should be called exactly once, with the request.",
            expected=expected["requests"][0]["calls"],
            actual=got["requests"][0]["calls"],
        )
    for key in ("total_requests", "errors"):
        if got["metrics"][key] != expected["metrics"][key]:
            raise CheckFailed(
                f"metrics[{key!r}] is wrong after one successful request.",
                expected=expected["metrics"][key],
                actual=got["metrics"][key],
            )


def spy_fallbacks(ns: Namespace, plan: list[tuple[str, bool, str]], log: list[Plain]) -> list[Any]:
    """Fallbacks (subclasses of the notebook's Fallback) that record what the boundary asks of them."""

    class Spy(ns.Fallback):  # type: ignore[misc,name-defined]
        degraded = True

        def __init__(self, name: str, handles: bool, result: str) -> None:
            self.name = name
            self.handles = handles
            self.result = result

        def can_handle(self, error: BaseException) -> bool:
            return self.handles

        async def execute(self, request: Any, error: BaseException, call: Any) -> Any:
            log.append((self.name, type(error).__name__, call is log[0]))
            if self.result == "fail":
                raise sdk_error("conn")  # not the primary's class: the next fallback must still get the primary's
            return ns.Answer(f"answer from {self.name}", source=self.name, degraded=True)

    return [Spy(*entry) for entry in plan]


ORDER_PLANS = [
    [("A", False, "ok"), ("B", True, "fail"), ("C", True, "ok"), ("D", True, "ok")],
    [("A", True, "ok"), ("B", True, "ok")],
    [("A", False, "ok"), ("B", True, "fail"), ("C", True, "fail")],
]


def run_order(ns: Namespace, plan: list[tuple[str, bool, str]]) -> Plain:
    time = FakeTime()
    script = Script(ns, ["500"], time)
    log: list[Plain] = [script]
    boundary = call("ErrorBoundary(clock=...)", ns.ErrorBoundary, clock=time)
    for spy in spy_fallbacks(ns, plan, log):
        call("ErrorBoundary.add_fallback", boundary.add_fallback, spy)

    async def go() -> Any:
        try:
            return await boundary.execute(script, ns.Request("question", timeout=10.0))
        except NotImplementedError:
            raise
        except Exception as exc:
            return exc

    outcome = run_async(go(), "ErrorBoundary.execute with recording fallbacks")
    return {"executed": [list(entry) for entry in log[1:]], "outcome": describe_outcome(ns, outcome, script)}


def run_cancelled(ns: Namespace) -> Plain:
    """A primary whose task is cancelled (asyncio.CancelledError, a BaseException), and a fallback that handles all."""
    time = FakeTime()

    async def cancelled(request: Any) -> str:
        raise asyncio.CancelledError()

    log: list[Plain] = [cancelled]
    boundary = call("ErrorBoundary(clock=...)", ns.ErrorBoundary, clock=time)
    for spy in spy_fallbacks(ns, [("A", True, "ok")], log):
        call("ErrorBoundary.add_fallback", boundary.add_fallback, spy)

    async def go() -> str:
        try:
            outcome = await boundary.execute(cancelled, ns.Request("question", timeout=10.0))
        except NotImplementedError:
            raise
        except asyncio.CancelledError:
            return "CancelledError reached the caller"
        except Exception as exc:
            return f"raised {type(exc).__name__}"
        return f"returned {repr(outcome)[:120]}"

    outcome = run_async(go(), "ErrorBoundary.execute with a cancelled primary")
    return {"executed": [entry[0] for entry in log[1:]], "outcome": outcome}


@check(
    "03-fallback-order",
    2,
    "fallbacks run in order, only those that can handle the error, until one answers",
    "for fallback in self.fallbacks: skip it unless can_handle(error); try await fallback.execute(request, error, "
    "primary); return its answer, or go on to the next one when it raises.",
)
@names_unawaited
def fallback_order(learner: Namespace, ref: Reference) -> None:
    for plan in ORDER_PLANS:
        expected = ref.value(("order", plan), partial(run_order, plan=plan))
        got = run_order(learner, plan)
        described = ", ".join(
            f"{n} ({'handles' if h else 'cannot handle'}, {'fails' if r == 'fail' else 'answers'})" for n, h, r in plan
        )
        if [e[0] for e in got["executed"]] != [e[0] for e in expected["executed"]]:
            raise CheckFailed(
                "The wrong fallbacks ran: try them in the order they were added, skip those whose can_handle is "
                "false, and stop at the first that answers.",
                input=f"the primary raises a 500; fallbacks {described}",
                expected=f"execute called on {[e[0] for e in expected['executed']] or 'none'}",
                actual=f"execute called on {[e[0] for e in got['executed']] or 'none'}",
            )
        for entry in got["executed"]:
            if entry[1] != "InternalServerError" or not entry[2]:
                raise CheckFailed(
                    "Each fallback gets the primary's error and the primary call itself: "
                    "await fallback.execute(request, error, primary).",
                    input=f"the primary raises a 500; fallback {entry[0]}",
                    expected="execute(request, <InternalServerError>, <the primary>)",
                    actual=f"execute(request, <{entry[1]}>, {'the primary' if entry[2] else 'something else'})",
                )
        if tuple(got["outcome"]) != tuple(expected["outcome"]):
            raise CheckFailed(
                "Wrong outcome." + _outcome_cause(tuple(expected["outcome"]), tuple(got["outcome"])),
                input=f"the primary raises a 500; fallbacks {described}",
                expected=words(expected["outcome"]),
                actual=words(got["outcome"]),
            )
    expected = ref.value(("order", "cancelled"), run_cancelled)
    got = run_cancelled(learner)
    if got != expected:
        raise CheckFailed(
            "A cancelled task is not a provider failure: catch Exception, not BaseException (or a bare except), so "
            "that asyncio.CancelledError and Ctrl-C reach the caller without any fallback answering for them.",
            input="the primary raises asyncio.CancelledError; fallback A can handle any error and answers",
            expected=f"{expected['outcome']}; execute called on {expected['executed'] or 'none'}",
            actual=f"{got['outcome']}; execute called on {got['executed'] or 'none'}",
        )


METRICS_SCRIPTS = [
    ["ok"],
    ["429:1", "ok"],
    ["429:1", "429:2", "429:1", "429:1"],
    ["timeout", "ok"],
    ["timeout", "timeout"],
    ["bug"],
    ["invalid"],
]


@check(
    "03-metrics",
    2,
    "metrics count requests, errors, successes and failures per fallback, unhandled errors and latency",
    "Count every request, every failed primary call, each fallback's success or failure under its name, each "
    "request that raises (unhandled), and append clock() - start for every request in a finally block.",
)
@names_unawaited
def metrics(learner: Namespace, ref: Reference) -> None:
    expected, got = compare_requests(learner, ref, FALLBACKS, METRICS_SCRIPTS)
    story = "; ".join(f"{i + 1}: {' then '.join(s)}" for i, s in enumerate(METRICS_SCRIPTS))
    for key, value in expected["metrics"].items():
        if got["metrics"][key] != value:
            raise CheckFailed(
                f"metrics[{key!r}] is wrong." + METRIC_CAUSES[key],
                input=f"7 requests through simple rate_limit, timeout and template fallbacks (fake clock); primary "
                f"steps {story}",
                expected=value,
                actual=got["metrics"][key],
            )


METRIC_CAUSES = {
    "total_requests": " Count every request once, whatever happens to it.",
    "errors": " Count every request whose primary call failed, once.",
    "unhandled": " Count each request that ends in an exception (the caller gets the error).",
    "fallback_success": " Count each answer a fallback gives, under the fallback's name.",
    "fallback_failure": " Count each fallback that was tried and raised, under its name (rate_limit after its "
    "attempts run out, timeout when the cheaper model times out too).",
    "latency_seconds": " Append self.clock() - start once per request, in a finally block, answers and "
    "errors alike; a rate limit's waits are part of its latency.",
}


@check(
    "03-unhandled",
    1,
    "an error no fallback answers reaches the caller unchanged, never swallowed",
    "When no fallback answers, raise the primary's error itself (raise error): never return None, a string, or a "
    "new exception that hides the cause.",
)
@names_unawaited
def unhandled(learner: Namespace, ref: Reference) -> None:
    cases: list[tuple[tuple[str, ...], list[str], str]] = [
        (FALLBACKS, ["bug"], "a TypeError is a bug in our code: no fallback may hide it"),
        (("rate_limit", "timeout"), ["500"], "no fallback here handles a 500"),
        ((), ["503"], "a boundary without fallbacks"),
        (("timeout",), ["invalid"], "an InvalidResponse raised from the JSON error: its cause must stay attached"),
        (("rate_limit",), ["429:1", "429:1", "429:1", "429:1"], "the rate limit outlasts every attempt"),
    ]
    for fallbacks, steps, why in cases:
        expected = ref.value(
            ("own fallbacks", fallbacks, [steps]), partial(run_requests, fallbacks=fallbacks, scripts=[steps], own=True)
        )
        got = run_requests(learner, fallbacks, [steps], own=True)
        want, have = tuple(expected["requests"][0]["outcome"]), tuple(got["requests"][0]["outcome"])
        same_class = have[0] == "raised" and have[1] == want[1]
        # After retries, re-raising the last 429 instead of the first is as good: both say "rate limited".
        if want != have and not (steps[0].startswith("429") and same_class):
            raise CheckFailed(
                f"The error does not reach the caller as it was ({why})." + _outcome_cause(want, have),
                input=f"fallbacks {list(fallbacks)}; primary steps {steps}",
                expected=words(want),
                actual=words(have),
            )


# --- exercise 2: rate limits -------------------------------------------------------------------------


def mock_errors() -> dict[str, BaseException]:
    """The SDK's exceptions for the mock's real faults (429, 500, a hang past the timeout, a cut connection)."""
    from mock_llm import InProcessMock, Settings

    mock = InProcessMock(Settings(latency=0.0, hang_seconds=1.0))
    client = mock.client(max_retries=0)
    errors: dict[str, BaseException] = {}
    for fault, timeout in (
        ("rate_limit; retry_after=2", 5.0),
        ("server_error", 5.0),
        ("timeout", 0.2),
        ("truncated", 5.0),
    ):
        try:
            client.chat.completions.create(
                model=CHEAP,
                messages=[{"role": "user", "content": "hello"}],
                timeout=timeout,
                extra_headers={"x-mock-fault": fault},
            )
        except Exception as exc:
            errors[fault.split(";")[0]] = exc
    return errors


class StatusError(Exception):
    """An error from another client library that carries an HTTP status."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


@check(
    "03-rate-limit-detect",
    1,
    "RateLimitFallback handles the SDK's RateLimitError (429) and nothing else",
    "isinstance(error, openai.RateLimitError) or getattr(error, 'status_code', None) == 429; never match the "
    "message text.",
)
def rate_limit_detect(learner: Namespace, ref: Reference) -> None:
    fallback = call("RateLimitFallback()", learner.RateLimitFallback)
    real = mock_errors()
    cases: list[tuple[str, BaseException, bool]] = [
        ("a 429 from the mock (openai.RateLimitError)", real["rate_limit"], True),
        ("a 429 from another HTTP library (status_code=429)", StatusError(429), True),
        ("a 500 from the mock (openai.InternalServerError)", real["server_error"], False),
        ("a timeout (openai.APITimeoutError)", real["timeout"], False),
        ("a cut connection (openai.APIConnectionError)", real["truncated"], False),
        ("Exception('Rate limit exceeded'), the handout's made-up error", Exception("Rate limit exceeded"), False),
        ("a 503 from another HTTP library (status_code=503)", StatusError(503), False),
    ]
    for what, error, expected in cases:
        got = call(f"RateLimitFallback().can_handle({what})", fallback.can_handle, error)
        if bool(got) != expected or not isinstance(got, bool):
            raise CheckFailed(
                "can_handle is wrong." + ("" if expected else " Match the error's class or status, not its words."),
                input=what,
                expected=expected,
                actual=got,
            )


def run_backoff(ns: Namespace, steps: list[str], error: str, max_attempts: int, seed: int) -> Plain:
    time = FakeTime()
    fallback = call(
        f"RateLimitFallback(max_attempts={max_attempts}, base_delay=0.5, max_delay=4.0, sleep=..., rng=..., clock=...)",
        ns.RateLimitFallback,
        max_attempts=max_attempts,
        base_delay=0.5,
        max_delay=4.0,
        sleep=time.sleep,
        rng=random.Random(seed),
        clock=time,
    )
    script = Script(ns, steps, time)

    async def go() -> Any:
        try:
            return await execute(
                fallback, "RateLimitFallback", ns.Request("question", timeout=10.0), sdk_error(error), script
            )
        except (NotImplementedError, CheckFailed):
            raise
        except Exception as exc:
            return exc

    outcome = run_async(go(), f"RateLimitFallback.execute after a {error}, then {steps}")
    return {"outcome": describe_outcome(ns, outcome, script), "calls": len(script.calls), "sleeps": time.sleeps}


@check(
    "03-backoff",
    2,
    "waits honour retry-after, else back off exponentially with jitter, for at most max_attempts calls",
    "delay: retry_after(error) when it is not None, else cap = min(max_delay, base_delay * 2**attempt) and "
    "cap / 2 + rng.uniform(0, cap / 2); execute: await self.sleep(delay) before each of max_attempts calls.",
)
@names_unawaited
def backoff(learner: Namespace, ref: Reference) -> None:
    honoured = [
        ("429:2.5", ["ok"], [2.5], "retry-after: 2.5"),
        ("429ms:1500", ["ok"], [1.5], "retry-after-ms: 1500 (milliseconds)"),
        ("429:2", ["429:0.75", "ok"], [2.0, 0.75], "retry-after: 2, then a new 429 with retry-after: 0.75"),
    ]
    for error, steps, sleeps, what in honoured:
        got = run_backoff(learner, steps, error, 3, 0)
        if got["sleeps"] != sleeps:
            hint = (
                " Wait with await self.sleep(seconds): the check's fake sleep saw no wait at all."
                if not got["sleeps"]
                else " Wait exactly what the provider asks: it knows when the quota refills (the new 429's "
                "retry-after for the next wait)."
            )
            raise CheckFailed(
                "The waits do not honour retry-after." + hint, input=what, expected=sleeps, actual=got["sleeps"]
            )
        if got["outcome"][:3] != ("answer", "answer to 'question' from gpt-4", "rate_limit") or got["outcome"][3]:
            raise CheckFailed(
                "After the wait, call again and return Answer(text, source='rate_limit', degraded=False).",
                input=what,
                expected="Answer(text=<the call's answer>, source='rate_limit', degraded=False)",
                actual=words(got["outcome"]),
            )
    # No retry-after: exponential caps 0.5, 1, 2, 4, 4 (max_delay 4) and equal jitter in [cap / 2, cap].
    caps = [0.5, 1.0, 2.0, 4.0, 4.0]
    firsts = set()
    by_seed: dict[int, list[float]] = {}
    for seed in range(12):
        got = run_backoff(learner, ["429"] * 10, "429", 5, seed)
        by_seed[seed] = got["sleeps"]
        if got["calls"] != 5 or got["outcome"][:2] != ("raised", "RateLimitError"):
            raise CheckFailed(
                "Attempts are not bounded: make at most max_attempts calls, then raise the last 429.",
                input="max_attempts=5; every call answers 429 without retry-after",
                expected="5 calls, then RateLimitError",
                actual=f"{got['calls']} calls, then {words(got['outcome'])}",
            )
        sleeps = got["sleeps"]
        wrong = [
            (k, s)
            for k, (s, cap) in enumerate(zip(sleeps, caps, strict=False))
            if not cap / 2 - 1e-9 <= s <= cap + 1e-9
        ]
        if len(sleeps) != 5 or wrong:
            raise CheckFailed(
                "Without retry-after, retry k waits between cap / 2 and cap, with cap = min(max_delay, base_delay * "
                "2**k).",
                input="base_delay=0.5, max_delay=4.0, max_attempts=5; every call answers 429 without retry-after",
                expected="5 waits, within [0.25, 0.5], [0.5, 1], [1, 2], [2, 4], [2, 4]",
                actual=sleeps,
            )
        firsts.add(sleeps[0])
    if len(firsts) < 6:
        raise CheckFailed(
            "No jitter: clients refused together would retry together. Draw from self.rng for each wait.",
            input="the first wait of 12 RateLimitFallbacks with rng=random.Random(0), ..., random.Random(11)",
            expected="12 different waits in [0.25, 0.5]",
            actual=sorted(firsts),
        )
    replay = run_backoff(learner, ["429"] * 10, "429", 5, 3)["sleeps"]
    if replay != by_seed[3]:
        raise CheckFailed(
            "The waits do not come from self.rng: a run seeded the same must wait the same. Draw with "
            "self.rng.uniform, not the global random.uniform.",
            input="two RateLimitFallbacks with rng=random.Random(3); every call answers 429 without retry-after",
            expected=f"the same waits twice: {by_seed[3]}",
            actual=f"{by_seed[3]}, then {replay}",
        )
    got = run_backoff(learner, ["500"], "429:1", 3, 0)
    if got["outcome"][:2] != ("raised", "InternalServerError") or got["calls"] != 1:
        raise CheckFailed(
            "A retry that fails with another error (not a 429) must raise it at once: it is not this fallback's "
            "business.",
            input="a 429 with retry-after 1, then the retry answers 500",
            expected="InternalServerError raised after 1 call",
            actual=f"{words(got['outcome'])} after {got['calls']} calls",
        )


@check(
    "03-backoff-concurrent",
    1,
    "20 requests backing off at once wait together: the event loop is never blocked",
    "Wait with await self.sleep(seconds) (asyncio.sleep by default), never time.sleep in async code.",
)
@names_unawaited
def backoff_concurrent(learner: Namespace, ref: Reference) -> None:
    fallback = call("RateLimitFallback()", learner.RateLimitFallback)
    started = 0
    seen_at_first_call: list[int] = []

    async def primary(request: Any) -> str:
        seen_at_first_call.append(started)
        return "ok"

    async def one(index: int) -> Any:
        nonlocal started
        started += 1
        # 0.1 s: 20 blocking time.sleep calls take 2 s, under run_async's 3 s watchdog, so the order of events
        # below names the cause (a watchdog would call an event loop asleep in time.sleep "idle")
        return await fallback.execute(learner.Request(f"question {index}"), sdk_error("429:0.1"), primary)

    async def go() -> list[Any]:
        return await asyncio.gather(*(one(i) for i in range(20)), return_exceptions=True)

    outcomes = run_async(go(), "20 RateLimitFallback.execute at once, each after a 429 with retry-after 0.1 s")
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:
        raise CheckFailed(
            "RateLimitFallback.execute raised instead of waiting and calling again.",
            input="a 429 with retry-after 0.1, then the call answers",
            expected="20 answers",
            actual=f"{type(failed[0]).__name__}: {failed[0]}"[:200],
        )
    if not seen_at_first_call or seen_at_first_call[0] != 20:
        raise CheckFailed(
            "The waits ran one after another: something blocks the event loop while a request waits (time.sleep in "
            "async code?). Use await self.sleep(seconds).",
            input="20 requests, each waiting 0.1 s after a 429, started together",
            expected="all 20 waiting before the first one calls again",
            actual=f"{seen_at_first_call[0] if seen_at_first_call else 0} started when the first called again",
        )


# --- exercise 3: timeouts and templates --------------------------------------------------------------


def run_timeout(ns: Namespace, model: str, timeout: float, request_timeout: float) -> Plain:
    time = FakeTime()
    fallback = call(
        f"TimeoutFallback(model={model!r}, timeout={timeout})",
        ns.TimeoutFallback,
        model=model,
        timeout=timeout,
        clock=time,
    )
    script = Script(ns, ["ok"], time)

    async def go() -> Any:
        try:
            return await execute(
                fallback,
                "TimeoutFallback",
                ns.Request("question", model="gpt-4", timeout=request_timeout),
                sdk_error("timeout"),
                script,
            )
        except (NotImplementedError, CheckFailed):
            raise
        except Exception as exc:
            return exc

    outcome = run_async(go(), "TimeoutFallback.execute")
    return {"outcome": describe_outcome(ns, outcome, script), "calls": script.calls}


@check(
    "03-timeout",
    1,
    "TimeoutFallback retries once on the cheaper model with the shorter timeout, marked degraded",
    "can_handle: isinstance(error, openai.APITimeoutError | TimeoutError); execute: await call(replace(request, "
    "model=self.model, timeout=min(self.timeout, request.timeout))), as Answer(..., source=self.name, degraded=True).",
)
@names_unawaited
def timeout(learner: Namespace, ref: Reference) -> None:
    fallback = call("TimeoutFallback()", learner.TimeoutFallback)
    for what, error, expected in [
        ("openai.APITimeoutError", sdk_error("timeout"), True),
        ("TimeoutError (asyncio.timeout raises it)", TimeoutError(), True),
        ("openai.RateLimitError", sdk_error("429"), False),
        ("openai.APIConnectionError (not a timeout)", sdk_error("conn"), False),
        ("a 500", sdk_error("500"), False),
    ]:
        got = call(f"TimeoutFallback().can_handle({what})", fallback.can_handle, error)
        if got is not expected:
            raise CheckFailed("TimeoutFallback.can_handle is wrong.", input=what, expected=expected, actual=got)
    for model, seconds, request_timeout in [(CHEAP, 3.0, 10.0), (CHEAP, 3.0, 2.0), ("gpt-4o-mini", 1.5, 10.0)]:
        expected = ref.value(
            ("timeout", model, seconds, request_timeout),
            partial(run_timeout, model=model, timeout=seconds, request_timeout=request_timeout),
        )
        got = run_timeout(learner, model, seconds, request_timeout)
        what = (
            f"TimeoutFallback(model={model!r}, timeout={seconds}) after a request (gpt-4, timeout {request_timeout}) "
            "timed out"
        )
        if got["calls"] != [tuple(c) for c in expected["calls"]]:
            raise CheckFailed(
                "The retry must call the cheaper model once, with the shorter of the two timeouts.",
                input=what,
                expected=f"calls (model, timeout): {[tuple(c) for c in expected['calls']]}",
                actual=f"calls (model, timeout): {got['calls']}",
            )
        if tuple(got["outcome"]) != tuple(expected["outcome"]):
            raise CheckFailed(
                "Wrong answer." + _outcome_cause(tuple(expected["outcome"]), tuple(got["outcome"])),
                input=what,
                expected=words(expected["outcome"]),
                actual=words(got["outcome"]),
            )


INTENT_PROMPTS = [
    "Hi",
    "hello there!",
    "Good morning team",
    "Hey, how are you?",
    "HELLO",
    "hint",
    "hi, what are your opening hours today?",
    "Good evening, can you help me with my invoice please?",
    "help",
    "??",
    "",
    "refund now",
    "What are your support hours?",
    "How do I reset my password?",
    "hello hello hello hello hello",
    "good",
    "good morning",
    "good morningstar products",
    "hey2you",
]

GREETING_WORDS = ["hi", "hello", "hey", "good", "morning", "evening", "afternoon", "hint", "there", "team"]
OTHER_WORDS = ["what", "are", "your", "hours", "refund", "help", "password", "reset", "invoice", "?", "!", ",", "2"]
prompts = st.lists(st.sampled_from(GREETING_WORDS + OTHER_WORDS), max_size=7).map(" ".join)


@check(
    "03-template",
    2,
    "intent() follows the rules; TemplateFallback answers provider failures only, marked degraded",
    "intent: words = re.findall(r'[a-z]+', prompt.lower()); greeting when <= 4 words starting with a GREETINGS "
    "entry; unclear when < 3 words; else error. can_handle: isinstance(error, PROVIDER_ERRORS).",
)
@names_unawaited
def template(learner: Namespace, ref: Reference) -> None:
    for prompt in INTENT_PROMPTS:
        expected = ref.call("intent", prompt)
        got = call(f"intent({prompt!r})", learner.intent, prompt)
        if got != expected:
            raise CheckFailed("intent() is wrong.", input=prompt, expected=expected, actual=got)
    bad = ref.counterexample("03-template", prompts, lambda p: learner.intent(p) == ref.call("intent", p))
    if bad is not None:
        raise CheckFailed(
            "intent() is wrong (a generated prompt).",
            input=bad,
            expected=ref.call("intent", bad),
            actual=call(f"intent({bad!r})", learner.intent, bad),
        )
    fallback = call("TemplateFallback()", learner.TemplateFallback)
    for what, error, expected in [
        ("openai.RateLimitError", sdk_error("429"), True),
        ("openai.InternalServerError (500)", sdk_error("500"), True),
        ("openai.APIConnectionError", sdk_error("conn"), True),
        ("TimeoutError", TimeoutError(), True),
        ("InvalidResponse", sdk_error("invalid", learner), True),
        ("TypeError, a bug in our code", sdk_error("bug"), False),
        ("KeyError('choices'), a bug in our code", KeyError("choices"), False),
        ("AttributeError, a bug in our code", AttributeError("'NoneType' object has no attribute 'content'"), False),
        ("ZeroDivisionError, a bug in our code", ZeroDivisionError("division by zero"), False),
    ]:
        got = call(f"TemplateFallback().can_handle({what})", fallback.can_handle, error)
        if bool(got) is not expected:
            raise CheckFailed(
                "TemplateFallback.can_handle is wrong."
                + (" A bug must reach the caller, not hide behind 'Please try again'." if not expected else ""),
                input=what,
                expected=expected,
                actual=got,
            )
    for prompt in ("hello", "What are your support hours?", "??"):
        expected = ref.value(("template", prompt), partial(_template_answer, prompt=prompt))
        got = _template_answer(learner, prompt)
        if tuple(got) != tuple(expected):
            raise CheckFailed(
                "TemplateFallback.execute should answer with the template of the prompt's intent, marked degraded.",
                input=prompt,
                expected=words(expected),
                actual=words(got),
            )


def _template_answer(ns: Namespace, prompt: str) -> Plain:
    fallback = call("TemplateFallback()", ns.TemplateFallback)
    script = Script(ns, [])

    async def go() -> Any:
        try:
            return await execute(fallback, "TemplateFallback", ns.Request(prompt), sdk_error("503"), script)
        except (NotImplementedError, CheckFailed):
            raise
        except Exception as exc:
            return exc

    return describe_outcome(ns, run_async(go(), f"TemplateFallback.execute({prompt!r})"), script)


# --- S1: the deadline ----------------------------------------------------------------------------------

DEADLINE_CASES: list[tuple[tuple[str, ...], list[str], str, float]] = [
    (("timeout", "template"), ["hang:30"], "the primary hangs 30 s", 5.0),
    (("rate_limit", "template"), ["429:3", "429:3"], "429 with retry-after 3 s, twice", 5.0),
    (("timeout", "template"), ["hang:4", "ok"], "the primary answers after 4 s, inside the deadline", 5.0),
    (("rate_limit", "timeout", "template"), ["429:1", "hang:30"], "a 429 (retry-after 1 s), then the retry hangs", 5.0),
    (("rate_limit", "template"), ["429:1", "ok"], "a 429 (retry-after 1 s), then an answer", 5.0),
    (("rate_limit", "template"), ["429:5"], "a 429 asking for exactly the 5 s left", 5.0),
    # The primary's own 10 s timeout ends 2 s before the deadline: the cheaper model's 3 s must shrink to 2 s.
    (
        ("timeout", "template"),
        ["hang:30", "hang:30"],
        "the primary times out after 10 s, the cheaper model hangs",
        12.0,
    ),
]


@check(
    "03-deadline",
    2,
    "with a deadline, no call, wait or fallback runs past it, and the call timeouts shrink to the time left",
    "In execute: request = replace(request, deadline=start + self.deadline) and primary(within(request, self.clock)); "
    "before each fallback, raise DeadlineExceeded if the deadline passed; in the fallbacks, never wait past it and "
    "call within(...).",
    part="stretch",
)
@names_unawaited
def deadline(learner: Namespace, ref: Reference) -> None:
    for fallbacks, steps, what, seconds in DEADLINE_CASES:
        key = ("deadline", fallbacks, steps, seconds)
        expected = ref.value(key, partial(run_requests, fallbacks=fallbacks, scripts=[steps], deadline=seconds))
        got = run_requests(learner, fallbacks, [steps], seconds)
        where = f"ErrorBoundary(deadline={seconds}) with fallbacks {list(fallbacks)}; {what}"
        if got["elapsed"] > seconds + 1e-6:
            raise CheckFailed(
                "The request ran past its deadline: every call's timeout must be cut to the time left (within), and "
                "no wait may end after the deadline.",
                input=where,
                expected=f"finished within {seconds} s (fake clock)",
                actual=f"finished after {got['elapsed']} s; calls (model, timeout): {got['requests'][0]['calls']}; "
                f"waits: {got['sleeps']}",
            )
        want_calls = [tuple(c) for c in expected["requests"][0]["calls"]]
        if got["requests"][0]["calls"] != want_calls:
            raise CheckFailed(
                "The calls' timeouts do not follow the deadline: pass within(request, clock) to every call.",
                input=where,
                expected=f"calls (model, timeout): {want_calls}",
                actual=f"calls (model, timeout): {got['requests'][0]['calls']}",
            )
        want, have = tuple(expected["requests"][0]["outcome"]), tuple(got["requests"][0]["outcome"])
        if want != have and not (want[0] == have[0] == "raised" and have[1] == "DeadlineExceeded"):
            cause = (
                " When the deadline has passed, raise DeadlineExceeded instead of trying more fallbacks."
                if want[:2] == ("raised", "DeadlineExceeded")
                else " A wait that would pass the deadline must not start: raise DeadlineExceeded from the rate-limit "
                "fallback, so that the next fallback (the template) answers in time."
                if want[0] == "answer"
                else _outcome_cause(want, have)
            )
            raise CheckFailed(
                "Wrong outcome with a deadline." + cause, input=where, expected=words(want), actual=words(have)
            )


# --- S2: the circuit breaker -------------------------------------------------------------------------

Step = tuple[Any, ...]


def run_breaker(ns: Namespace, steps: list[Step], **settings: Any) -> Plain:
    """Steps: ("call", outcome) with outcome ok / 500 / 429:S / bug, or ("wait", seconds); one row per step."""
    time = FakeTime()
    breaker = call(f"CircuitBreaker({settings})", ns.CircuitBreaker, clock=time, **settings)
    rows: list[Plain] = []

    async def go() -> None:
        for step in steps:
            if step[0] == "wait":
                time.now += step[1]
                rows.append(("wait", step[1], None, str(breaker.state)))
                continue
            script = Script(ns, [step[1]], time)
            request = ns.Request("question")
            try:
                value = await breaker.call(script, request)
                answer = f"answer to {request.prompt!r} from {request.model}"
                result = "ok" if value == answer else f"returned {repr(value)[:60]}, not the call's result"
            except NotImplementedError:
                raise
            except Exception as exc:
                if isinstance(exc, ns.CircuitOpen):
                    result = f"refused (retry_after {round(float(exc.retry_after), 6)})"
                else:
                    result = type(exc).__name__
            made = "called" if script.calls else "not called"
            rows.append(("call", step[1], f"{result}, {made}", str(breaker.state)))

    run_async(go(), "CircuitBreaker.call on a scripted sequence")
    transitions = [(round(float(t) - time.start, 6), str(s)) for t, s in breaker.transitions]
    return {"rows": rows, "transitions": transitions}


def compare_breaker(
    learner: Namespace, ref: Reference, name: str, steps: list[Step], settings: dict[str, Any], why: str
) -> None:
    expected = ref.value(("breaker", name), lambda r: run_breaker(r, steps, **settings))
    got = run_breaker(learner, steps, **settings)
    for index, (want, have) in enumerate(zip(expected["rows"], got["rows"], strict=True)):
        if tuple(want) != tuple(have):
            done = "; ".join(_step_words(s) for s in steps[: index + 1])
            raise CheckFailed(
                f"The breaker went wrong at step {index + 1} ({why}).",
                input=f"CircuitBreaker({', '.join(f'{k}={v}' for k, v in settings.items())}); steps: {done}",
                expected=_row_words(want),
                actual=_row_words(have),
            )
    if [tuple(t) for t in expected["transitions"]] != [tuple(t) for t in got["transitions"]]:
        raise CheckFailed(
            "self.transitions is wrong: append (self.clock(), new_state) on every change of state, and only then.",
            input=f"CircuitBreaker({settings}); {len(steps)} steps ({why})",
            expected=[tuple(t) for t in expected["transitions"]],
            actual=[tuple(t) for t in got["transitions"]],
        )


def _step_words(step: Step) -> str:
    return f"wait {step[1]} s" if step[0] == "wait" else f"call -> {step[1]}"


def _row_words(row: Plain) -> str:
    if row[0] == "wait":
        return f"state {row[3]!r} after the wait"
    return f"{row[2]}; state {row[3]!r}"


TRIP = [("call", "ok"), ("call", "500"), ("call", "ok"), ("call", "500"), ("call", "ok"), ("wait", 4.0), ("call", "ok")]
ROLLING = [("call", "ok")] * 8 + [("call", "500"), ("call", "bug"), ("call", "500"), ("call", "ok")]


@check(
    "03-breaker-trip",
    1,
    "the circuit opens at the failure rate over the window, and then refuses calls without making them",
    "Keep the last `window` outcomes in a deque(maxlen=window); open when len >= min_calls and failures / len >= "
    "failure_threshold; while open, raise CircuitOpen(time left) without calling.",
    part="stretch",
)
@names_unawaited
def breaker_trip(learner: Namespace, ref: Reference) -> None:
    settings = {"failure_threshold": 0.5, "window": 4, "min_calls": 4, "cooldown": 10.0}
    compare_breaker(learner, ref, "trip", TRIP, settings, "2 failures in 4 calls reach the 50% threshold")
    compare_breaker(
        learner,
        ref,
        "rolling",
        ROLLING,
        settings,
        "only the last 4 outcomes count, and a bug (TypeError) is no outcome",
    )


RECOVER = [
    ("call", "500"),
    ("call", "500"),
    ("wait", 9.5),
    ("call", "ok"),
    ("wait", 0.5),
    ("call", "500"),
    ("call", "ok"),
    ("wait", 10.0),
    ("call", "ok"),
    ("call", "500"),
]
SHORT_COOLDOWN = [("call", "500"), ("call", "500"), ("wait", 0.125), ("call", "ok"), ("wait", 0.125), ("call", "ok")]
RETRY_AFTER = [
    ("call", "429:30"),
    ("call", "429:30"),
    ("wait", 10.0),
    ("call", "ok"),
    ("wait", 20.0),
    ("call", "ok"),
    ("call", "ok"),
]


@check(
    "03-breaker-recover",
    2,
    "after the cooldown (or a longer retry-after) one probe is let through: success closes, failure reopens",
    "open until clock() + max(cooldown, retry_after(error) or 0); then move to half_open and admit at most "
    "half_open_probes calls; a probe's success closes the circuit, its failure opens it again.",
    part="stretch",
)
@names_unawaited
def breaker_recover(learner: Namespace, ref: Reference) -> None:
    settings = {"failure_threshold": 0.5, "window": 4, "min_calls": 2, "cooldown": 10.0}
    compare_breaker(learner, ref, "recover", RECOVER, settings, "open, a failed probe, a new cooldown, a good probe")
    compare_breaker(
        learner, ref, "retry-after", RETRY_AFTER, settings, "a 429 asking for 30 s keeps it open 30 s, not 10"
    )
    compare_breaker(
        learner,
        ref,
        "short cooldown",
        SHORT_COOLDOWN,
        {**settings, "cooldown": 0.25},
        "a cooldown of a quarter of a second, and no retry-after: open for exactly the cooldown",
    )
    got = _probes(learner)
    expected = ref.value(("breaker", "probes"), _probes)
    if got != expected:
        raise CheckFailed(
            "While half-open, at most half_open_probes calls may be in flight: the others get CircuitOpen at once.",
            input="CircuitBreaker(min_calls=1, cooldown=10, half_open_probes=1): opened, 10 s later 3 calls at once",
            expected=expected,
            actual=got,
        )
    _compare_stages(
        learner,
        ref,
        _two_probes,
        TWO_PROBES,
        "CircuitBreaker(min_calls=1, cooldown=10, half_open_probes=2)",
        "While half-open, at most half_open_probes calls may be in flight: a probe that ends in a bug frees its slot, "
        "and each new half-open period starts with every slot free.",
    )
    _compare_stages(
        learner,
        ref,
        _late_calls,
        LATE_CALLS,
        "CircuitBreaker(min_calls=1, cooldown=10, half_open_probes=1)",
        "A call that began while the circuit was closed and ends after it opened is old news: while open, its outcome "
        "changes nothing (record outcomes only while closed, or a probe's while half-open), and its bug frees no "
        "probe slot, since it never took one.",
    )


def _compare_stages(
    learner: Namespace,
    ref: Reference,
    scenario: Callable[[Namespace], Plain],
    stages: list[str],
    breaker: str,
    message: str,
) -> None:
    """A staged scenario on the learner's breaker and the reference's: the first stage (row) that differs."""
    expected = ref.value(("breaker", scenario.__name__), scenario)
    got = scenario(learner)
    for index, (want, have) in enumerate(zip(expected, got, strict=True)):
        if want != have:
            raise CheckFailed(
                message, input=f"{breaker}: " + "; ".join(stages[: index + 1]), expected=want, actual=have
            )


def _probes(ns: Namespace) -> Plain:
    time = FakeTime()
    breaker = _breaker(ns, time, 1)

    async def go() -> list[str]:
        gate = asyncio.Event()
        with contextlib.suppress(Exception):
            await breaker.call(Script(ns, ["500"], time), ns.Request("q"))
        time.now += 10.0
        calls = 0

        async def slow(request: Any) -> str:
            nonlocal calls
            calls += 1
            await gate.wait()
            return "ok"

        async def one() -> str:
            try:
                await breaker.call(slow, ns.Request("q"))
                return "answered"
            except NotImplementedError:
                raise
            except Exception as exc:
                if isinstance(exc, ns.CircuitOpen):
                    return f"refused (retry_after {round(float(exc.retry_after), 6)})"
                return type(exc).__name__

        tasks = [asyncio.ensure_future(one()) for _ in range(3)]
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks)
        return [*sorted(results), f"calls made: {calls}", f"state: {breaker.state}"]

    return run_async(go(), "three calls at once on a half-open CircuitBreaker")


TWO_PROBES = [
    "a 500 opens the circuit; 10 s later P1, P2 and P3 are called at once",
    "P1 ends in a bug (TypeError); then P4 and P5 are called at once",
    "P2 fails (500) and opens the circuit again; then P4 ends in a bug; 10 s later Q1, Q2 and Q3 are called at once",
    "Q1 and Q2 answer",
]


class GatedCalls:
    """Calls through a breaker that each wait at a named gate, then end as scripted; what each got, stage by stage."""

    def __init__(self, ns: Namespace, breaker: Any, gates: tuple[str, ...]) -> None:
        self.ns, self.breaker = ns, breaker
        self.gates = {name: asyncio.Event() for name in gates}
        self.made: list[str] = []
        self.tasks: list[Any] = []
        self.rows: list[str] = []

    def _fn(self, name: str, gate: str, end: str) -> Any:
        async def fn(request: Any) -> str:
            self.made.append(name)
            await self.gates[gate].wait()
            if end != "ok":
                raise sdk_error(end)
            return "ok"

        return fn

    async def _one(self, name: str, gate: str, end: str) -> str:
        try:
            await self.breaker.call(self._fn(name, gate, end), self.ns.Request(name))
            return f"{name} answered"
        except NotImplementedError:
            raise
        except Exception as exc:
            if isinstance(exc, self.ns.CircuitOpen):
                return f"{name} refused (retry_after {round(float(exc.retry_after), 6)})"
            return f"{name} raised {type(exc).__name__}"

    @staticmethod
    async def settle() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    async def start(self, *calls: tuple[str, str, str]) -> None:
        """Start calls (name, gate, end) at once; each waits at its gate."""
        self.tasks.extend(asyncio.ensure_future(self._one(*args)) for args in calls)
        await self.settle()

    async def release(self, gate: str) -> None:
        self.gates[gate].set()
        await self.settle()

    def stage(self) -> None:
        done = sorted(task.result() for task in self.tasks if task.done())
        self.rows.append(f"{', '.join(done) or 'nothing ended'}; calls made: {self.made}; state {self.breaker.state!r}")

    async def finish(self) -> list[str]:
        await asyncio.gather(*self.tasks)
        self.stage()
        return self.rows


def _breaker(ns: Namespace, time: FakeTime, probes: int) -> Any:
    return call(
        "CircuitBreaker(...)",
        ns.CircuitBreaker,
        failure_threshold=0.5,
        window=4,
        min_calls=1,
        cooldown=10.0,
        half_open_probes=probes,
        clock=time,
    )


def _two_probes(ns: Namespace) -> Plain:
    """Half-open with two probe slots: what each call gets, after each stage of TWO_PROBES."""
    time = FakeTime()
    breaker = _breaker(ns, time, 2)

    async def go() -> list[str]:
        calls = GatedCalls(ns, breaker, ("P1", "P2", "Q"))
        with contextlib.suppress(Exception):
            await breaker.call(Script(ns, ["500"], time), ns.Request("q"))
        time.now += 10.0
        await calls.start(("P1", "P1", "bug"), ("P2", "P2", "500"), ("P3", "P2", "ok"))
        calls.stage()
        await calls.release("P1")
        await calls.start(("P4", "P2", "bug"), ("P5", "P2", "ok"))
        calls.stage()
        await calls.release("P2")
        time.now += 10.0
        await calls.start(("Q1", "Q", "ok"), ("Q2", "Q", "ok"), ("Q3", "Q", "ok"))
        calls.stage()
        await calls.release("Q")
        return await calls.finish()

    return run_async(go(), "probes at once on a half-open CircuitBreaker(half_open_probes=2)")


LATE_CALLS = [
    "L1, L2 and L3 are called at once while the circuit is closed",
    "L1 fails (500): the circuit opens",
    "5 s later L2 fails (500); then C1 is called",
    "5 s later P1 is called and ends in a bug (TypeError)",
    "L3 ends in a bug; then P2 and P3 are called at once",
    "P2 answers",
]


def _late_calls(ns: Namespace) -> Plain:
    """Calls admitted while closed that end after the circuit opened: what each call gets, stage by stage."""
    time = FakeTime()
    breaker = _breaker(ns, time, 1)

    async def go() -> list[str]:
        calls = GatedCalls(ns, breaker, ("L1", "L2", "L3", "P1", "P2"))
        await calls.start(("L1", "L1", "500"), ("L2", "L2", "500"), ("L3", "L3", "bug"))
        calls.stage()
        await calls.release("L1")
        calls.stage()
        time.now += 5.0
        await calls.release("L2")
        await calls.start(("C1", "L2", "ok"))
        calls.stage()
        time.now += 5.0
        await calls.start(("P1", "P1", "bug"))
        await calls.release("P1")
        calls.stage()
        await calls.release("L3")
        await calls.start(("P2", "P2", "ok"), ("P3", "P2", "ok"))
        calls.stage()
        await calls.release("P2")
        return await calls.finish()

    return run_async(go(), "calls that span the opening of a CircuitBreaker")
