"""The notebook front end: self-check cells call :func:`check`; nbgrader runs the same cells.

A test cell in a lab notebook reads::

    \"\"\"Check that cosine_similarity matches numpy on the handout's vectors\"\"\"
    from grader import nb; nb.check("02-cosine-fixed")

It passes silently but for a one-line tick, or raises ``AssertionError`` with the input,
the expected and the actual value, and a hint. Warnings and stderr printed by the
learner's code during the check go to stdout as notes: nbgrader scores any stderr as a
failure, and a warning is not one.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings

from . import SOLUTIONS
from .loader import load
from .registry import LABS, Namespace, checks_for, explain, find

_references: dict[str, Namespace] = {}
_passed: dict[str, set[str]] = {}


def reference(lab: str) -> Namespace:
    if lab not in _references:
        loaded = load(SOLUTIONS / f"{LABS[lab]}.ipynb", "__reference__")
        if loaded.errors:
            raise RuntimeError(f"the reference solution of lab {lab} failed to load: {loaded.errors[0].error}")
        _references[lab] = Namespace(loaded.namespace, "reference solution")
    return _references[lab]


def check(check_id: str) -> None:
    """Run one check against the calling notebook's globals."""
    spec = find(check_id)
    learner = Namespace(sys._getframe(1).f_globals, "notebook")
    notes = io.StringIO()
    failure: str | None = None
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(notes):
        warnings.simplefilter("always")
        try:
            spec.fn(learner, reference(spec.lab))
        except Exception as exc:  # the learner's error is the verdict
            failure = explain(exc)  # in the same words as `make check`
    for warning in caught:
        print(f"note: {warning.category.__name__}: {warning.message}")
    if notes.getvalue().strip():
        print("note (stderr): " + notes.getvalue().strip()[:2000])
    if failure is not None:
        _passed.setdefault(spec.lab, set()).discard(spec.id)
        raise AssertionError(
            f"\u2717 {spec.id} ({spec.points} pt): {spec.description}\n{failure}\nhint: {spec.hint}"
        ) from None
    _passed.setdefault(spec.lab, set()).add(spec.id)
    print(f"\u2713 {spec.id} ({spec.points} pt): {spec.description}")


def summary(lab: str) -> str:
    """An honest summary of this session's self-checks: public ones passed, and what is left."""
    checks = checks_for(lab)
    public = [c for c in checks if c.visibility == "public"]
    hidden = [c for c in checks if c.visibility == "hidden"]
    passed = [c for c in public if c.id in _passed.get(lab, set())]
    points = sum(c.points for c in passed)
    public_points = sum(c.points for c in public)
    text = f"Lab {lab}: {len(passed)} of {len(public)} public checks passed ({points} of {public_points} points)"
    if hidden:
        noun, verb = ("check", "is") if len(hidden) == 1 else ("checks", "are")
        text += (
            f"; {len(hidden)} more {noun} ({sum(c.points for c in hidden)} points) {verb} graded by the instructor"
        )
    text += ". Run `make check LAB=" + lab + "` for the full scorecard."
    print(text)
    return text
