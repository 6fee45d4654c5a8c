"""The instructor's side: ``make grade`` and ``make feedback`` for a class.

Submissions go where nbgrader's ``collect``/``zip_collect`` put them::

    COURSE/submitted/<student>/<lab>/<notebook>.ipynb     e.g. submitted/ada/02_semantic_cache/02_semantic_cache.ipynb

``grade`` runs the kit's own engine (``runner.grade``: forked, sandboxed, limited
workers, the live reference and the hidden checks; never the learner's kernel) over
every submission in parallel. A submission whose bytes and whose grader are unchanged
since its last grading is not graded again (``force`` regrades). Each result is stored
under ``COURSE/.grader/``, the scores go into nbgrader's gradebook (so ``nbgrader
export`` and formgrader show the same numbers), and ``COURSE/grades.csv`` gets one row
per student with a status. ``feedback`` writes one HTML page per student and lab.
"""

from __future__ import annotations

import csv
import hashlib
import json
import statistics
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from . import ROOT, SOLUTIONS
from .loader import NotebookError, grade_meta, read_notebook
from .registry import LABS, checks_for, lab_of_notebook
from .runner import LabResult, Limits, grade

DEFAULT_COURSE = ROOT / "course"
CACHE = ".grader"


@dataclass
class Submission:
    student: str
    lab: str
    notebook: Path
    notes: list[str] = field(default_factory=list)


@dataclass
class Row:
    student: str
    results: dict[str, dict[str, Any]]  # lab -> stored result (LabResult.as_dict() plus notes)
    missing: list[str]

    def cells(self) -> dict[str, str]:
        out: dict[str, str] = {"student": self.student}
        total = core = stretch = 0
        for lab, stem in LABS.items():
            found = self.results.get(lab)
            if found is None:
                out[stem] = "missing"
                continue
            if found["status"].startswith(("ungradable", "grader error")):
                out[stem] = "ungradable"
                continue
            out[stem] = str(found["score"])
            total += int(found["score"])
            core += int(found["core"])
            stretch += int(found["stretch"])
        out.update(core=str(core), stretch=str(stretch), total=str(total), max=str(max_total()))
        out["status"] = self.status()
        out["notes"] = "; ".join(
            n for lab in sorted(self.results) for n in self.results[lab].get("submission_notes", [])
        )
        return out

    def status(self) -> str:
        problems = []
        for lab in sorted(self.results):
            status = self.results[lab]["status"]
            if status != "ok":
                kind, _, reason = status.partition(": ")
                problems.append((kind, f"{kind}: lab {lab}: {reason}"))
        problems += [("missing", f"missing: lab {lab}") for lab in self.missing]
        if not problems:
            return "ok"
        order = ["grader error", "ungradable", "flagged", "missing"]
        problems.sort(key=lambda p: order.index(p[0]) if p[0] in order else len(order))
        return " | ".join(text for _, text in problems)


def max_total() -> int:
    return sum(c.points for lab in LABS for c in checks_for(lab))


# --- finding submissions -------------------------------------------------------------------------


def detect_lab(path: Path) -> str | None:
    """The lab a notebook belongs to, from its test cells' grade ids (``02-...``)."""
    try:
        notebook = read_notebook(path)
    except NotebookError:
        return None
    prefixes = Counter(
        str(grade_meta(cell).get("grade_id", "")).split("-", 1)[0]
        for cell in notebook["cells"]
        if isinstance(cell, dict) and grade_meta(cell).get("grade_id")
    )
    for prefix, _ in prefixes.most_common():
        if prefix in LABS:
            return prefix
    return None


def _lab_of_folder(name: str) -> str | None:
    for lab, stem in LABS.items():
        if name in (stem, lab) or name.startswith(lab + "_"):
            return lab
    return None


def _notebooks(folder: Path) -> list[Path]:
    skip = {".ipynb_checkpoints", "__MACOSX"}
    return sorted(
        p
        for p in folder.rglob("*.ipynb")
        if p.is_file() and not skip.intersection(p.parts) and not p.name.startswith("._")
    )


