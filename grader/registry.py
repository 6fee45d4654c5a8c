"""Checks: an id, points, a one-line description, a hint, and a function.

Each lab's module in ``grader/checks`` registers its checks with :func:`check`. A check
receives the learner's namespace and the reference solution's namespace (both loaded
from notebooks) and raises :class:`CheckFailed` saying the input, the expected value
and what came back.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Visibility = Literal["public", "hidden"]

LABS: dict[str, str] = {
    "01": "01_production_api",
    "02": "02_semantic_cache",
}


class CheckFailed(AssertionError):
    """A check's verdict: what went in, what was expected, what came back."""

    def __init__(self, message: str, *, input: object = None, expected: object = None, actual: object = None) -> None:
        parts = [message]
        if input is not None:
            parts.append(f"input: {_short(input)}")
        if expected is not None:
            parts.append(f"expected: {_short(expected)}")
        if actual is not None:
            parts.append(f"got: {_short(actual)}")
        super().__init__("\n".join(parts))


class Missing(CheckFailed):
    """The notebook does not define a name the lab asks for."""


def _short(value: object, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Namespace:
    """Attribute access to a notebook's globals, with a clear failure for missing names."""

    def __init__(self, values: dict[str, Any], label: str) -> None:
        self._values = values
        self._label = label

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise Missing(f"The {self._label} does not define `{name}`: run its cell, or check the spelling.") from None

    def has(self, name: str) -> bool:
        return name in self._values


def explain(exc: BaseException) -> str:
    """What a failed check tells the learner: the verdict, or the exception and where in the notebook."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(frames) if f.filename.startswith("<")), None)
    place = f" (in {where.filename.strip('<>')}, line {where.lineno})" if where else ""
    if isinstance(exc, NotImplementedError):
        return f"Not implemented yet: the exercise still raises NotImplementedError{place}."
    return f"Your code raised {type(exc).__name__}: {exc}{place}"[:800]


CheckFn = Callable[[Namespace, Namespace], None]


@dataclass(frozen=True)
class Check:
    id: str
    points: int
    description: str
    hint: str
    fn: CheckFn = field(repr=False, compare=False)
    visibility: Visibility = "public"

    @property
    def lab(self) -> str:
        return self.id.split("-", 1)[0]


_REGISTRY: dict[str, dict[str, Check]] = {}


def check(
    id: str,
    points: int,
    description: str,
    hint: str,
    visibility: Visibility = "public",
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under ``id`` (``"<lab>-<name>"``, a valid nbgrader grade_id)."""

    def register(fn: CheckFn) -> CheckFn:
        lab = id.split("-", 1)[0]
        checks = _REGISTRY.setdefault(lab, {})
        if id in checks:
            raise ValueError(f"duplicate check id {id}")
        checks[id] = Check(id, points, description, hint, fn, visibility)
        return fn

    return register


def checks_for(lab: str) -> list[Check]:
    """The lab's checks in definition order (importing its module on first use)."""
    if lab not in LABS:
        raise KeyError(f"unknown lab {lab!r}; labs are {', '.join(LABS)}")
    importlib.import_module(f"grader.checks.lab{lab}")
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
