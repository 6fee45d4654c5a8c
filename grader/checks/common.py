"""Helpers shared by the labs' checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from ..registry import CheckFailed, GraderError

T = TypeVar("T")

SAMPLE_SIZE = 100  # generated inputs recorded per check for the student kit
SETTINGS = settings(
    max_examples=100, database=None, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


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


def call(description: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner code; turn an unexpected exception into a failure that says where."""
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, CheckFailed, GraderError):
        raise
    except Exception as exc:
        raise CheckFailed(f"{description} raised {type(exc).__name__}: {exc}") from exc