def pick_notebooks(folder: Path, student: str = "") -> tuple[list[Submission], list[str]]:
    """One notebook per lab found under ``folder`` (with why it was picked), and the labs with none.

    A lab is recognised by the notebook's name, then its test cells, then its folder; where
    several notebooks belong to one lab, the one named like the lab wins, else the newest.
    """
    candidates: dict[str, list[tuple[Path, str]]] = {}
    for path in _notebooks(folder):
        relative = path.relative_to(folder)
        by_name = lab_of_notebook(path.name)
        by_content = None if by_name else detect_lab(path)
        by_folder = _lab_of_folder(relative.parts[0]) if len(relative.parts) > 1 else None
        lab = by_name or by_content or by_folder
        if lab is None:
            continue
        how = "name" if by_name else "test cells" if by_content else "folder"
        candidates.setdefault(lab, []).append((path, how))
    chosen_list: list[Submission] = []
    missing: list[str] = []
    for lab, stem in LABS.items():
        found = candidates.get(lab, [])
        if not found:
            missing.append(lab)
            continue
        exact = [p for p, _ in found if p.name == f"{stem}.ipynb"]
        chosen = exact[0] if exact else max((p for p, _ in found), key=_mtime)
        notes = []
        if chosen.name != f"{stem}.ipynb":
            notes.append(f"lab {lab}: graded {chosen.name} (recognised by its {dict(found)[chosen]})")
        others = [p.name for p, _ in found if p != chosen]
        if others:
            notes.append(f"lab {lab}: also found {', '.join(others)}, not graded")
        chosen_list.append(Submission(student, lab, chosen, notes))
    return chosen_list, missing


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def find_submissions(course: Path) -> tuple[list[Submission], dict[str, list[str]]]:
    """Every gradable submission, and for each student the labs they did not submit."""
    folder = course / "submitted"
    if not folder.is_dir():
        raise RuntimeError(
            f"no folder {folder}; submissions go in submitted/<student>/<lab>/<lab>.ipynb, "
            f"e.g. submitted/ada/{LABS['01']}/{LABS['01']}.ipynb"
        )
    submissions: list[Submission] = []
    missing: dict[str, list[str]] = {}
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        chosen, absent = pick_notebooks(student_dir, student_dir.name)
        submissions += chosen
        if absent:
            missing[student_dir.name] = absent
    return submissions, missing


# --- grading --------------------------------------------------------------------------------------


