"""Checks: an id, points, a one-line description, a hint, a part, a visibility, and a function.

Each lab's module in ``grader/checks`` registers its public checks with :func:`check`;
hidden checks live in ``grader/hidden`` (the instructor repository only). A check
receives the learner's namespace and a :class:`~grader.oracle.Reference` (what it may
know of the reference solution) and raises :class:`CheckFailed` saying the input, the
expected value and what came back.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .loader import describe_cell, is_learner_file

if TYPE_CHECKING:
    from .oracle import Reference

Visibility = Literal["public", "hidden"]
Part = Literal["core", "stretch"]

LABS: dict[str, str] = {
    "01": "01_production_api",
    "02": "02_semantic_cache",
    "03": "03_error_boundaries",
    "04": "04_cost_optimization",
    "05": "05_monitoring_dashboard",
    "06": "06_chaos_engineering",
    "07": "07_capstone",
}

EXPECTATIONS = Path(__file__).resolve().parent / "expectations"

_UNSET = object()


class CheckFailed(AssertionError):
    """A check's verdict: what went in, what was expected, what came back.

    ``input``, ``expected`` and ``actual`` are shown whenever they are given, ``None``
    included: a cache miss is a real answer, and a blank would hide it.
    """

    def __init__(
        self, message: str, *, input: object = _UNSET, expected: object = _UNSET, actual: object = _UNSET
    ) -> None:
        parts = [message]
        for label, value in (("input", input), ("expected", expected), ("got", actual)):
            if value is not _UNSET:
                parts.append(f"{label}: {describe(value)}")
        super().__init__("\n".join(parts))


class Missing(CheckFailed):
    """The notebook does not define a name the lab asks for."""


class OutOfTime(BaseException):
    """Raised inside a check's process at its CPU-time or wall-time limit, where the code was running.

    A BaseException, like KeyboardInterrupt: a learner's ``except Exception`` does not swallow it.
    ``where`` is the notebook line any thread was running when the limit came (async code runs
    in a thread of its own, and only the main thread receives the signal).
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


def running_learner_line() -> str | None:
    """The notebook cell and line some thread is running now (the innermost), or None."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if is_learner_file(frame.f_code.co_filename):
                return describe_cell(frame.f_code.co_filename, frame.f_lineno)
            frame = frame.f_back  # type: ignore[assignment]
    return None


class GraderError(Exception):
    """The grader's own failure (a missing expectation, a broken reference): never the learner's fault."""


def describe(value: object, limit: int = 300) -> str:
    """A value as a learner reads it: ``None`` is "None (no match)", long values are cut."""
    if value is None:
        return "None (no match / nothing returned)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Namespace:
    """Attribute access to a notebook's globals, with a clear failure for missing names."""

    def __init__(self, values: dict[str, Any], label: str, failed_cells: Sequence[tuple[str, str]] = ()) -> None:
        self._values = values
        self._label = label
        self._failed_cells = list(failed_cells)  # (which cell, error) of the cells that raised while loading

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            pass
        message = f"The {self._label} does not define `{name}`"
        if self._failed_cells:
            # A cell that failed (a syntax error stops the whole cell) is the likeliest cause.
            cell, error = self._failed_cells[0]
            more = f" (and {len(self._failed_cells) - 1} more)" if len(self._failed_cells) > 1 else ""
            raise Missing(
                f"{message}. {cell[:1].upper()}{cell[1:]} raised {error[:200]}{more} while loading: "
                f"if `{name}` is defined there, fix that first; otherwise run its cell, or check the spelling."
            )
        raise Missing(f"{message}: run its cell, or check the spelling.")

    def has(self, name: str) -> bool:
        return name in self._values


def _learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    frames = traceback.extract_tb(exc.__traceback__)
    return next((f for f in reversed(frames) if is_learner_file(f.filename)), None)


def explain(exc: BaseException) -> str:
    """What a failed check tells the learner: the verdict, or the exception and where in the notebook."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, GraderError):
        return f"The grader could not run this check (not your fault; tell the instructor): {exc}"
    where = _learner_frame(exc)
    place = f" (in {describe_cell(where.filename, where.lineno)})" if where else ""
    if isinstance(exc, OutOfTime):
        line = describe_cell(where.filename, where.lineno) if where else exc.where
        return f"Timed out: {exc}" + (f", stopped in {line}." if line else ".")
    if isinstance(exc, NotImplementedError):
        return f"Not implemented yet: the exercise still raises NotImplementedError{place}."
    detail = str(exc) or "(no message)"
    return f"Your code raised {type(exc).__name__}: {detail}{place}"[:800]


CheckFn = Callable[[Namespace, "Reference"], None]


@dataclass(frozen=True)
class Check:
    id: str
    points: int
    description: str
    hint: str
    fn: CheckFn | None = field(repr=False, compare=False)
    visibility: Visibility = "public"
    part: Part = "core"
    # Work the check shares across submissions (a baseline, a trace): the runner calls it once before it
    # forks the workers, which inherit the result; it must give the same result whatever notebook is graded.
    warm: Callable[[], object] | None = field(default=None, repr=False, compare=False)

    @property
    def lab(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def runnable(self) -> bool:
        """False in the student kit for hidden checks: only their name and points ship."""
        return self.fn is not None

    def meta(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "points": self.points,
            "description": self.description,
            "hint": self.hint,
            "visibility": self.visibility,
            "part": self.part,
        }


_REGISTRY: dict[str, dict[str, Check]] = {}


def check(
    id: str,
    points: int,
    description: str,
    hint: str,
    visibility: Visibility = "public",
    part: Part = "core",
    warm: Callable[[], object] | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under ``id`` (``"<lab>-<name>"``, a valid nbgrader grade_id)."""

    def register(fn: CheckFn) -> CheckFn:
        _add(Check(id, points, description, hint, fn, visibility, part, warm))
        return fn

    return register


def _add(spec: Check) -> None:
    checks = _REGISTRY.setdefault(spec.lab, {})
    if spec.id in checks:
        raise ValueError(f"duplicate check id {spec.id}")
    checks[spec.id] = spec


def _load(lab: str) -> None:
    importlib.import_module(f"grader.checks.lab{lab}")
    if (Path(__file__).resolve().parent / "hidden").is_dir():  # the files, not an import: an editable install
        # of another checkout would otherwise lend the student kit its hidden checks
        importlib.import_module(f"grader.hidden.lab{lab}")
    else:  # the student kit: hidden checks are names and points only
        known = _REGISTRY.setdefault(lab, {})
        for meta in hidden_meta(lab):
            if meta["id"] not in known:
                _add(Check(fn=None, **meta))


def hidden_meta(lab: str) -> list[dict[str, Any]]:
    path = EXPECTATIONS / f"lab{lab}.json"
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("hidden", []))


def checks_for(lab: str) -> list[Check]:
    """The lab's checks: public ones in definition order, then hidden ones."""
    if lab not in LABS:
        raise KeyError(f"unknown lab {lab!r}; labs are {', '.join(LABS)}")
    _load(lab)
    return list(_REGISTRY.get(lab, {}).values())


def find(check_id: str) -> Check:
    for candidate in checks_for(check_id.split("-", 1)[0]):
        if candidate.id == check_id:
            return candidate
    raise KeyError(f"unknown check {check_id!r}")


def lab_of_notebook(name: str) -> str | None:
    """``"02_semantic_cache.ipynb"`` -> ``"02"``."""
    for lab, stem in LABS.items():
        if name.startswith(stem) or name.startswith(lab + "_"):
            return lab
    return None
