"""Helpers shared by the labs' checks."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import threading
import time
import types
import warnings
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from ..registry import CheckFailed, GraderError, Namespace, explain

T = TypeVar("T")

SAMPLE_SIZE = 100  # generated inputs recorded per check for the student kit
# No "explain" phase: it reruns a failing example to say which parts mattered (seconds per
# failure), and a check reports the shrunk example in its own words anyway.
SETTINGS = settings(
    max_examples=100,
    database=None,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
)
# "Never finishes" is decided by idleness, not by a deadline: work that is still pending
# while this process has used no CPU for a while is waiting for something that will not
# happen (a future nobody resolves, an event loop stuck in time.sleep). A busy machine
# slows a correct submission down but never makes it idle, so no verdict depends on load.
IDLE_SECONDS = 1.0  # inside a check's event loop: requests still pending after this much idleness never answer
BLOCKED_SECONDS = 3.0  # around it: an event loop thread idle this long is blocked (longer, so the loop reports first)
IDLE_CPU = 0.02  # CPU seconds per second below which the process counts as idle (the watching itself uses ~0.003)
POLL_SECONDS = 0.1


class VirtualClock:
    """The checks' clock: it moves only when something sleeps on it, and notes every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class Idleness:
    """Measures how long this process has been idle (using almost no CPU), by wall-clock time."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._since = time.monotonic()

    def idle_for(self) -> float:
        """Seconds of idleness so far; any real CPU use since the last look starts the count again."""
        cpu, now = time.process_time(), time.monotonic()
        if cpu - self._cpu > IDLE_CPU * max(1.0, now - self._since):
            self._cpu, self._since = cpu, now
        return now - self._since


async def until_done_or_idle(tasks: Sequence[asyncio.Future[Any]]) -> set[asyncio.Future[Any]]:
    """Wait for ``tasks``; return the ones still pending once the process has gone idle (they never finish)."""
    idleness = Idleness()
    pending = {t for t in tasks if not t.done()}
    while pending:
        _, pending = await asyncio.wait(pending, timeout=POLL_SECONDS)
        if pending and idleness.idle_for() >= IDLE_SECONDS:
            break
    return pending


def smallest_counterexample(strategy: st.SearchStrategy[T], holds: Callable[[T], bool]) -> T | None:
    """The simplest value for which ``holds`` is false (hypothesis shrinks it), or None."""

    def broken(value: T) -> bool:
        try:
            return not holds(value)
        except (NotImplementedError, GraderError):
            raise  # an unattempted exercise, or the grader's own failure, is not a counterexample
        except Exception:
            return True

    try:
        return find(strategy, broken, settings=SETTINGS)
    except NoSuchExample:
        return None


class Clock:
    """An injectable clock for TTL checks: time moves only when a check moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def close(a: float, b: float, tol: float = 1e-6) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def raised_where(exc: BaseException) -> str:
    """``exc`` as "NameError: ... (in cell 5 (`...`), line 3)": what learner code raised, and where."""
    return explain(exc).removeprefix("Your code raised ")


