"""The kit's grader: one set of checks per lab, two front ends.

- ``python -m grader check`` / ``make check``: loads the learner's code from notebooks,
  runs each lab in its own subprocess under time and memory limits, prints a scorecard;
- nbgrader: the source notebooks' test cells call :func:`grader.nb.check`, so the
  self-check in JupyterLab and ``nbgrader autograde`` run the very same checks.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LABS_DIR = ROOT / "labs"

__all__ = ["LABS_DIR", "ROOT", "SOLUTIONS", "live_reference_available"]


def live_reference_available() -> bool:
    """True in the instructor repository (solutions and hidden checks); False in the student kit."""
    return SOLUTIONS.is_dir() and (ROOT / "grader" / "hidden").is_dir()
