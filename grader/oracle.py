"""What a check may know of the reference solution: live, recording, or recorded.

- **live** (the instructor's repository): the reference notebook's namespace; values are
  computed on demand, and generated inputs come from hypothesis, which shrinks a failure
  to the smallest counterexample.
- **recording** (``make release``): live, and every value and generated sample a public
  check asks for is kept, to ship in the student kit.
- **recorded** (the student kit): no reference code at all. Values and samples come from
  ``grader/expectations/labNN.json``, written at release time; a generated check replays
  the recorded sample in order and reports the first input that fails.

A check asks ``ref.value(key, compute)``: ``key`` names the question with its inputs (a
tuple of plain values), ``compute`` answers it from the reference namespace. Values are
plain Python data (numpy is converted), so live and recorded checks compare the same types.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import strategies as st

from .registry import EXPECTATIONS, GraderError, Namespace

T = TypeVar("T")


def plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists, recursively; everything else as is."""
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return value.tolist()
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def _literal(value: Any, what: str) -> str:
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        same = False
    if not same:
        raise GraderError(f"{what} is not a plain value that can be recorded: {text[:120]}")
    return text


class Reference:
    def __init__(
        self, lab: str, namespace: Namespace | None = None, recorded: dict[str, Any] | None = None, record: bool = False
    ) -> None:
        if (namespace is None) == (recorded is None):
            raise ValueError("a Reference is live (namespace) or recorded, not both")
        self.lab = lab
        self._namespace = namespace
        self._recorded = recorded
        self.recording: dict[str, Any] | None = {"values": {}, "samples": {}} if record else None

    @classmethod
    def from_file(cls, lab: str, path: Path | None = None) -> Reference:
        path = path or EXPECTATIONS / f"lab{lab}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GraderError(f"the recorded expectations of lab {lab} cannot be read ({exc})") from None
        return cls(lab, recorded=data)

    @property
    def is_live(self) -> bool:
        return self._namespace is not None

    @property
    def live(self) -> Namespace:
        """The reference namespace itself, for hidden checks (they run only where the reference is)."""
        if self._namespace is None:
            raise GraderError("this check needs the reference solution, which the student kit does not ship")
        return self._namespace

    def value(self, key: tuple[Any, ...], compute: Callable[[Namespace], Any]) -> Any:
        name = repr(plain(key))
        if self._recorded is not None:
            try:
                return ast.literal_eval(self._recorded["values"][name])
            except KeyError:
                raise GraderError(f"no recorded expectation for {name[:100]}") from None
        assert self._namespace is not None
        result = plain(compute(self._namespace))
        if self.recording is not None:
            self.recording["values"][name] = _literal(result, f"the reference's answer to {name[:80]}")
        return result

    def call(self, name: str, *args: Any) -> Any:
        """The reference function ``name`` applied to ``args``."""
        return self.value((name, *args), lambda r: getattr(r, name)(*args))

    def counterexample(self, key: str, strategy: st.SearchStrategy[T], holds: Callable[[T], bool]) -> T | None:
        """An input for which ``holds`` is false, or None: the smallest (live) or the first recorded one (kit)."""
        from .checks.common import SAMPLE_SIZE, smallest_counterexample

        if self._recorded is not None:
            try:
                sample = ast.literal_eval(self._recorded["samples"][key])
            except KeyError:
                raise GraderError(f"no recorded sample for {key}") from None
            return next((value for value in sample if not _safe(holds, value)), None)
        if self.recording is None:
            return smallest_counterexample(strategy, holds)
        seen: list[T] = []

        def watched(value: T) -> bool:
            if len(seen) < SAMPLE_SIZE:
                seen.append(plain(value))
            return holds(value)

        bad = smallest_counterexample(strategy, watched)
        if bad is not None:
            raise GraderError(f"the reference fails its own generated check {key} on {bad!r}")
        self.recording["samples"][key] = _literal(seen, f"the sample of {key}")
        return None


def _safe(holds: Callable[[T], bool], value: T) -> bool:
    try:
        return holds(value)
    except (NotImplementedError, GraderError):
        raise
    except Exception:
        return False