def grader_fingerprint() -> str:
    """Changes whenever the checks, the reference or the engine change: then everything is regraded."""
    digest = hashlib.sha256()
    files = sorted((ROOT / "grader").rglob("*.py")) + sorted((ROOT / "mock_llm").rglob("*.py"))
    files += sorted(SOLUTIONS.glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb"))
    files += sorted((ROOT / "data").glob("*.jsonl"))
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(course: Path, submission: Submission) -> Path:
    return course / CACHE / submission.student / f"{LABS[submission.lab]}.json"


def _key(submission: Submission, fingerprint: str) -> str:
    try:
        content = hashlib.sha256(submission.notebook.read_bytes()).hexdigest()
    except OSError:
        content = "unreadable"
    return content + ":" + fingerprint


def _stored(result: LabResult, submission: Submission, key: str) -> dict[str, Any]:
    data = result.as_dict()
    data["notebook"] = submission.notebook.name
    data["student"] = submission.student
    data["submission_notes"] = submission.notes
    data["key"] = key
    data["output"] = result.output[-4000:]
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


def grade_course(
    course: Path = DEFAULT_COURSE,
    *,
    force: bool = False,
    limits: Limits | None = None,
    out: TextIO | None = None,
    gradebook: bool = True,
    students: Sequence[str] = (),
    labs: Sequence[str] = (),
) -> Path:
    """Grade every submission; write grades.csv and the gradebook; print a summary. The CSV's path.

    ``students`` and ``labs``, when given, choose which submissions are graded (after fixing one
    student's notebook, say); every other submission keeps its last result in grades.csv.
    """
    out = out or sys.stdout
    course = course.resolve()
    submissions, missing = find_submissions(course)
    known = {s.student for s in submissions} | set(missing)
    unknown = sorted(set(students) - known)
    if unknown:
        raise RuntimeError(
            f"no submissions from {', '.join(unknown)} in {course / 'submitted'}; "
            f"students there: {', '.join(sorted(known)) or 'none'}"
        )
    limits = limits or Limits()
    fingerprint = f"{grader_fingerprint()}:{limits.wall_seconds:g}:{limits.check_seconds:g}:{limits.memory_mb}"
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    todo: list[tuple[Submission, str]] = []
    left_out = 0
    retried = 0  # unchanged, but ungradable last time: tried again
    for submission in submissions:
        key = _key(submission, fingerprint)
        path = _cache_path(course, submission)
        if (students and submission.student not in students) or (labs and submission.lab not in labs):
            left_out += 1
            previous = _read_stored(path) or _not_graded(submission, "not graded yet: left out by --student/--lab")
            previous["submission_notes"] = submission.notes
            stored[(submission.student, submission.lab)] = previous
            continue
        if not force and path.exists():
            previous = _read_stored(path) or {}
            settled = not str(previous.get("status", "")).startswith(("ungradable", "grader error"))
            if previous.get("key") == key and settled:  # a crash or a timeout is always tried again
                previous["submission_notes"] = submission.notes
                stored[(submission.student, submission.lab)] = previous
                continue
            retried += previous.get("key") == key
        path.unlink(missing_ok=True)  # a failed regrade must never leave the old score standing
        page = course / "feedback" / submission.student / LABS[submission.lab] / f"{LABS[submission.lab]}.html"
        page.unlink(missing_ok=True)
        todo.append((submission, key))
    skipped = len(submissions) - len(todo) - left_out
    print(
        f"Grading {len(todo)} submission(s) of {len({s.student for s in submissions} | set(missing))} student(s)"
        + (f"; {skipped} unchanged since their last grading (FORCE=1 regrades them)" if skipped else "")
        + (f"; {retried} unchanged but ungradable last time, tried again" if retried else "")
        + (f"; {left_out} left out by --student/--lab, their last results kept" if left_out else ""),
        file=out,
    )
    try:
        if todo:
            with _Progress(len(todo), out) as progress:

                def finished(index: int, result: LabResult) -> None:
                    submission, key = todo[index]
                    data = _stored(result, submission, key)
                    _write_json(_cache_path(course, submission), data)
                    stored[(submission.student, submission.lab)] = data
                    progress.advance(f"{submission.student} lab {submission.lab}: {result.score}/{result.max_score}")

                grade(
                    [(s.lab, s.notebook) for s, _ in todo],
                    limits,
                    on_result=finished,
                    protect=[course],
                )
    finally:  # interrupted or not, grades.csv never shows a score that was not just confirmed
        for submission, _ in todo:
            stored.setdefault((submission.student, submission.lab), _not_graded(submission))
        rows = _rows(submissions, missing, stored)
        write_csv(course, rows)
        if gradebook:
            _gradebook(course, [row for row in rows if row.results])
    print_summary(rows, out)
    return course / "grades.csv"


def _read_stored(path: Path) -> dict[str, Any] | None:
    """A submission's stored result, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _not_graded(
    submission: Submission, reason: str = "not graded: the run stopped before it; run make grade again"
) -> dict[str, Any]:
    checks = checks_for(submission.lab)
    return {
        "lab": submission.lab,
        "name": LABS[submission.lab],
        "student": submission.student,
        "notebook": submission.notebook.name,
        "score": 0,
        "max_score": sum(c.points for c in checks),
        "core": 0,
        "stretch": 0,
        "status": f"ungradable: {reason}",
        "checks": [],
        "submission_notes": submission.notes,
    }


def _rows(
    submissions: list[Submission], missing: dict[str, list[str]], stored: dict[tuple[str, str], dict[str, Any]]
) -> list[Row]:
    students = sorted({s.student for s in submissions} | set(missing))
    return [
        Row(
            student,
            {lab: data for (who, lab), data in stored.items() if who == student},
            missing.get(student, []),
        )
        for student in students
    ]


class _Progress:
    """A rich progress bar on a terminal; a line per submission elsewhere (CI logs, pipes)."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.done = total, out, 0
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if self.out.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("grading"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=Console(file=self.out),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total)
        return self

    def advance(self, what: str) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=what)
        else:
            print(f"[{self.done}/{self.total}] {what}", file=self.out, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def write_csv(course: Path, rows: list[Row]) -> Path:
    path = course / "grades.csv"
    columns = ["student", *LABS.values(), "core", "stretch", "total", "max", "status", "notes"]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.cells())
    tmp.replace(path)
    return path


