"""The instructor's side: ``make grade`` and ``make feedback`` on an nbgrader course folder.

Submissions go where nbgrader's ``collect``/``zip_collect`` put them::

    course/submitted/<student>/<lab>/<lab>.ipynb     e.g. course/submitted/ada/02_semantic_cache/02_semantic_cache.ipynb

``grade`` (re)creates each lab's source and gradebook entry from ``solutions/``, runs the
real ``nbgrader autograde`` (hidden tests restored, locked cells checked), and exports
``course/grades.csv``; ``feedback`` writes an HTML report per student and lab under
``course/feedback/``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from . import ROOT
from .registry import LABS
from .release import generate, venv_env

DEFAULT_COURSE = ROOT / "course"


def _nbgrader(course: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}", "--log-level=WARN"],
        cwd=course,
        env=venv_env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def submitted_labs(course: Path) -> list[str]:
    """The labs that have at least one submission."""
    folder = course / "submitted"
    return [lab for lab, stem in LABS.items() if any(folder.glob(f"*/{stem}/{stem}.ipynb"))]


def grade(course: Path = DEFAULT_COURSE) -> Path:
    """Autograde every submission with nbgrader and export the grades; the CSV's path."""
    labs = submitted_labs(course)
    if not labs:
        raise RuntimeError(
            f"no submissions under {course / 'submitted'}; expected "
            f"<student>/<lab>/<lab>.ipynb, e.g. ada/{LABS['01']}/{LABS['01']}.ipynb"
        )
    for lab in labs:
        generate(lab, course)  # the source and the gradebook's record of the lab, from solutions/
        _nbgrader(course, "autograde", LABS[lab], "--create", "--force")
    _nbgrader(course, "export", f"--to={course / 'grades.csv'}")
    return course / "grades.csv"


def feedback(course: Path = DEFAULT_COURSE) -> Path:
    """HTML feedback for every autograded submission."""
    for lab in submitted_labs(course):
        _nbgrader(course, "generate_feedback", LABS[lab], "--force")
    return course / "feedback"