def call(description: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner code; turn an unexpected exception into a failure that says where."""
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, CheckFailed, GraderError):
        raise
    except Exception as exc:
        raise CheckFailed(
            f"{description} raised {type(exc).__name__}.",
            input=description,
            expected="a result, not an exception",
            actual=raised_where(exc),
        ) from exc


def _unstarted_coroutines(exc: BaseException | None) -> list[str]:
    """Coroutines created but never awaited, still held by the frames of ``exc``'s traceback."""
    names: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            for value in list(tb.tb_frame.f_locals.values()):
                if type(value) is types.CoroutineType and inspect.getcoroutinestate(value) == inspect.CORO_CREATED:
                    names.append(value.__qualname__)
            tb = tb.tb_next
        exc = exc.__context__
    return names


def run_async(coro: Coroutine[Any, Any, T], what: str) -> T:
    """Run ``coro`` on a fresh event loop, in a thread, and return its result.

    Two learner mistakes are named rather than left to a generic failure: a coroutine that
    was called but never awaited (Python only warns about it), and an event loop that
    stops turning (``time.sleep`` or a busy wait in async code) or waits for what never
    comes, which would otherwise hang the check until the grader's time limit. The loop is
    watched with heartbeats: one event-loop turn of correct code takes microseconds, so a
    heartbeat unanswered for seconds means the loop is stuck, however busy the machine is.
    """
    box: dict[str, Any] = {}
    beat: dict[str, float | None] = {"sent": None}

    def target() -> None:
        try:
            with asyncio.Runner() as runner:
                box["loop"] = runner.get_loop()
                box["value"] = runner.run(coro)
        except BaseException as exc:
            box["error"] = exc

    def answered() -> None:
        beat["sent"] = None

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread = threading.Thread(target=target, name="grader-check-loop", daemon=True)
        thread.start()
        idleness = Idleness()
        while thread.is_alive():
            thread.join(POLL_SECONDS)
            if not thread.is_alive():
                break
            now = time.monotonic()
            sent = beat["sent"]
            # A loop stuck in time.sleep uses no CPU either: idleness would blame "waits for something
            # that never happens" first, so an unanswered heartbeat decides which of the two it is.
            stuck = sent is not None and (
                now - sent >= BLOCKED_SECONDS or (now - sent >= IDLE_SECONDS and idleness.idle_for() >= BLOCKED_SECONDS)
            )
            if sent is None and "loop" in box:
                beat["sent"] = now
                try:
                    box["loop"].call_soon_threadsafe(answered)
                except RuntimeError:  # the loop is closing
                    beat["sent"] = None
            elif stuck:
                raise CheckFailed(
                    f"{what} never finished: the event loop stopped turning. Something blocks it: time.sleep or "
                    "a busy wait in async code (use await asyncio.sleep, or await a future).",
                    input=what,
                    expected="an answer",
                    actual=f"the event loop has been stuck in one step for {now - sent:.1f} s",  # type: ignore[operator]
                )
            if idleness.idle_for() >= BLOCKED_SECONDS:
                raise CheckFailed(
                    f"{what} never finished: it waits for something that never happens.",
                    input=what,
                    expected="an answer",
                    actual=f"still waiting, with nothing left to run, after {BLOCKED_SECONDS:g} s",
                )
        unawaited = _unstarted_coroutines(box.get("error"))
    for warning in caught:
        text = str(warning.message)
        if issubclass(warning.category, RuntimeWarning) and "was never awaited" in text:
            unawaited.append(text.split("'")[1] if text.count("'") >= 2 else text)
        else:  # not ours to judge: pass it on (the notebook shows warnings as notes)
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if unawaited:
        raise CheckFailed(
            f"{what}: a coroutine was called but never awaited, so its work never ran.",
            input=what,
            expected=f"await {unawaited[0]}(...)",
            actual=f"{unawaited[0]}(...) without await",
        )
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


_OURS = (str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "mock_llm"), "<reference")


def unawaited_coroutines() -> dict[int, str]:
    """Coroutines that were created and never started (by id), except the grader's, the mock's and the reference's.

    A coroutine kept alive (stored in a cache, say) never triggers Python's "never awaited"
    warning, so the heap is searched instead.
    """
    found = {}
    for obj in gc.get_objects():  # type() and not isinstance(): some objects make isinstance slow
        unstarted = type(obj) is types.CoroutineType and inspect.getcoroutinestate(obj) == inspect.CORO_CREATED
        if unstarted and not obj.cr_code.co_filename.startswith(_OURS):
            found[id(obj)] = obj.__qualname__
    return found


_reported: set[int] = set()  # the notebook front end runs checks in one process: name each coroutine once


def names_unawaited(fn: Callable[[Namespace, Any], None]) -> Callable[[Namespace, Any], None]:
    """A check that, when it fails, says so if the learner's code left a coroutine un-awaited.

    The heap is searched only after a failure (it costs tens of milliseconds); under the
    grader each check runs in a process of its own, so what it finds is this check's.
    """

    @functools.wraps(fn)
    def checked(learner: Namespace, ref: Any) -> None:
        try:
            fn(learner, ref)
        except (NotImplementedError, GraderError):
            raise
        except Exception as exc:
            found = {key: name for key, name in unawaited_coroutines().items() if key not in _reported}
            _reported.update(found)
            if not found:
                raise
            name = next(iter(found.values()))
            raise CheckFailed(
                f"A coroutine was called but never awaited, so its work never ran ({name}): a missing await?",
                expected=f"await {name}(...)",
                actual=f"{name}(...) without await; then: " + str(exc).splitlines()[0][:200],
            ) from exc

    return checked