def print_summary(rows: list[Row], out: TextIO) -> None:
    totals = [int(r.cells()["total"]) for r in rows]
    maximum = max_total()
    print(f"\nWrote grades for {len(rows)} student(s).", file=out)
    if totals:
        print(
            f"Totals (of {maximum}): median {statistics.median(totals):g}, mean {statistics.mean(totals):.1f}, "
            f"min {min(totals)}, max {max(totals)}",
            file=out,
        )
        bins = Counter(min(4, (t * 5) // max(1, maximum)) for t in totals)
        for b in range(5):
            low, high = b * maximum // 5, (b + 1) * maximum // 5
            print(f"  {low:>3}-{high:<3} {'#' * bins.get(b, 0)} {bins.get(b, 0)}", file=out)
    failed = Counter(
        c["id"]
        for r in rows
        for data in r.results.values()
        if not data["status"].startswith(("ungradable", "grader error"))
        for c in data["checks"]
        if not c["passed"] and not c.get("not_run")
    )
    if failed:
        print("Checks most often failed:", file=out)
        for check_id, count in failed.most_common(5):
            print(f"  {check_id}: {count} submission(s)", file=out)
    attention = [r for r in rows if r.status() != "ok"]
    if attention:
        print("Need a human:", file=out)
        for row in attention:
            print(f"  {row.student}: {row.status()}", file=out)


def _gradebook(course: Path, rows: list[Row]) -> None:
    """Record every score in nbgrader's gradebook, as autograde would."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    from .release import generate

    labs = sorted({lab for row in rows for lab in row.results})
    for lab in labs:
        generate(lab, course)  # the assignment's source and its grade cells in the gradebook
    if not labs:
        return
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook, warnings.catch_warnings():
        # nbgrader builds a submission with its student before adding it to the session, which
        # SQLAlchemy 2 warns about ("... not in session, add operation along 'Student.submissions'
        # will not proceed"); nbgrader then adds it itself, and the scores are stored (tested).
        warnings.filterwarnings("ignore", r"Object of type <\w+> not in session", SAWarning)
        for row in rows:
            gradebook.update_or_create_student(row.student)
            for lab, data in row.results.items():
                stem = LABS[lab]
                gradebook.update_or_create_submission(stem, row.student)
                for check in data["checks"]:
                    try:
                        grade_row = gradebook.find_grade(check["id"], stem, stem, row.student)
                    except MissingEntry:
                        continue
                    grade_row.auto_score = float(check["points"])
                    grade_row.needs_manual_grade = False
        gradebook.db.commit()


# --- feedback ---------------------------------------------------------------------------------------


def stored_results(course: Path) -> list[dict[str, Any]]:
    folder = course / CACHE
    if not folder.is_dir():
        raise RuntimeError(f"nothing graded yet in {course}: run `make grade COURSE={course}` first")
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*/*.json"))]


def feedback(course: Path = DEFAULT_COURSE, out: TextIO | None = None) -> Path:
    """One HTML page per student and lab under ``COURSE/feedback/<student>/<lab>/<lab>.html``."""
    from .feedback import render_page

    out = out or sys.stdout
    course = course.resolve()
    written = 0
    for data in stored_results(course):
        stem = data["name"]
        path = course / "feedback" / data["student"] / stem / f"{stem}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_page(data, hide=[str(course), str(ROOT)]), encoding="utf-8")
        written += 1
    print(f"Wrote {written} feedback page(s).", file=out)
    return course / "feedback"
