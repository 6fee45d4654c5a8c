"""The notebook front end: self-check cells call :func:`check`; raw nbgrader runs the same cells.

A test cell in a lab notebook reads::

    \"\"\"Check that cosine_similarity matches numpy on the handout's vectors\"\"\"
    from grader import nb; nb.check("02-cosine-fixed")

In JupyterLab a passing check shows one line, and a failing one a short block (what,
input, expected, got, hint) with no traceback and without stopping Run All, so every
check of an untouched lab shows its result. Under nbgrader's execution
(``NBGRADER_EXECUTION`` is set) a failed check also raises, so that nbgrader scores the
cell as failed. Warnings and stderr printed by the learner's code during the check are
shown as notes: nbgrader scores any stderr as a failure, and a warning is not one.

In the instructor repository the checks compare with the live reference solution; in the
student kit, with the expectations recorded from it at release time.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import sys
import warnings

from . import SOLUTIONS, live_reference_available
from .loader import REFERENCE_LABEL, load
from .oracle import Reference
from .registry import LABS, GraderError, Namespace, checks_for, explain, find

_references: dict[str, Reference] = {}
_results: dict[str, dict[str, bool]] = {}


def reference(lab: str) -> Reference:
    if lab not in _references:
        if live_reference_available():
            loaded = load(SOLUTIONS / f"{LABS[lab]}.ipynb", "__reference__", REFERENCE_LABEL)
            if loaded.errors:
                raise GraderError(f"the reference solution of lab {lab} failed to load: {loaded.errors[0].error}")
            _references[lab] = Reference(lab, Namespace(loaded.namespace, "reference solution"))
        else:
            _references[lab] = Reference.from_file(lab)
    return _references[lab]


def _show(text: str, markup: str) -> None:
    """Plain text for a terminal or nbconvert, a compact block in JupyterLab."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the kit
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display({"text/plain": text, "text/html": markup}, raw=True)  # type: ignore[no-untyped-call]


def _block(lines: list[tuple[str, str]], colour: str) -> str:
    rows = "".join(
        f'<div><b style="display:inline-block;min-width:5.5em">{html.escape(label)}</b>'
        f"<code style='white-space:pre-wrap'>{html.escape(value)}</code></div>"
        for label, value in lines
    )
    return (
        f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:2px 0;'
        f'font-family:var(--jp-code-font-family, monospace);font-size:12px">{rows}</div>'
    )


def check(check_id: str) -> None:
    """Run one check against the calling notebook's globals and show the verdict."""
    spec = find(check_id)
    learner = Namespace(sys._getframe(1).f_globals, "notebook")
    notes = io.StringIO()
    failure: str | None = None
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(notes):
        warnings.simplefilter("always")
        try:
            if spec.fn is None:
                raise GraderError("this hidden check is graded by the instructor")
            spec.fn(learner, reference(spec.lab))
        except Exception as exc:  # the learner's error is the verdict
            failure = explain(exc)  # in the same words as `make check`
    # ResourceWarnings come from garbage collection of objects made earlier (an unclosed client), not from the check
    note_lines = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, ResourceWarning)]
    if notes.getvalue().strip():
        note_lines.append("stderr: " + notes.getvalue().strip()[:2000])
    title = f"{spec.id} ({spec.points} pt{'s' if spec.points != 1 else ''}, {spec.part}): {spec.description}"
    _results.setdefault(spec.lab, {})[spec.id] = failure is None
    if failure is None:
        text = "\n".join([f"\u2713 {title}", *(f"  note: {n}" for n in note_lines)])
        _show(text, _block([("\u2713 passed", title), *(("note", n) for n in note_lines)], "#2e7d32"))
        return
    lines = [("\u2717 failed", title)]
    for line in failure.splitlines():
        label, _, value = line.partition(": ")
        if label in {"input", "expected", "got"} and value:
            lines.append((label, value))
        else:
            lines.append(("why", line))
    lines.append(("hint", spec.hint))
    lines += [("note", n) for n in note_lines]
    text = "\n".join([f"\u2717 {title}", *(f"  {label}: {value}" for label, value in lines[1:])])
    _show(text, _block(lines, "#c62828"))
    if os.environ.get("NBGRADER_EXECUTION"):
        raise AssertionError(text) from None  # nbgrader scores the cell as failed


def summary(lab: str) -> None:
    """Print an honest summary of this session's self-checks: core and stretch, and what is left."""
    checks = checks_for(lab)
    seen = _results.get(lab, {})
    public = [c for c in checks if c.visibility == "public"]
    hidden = [c for c in checks if c.visibility == "hidden"]
    lines = [f"Lab {lab}, public self-checks:"]
    for part in ("core", "stretch"):
        mine = [c for c in public if c.part == part]
        if not mine:
            continue
        passed = [c for c in mine if seen.get(c.id)]
        not_run = [c for c in mine if c.id not in seen]
        line = (
            f"  {part}: {len(passed)} of {len(mine)} passed "
            f"({sum(c.points for c in passed)} of {sum(c.points for c in mine)} points)"
        )
        if not_run:
            line += f"; {len(not_run)} not run yet"
        lines.append(line)
    if hidden:
        noun, verb = ("check", "is") if len(hidden) == 1 else ("checks", "are")
        lines.append(
            f"  {len(hidden)} more {noun} ({sum(c.points for c in hidden)} points) {verb} graded by the instructor."
        )
    lines.append(f"Run `make check LAB={lab}` in a terminal for the full scorecard.")
    print("\n".join(lines))
