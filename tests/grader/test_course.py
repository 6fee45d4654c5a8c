"""Does `make grade` treat a real class fairly: every submission graded, none stopping the others, no stale score?"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import ROOT
from grader.course import CACHE
from grader.registry import LABS as LAB_STEMS
from grader.registry import checks_for

from .helpers import LABS, SOLUTIONS, STEMS, notebook_with

pytestmark = pytest.mark.slow

MAX = {lab: sum(c.points for c in checks_for(lab)) for lab in STEMS}
# alice and bob hand in every lab, so a class is graded on each; the students who test one way a
# submission goes wrong hand in the one lab their case needs (a hang, a crash or a renamed file is
# the same on every lab, and each lab costs seconds of grading), carol two
EVERY = tuple(STEMS)
HANDED_IN = {
    **dict.fromkeys(("alice", "bob"), EVERY),
    "carol": ("01", "02"),
    **dict.fromkeys(("dave", "erin", "frank", "hank"), ("02",)),
    **dict.fromkeys(("gina", "ivan", "judy", "ken", "leo"), ("01",)),
}


def full(student: str) -> str:
    return str(sum(MAX[lab] for lab in HANDED_IN[student]))


def submit(course: Path, student: str, lab: str, source: Path | str, name: str | None = None) -> Path:
    target = course / "submitted" / student / STEMS[lab] / (name or f"{STEMS[lab]}.ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        shutil.copy(source, target)
    else:
        target.write_text(source)
    return target


def run(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def read_csv(course: Path) -> dict[str, dict[str, str]]:
    with open(course / "grades.csv", newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]], str]:
    """A class like a real one: complete, partial, untouched, hostile, broken, renamed, missing, cheating."""
    course = tmp_path_factory.mktemp("course")
    scratch = tmp_path_factory.mktemp("sources")
    for lab, stem in STEMS.items():
        reference, released = SOLUTIONS / f"{stem}.ipynb", LABS / f"{stem}.ipynb"
        sources: dict[str, list[tuple[Path | str, str | None]]] = {
            "alice": [(reference, None)],  # complete
            "bob": [(released, None)],  # untouched
            "frank": [(reference, None)],
            "hank": [(reference, None)],
            "ken": [(reference, None), (released, f"{stem}-Copy1.ipynb")],  # an executed copy beside it
            "leo": [(notebook_with(lab, scratch, append=["import grader.nb\ngrader.nb.check = print"]), None)],
            "dave": [(notebook_with(lab, scratch, append=["while True:\n    pass"]), None)],
            "erin": [(notebook_with(lab, scratch, append=["import os\nos._exit(1)"]), None)],
            "gina": [('{"cells": [ not json', None)],
            "judy": [(reference, "my work (final).ipynb")],  # renamed
        }
        for student, handed in sources.items():
            if lab in HANDED_IN[student]:
                for source, name in handed:
                    submit(course, student, lab, source, name)
    submit(course, "ivan", "01", SOLUTIONS / f"{STEMS['01']}.ipynb")  # lab 02 missing
    # partial: carol's lab 02 keys its threshold with > instead of >=
    broken = {"if scores[best] < self.similarity_threshold:": "if scores[best] <= self.similarity_threshold:"}
    submit(course, "carol", "02", notebook_with("02", scratch, replace=broken))
    submit(course, "carol", "01", LABS / f"{STEMS['01']}.ipynb")
    # frank edits one locked test cell and deletes another
    path = course / "submitted" / "frank" / STEMS["02"] / f"{STEMS['02']}.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "02-lru"]
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "02-ttl":
            cell["source"] = "print('trust me')"
    path.write_text(json.dumps(nb))
    # hank prints 10 MB
    flood = notebook_with("02", scratch, append=["print('x' * 10_000_000)"])
    submit(course, "hank", "02", flood)
    done = run("grade", "--course", str(course), "--timeout", "30")
    run("feedback", "--course", str(course))
    return course, read_csv(course), done.stdout + done.stderr


def test_every_student_has_one_row_with_the_right_status(graded) -> None:
    _, rows, _ = graded
    stems = list(LAB_STEMS.values())
    assert list(next(iter(rows.values()))) == ["student", *stems, "core", "stretch", "total", "max", "status", "notes"]
    assert rows["alice"]["total"] == full("alice") and rows["alice"]["status"] == "ok"
    assert rows["bob"]["total"] == "0" and rows["bob"]["status"] == "ok", "an honest zero is a zero, not a problem"
    others = [lab for lab in STEMS if lab != "01"]
    assert all(rows["ivan"][STEMS[lab]] == "missing" for lab in others)
    assert rows["ivan"]["status"] == " | ".join(f"missing: lab {lab}" for lab in others)
    assert rows["ivan"][STEMS["01"]] == str(MAX["01"])
    unhanded = [(student, STEMS[lab]) for student, labs in HANDED_IN.items() for lab in STEMS if lab not in labs]
    assert all(rows[student][stem] == "missing" for student, stem in unhanded)
    assert rows["gina"][STEMS["01"]] == "ungradable" and "not valid notebook JSON" in rows["gina"]["status"]
    assert rows["dave"][STEMS["02"]] == "ungradable" and "longer than" in rows["dave"]["status"]
    assert "exited with code 1" in rows["erin"]["status"]
    assert 0 < int(rows["carol"][STEMS["02"]]) < MAX["02"]
    assert rows["judy"]["total"] == full("judy") and "my work (final).ipynb" in rows["judy"]["notes"]
    assert rows["ken"]["total"] == full("ken") and "-Copy1.ipynb" in rows["ken"]["notes"]
    assert rows["hank"]["total"] == full("hank"), "a 10 MB print costs nothing"
    assert rows["frank"]["total"] == full("frank"), "graded with the original checks"
    assert "02-lru was deleted" in rows["frank"]["status"] and "02-ttl was edited" in rows["frank"]["status"]
    assert rows["leo"]["total"] == full("leo") and rows["leo"]["status"].startswith("flagged")
    assert "imports the grader" in rows["leo"]["status"]
    assert all(int(r["core"]) + int(r["stretch"]) == int(r["total"]) for r in rows.values())


def test_the_summary_says_who_needs_a_human(graded) -> None:
    _, _, out = graded
    assert "Checks most often failed:" in out and "Need a human:" in out
    for student in ("dave", "erin", "gina", "frank", "leo", "ivan"):
        assert re.search(rf"^  {student}: ", out, re.M), student
    assert not re.search(r"^  alice: ", out, re.M)


def test_grading_a_class_prints_no_warning_or_traceback(graded) -> None:
    """A warning from a library (nbgrader's SQLAlchemy use) reads like a failure to an instructor."""
    _, _, out = graded
    assert not re.search(r"Warning|Traceback", out), out[-3000:]


def test_the_gradebook_holds_the_same_scores(graded) -> None:
    """nbgrader export and formgrader read the gradebook: it must agree with grades.csv."""
    from nbgrader.api import Gradebook

    course, rows, _ = graded
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("alice", "bob", "carol", "frank"):
            for lab, stem in STEMS.items():
                if lab not in HANDED_IN[student]:
                    continue
                score = gradebook.find_submission(stem, student).score
                assert score == float(rows[student][stem]), (student, lab)


def test_feedback_shows_hidden_checks_by_name_only(graded) -> None:
    course, _, _ = graded
    pages = list((course / "feedback").rglob("*.html"))
    assert len(pages) == sum(len(labs) for labs in HANDED_IN.values())
    hidden_sources = [
        (ROOT / "grader" / "hidden" / f"lab{lab}.py").read_text() for lab in STEMS
    ]  # fragments of hidden code must appear nowhere
    fragments = [line.strip() for text in hidden_sources for line in text.splitlines() if len(line.strip()) > 30]
    for page in pages:
        text = page.read_text()
        assert "Traceback" not in text and str(ROOT) not in text and str(course) not in text, page
        assert not any(fragment in text for fragment in fragments), page
        assert len(text) < 100_000, page
    carol = (course / "feedback" / "carol" / STEMS["02"] / f"{STEMS['02']}.html").read_text()
    assert "02-generated" in carol and "hidden check" in carol
    generated_row = carol.split("02-generated", 1)[1].split("</tr>", 1)[0]
    assert "input:" not in generated_row and "expected:" not in generated_row and "Hint" not in generated_row
    assert "expected:" in carol.split("02-threshold", 1)[1].split("</tr>", 1)[0], "public failures explain"
    dave = (course / "feedback" / "dave" / STEMS["02"] / f"{STEMS['02']}.html").read_text()
    assert "could not be graded" in dave and "longer than" in dave


def test_rerun_skips_unchanged_and_a_failed_regrade_leaves_no_old_score(graded) -> None:
    course, _, _ = graded
    stored = [json.loads(p.read_text()) for p in (course / CACHE).glob("*/*.json")]
    retried = sum(s["status"].startswith(("ungradable", "grader error")) for s in stored)
    assert retried == len(HANDED_IN["dave"] + HANDED_IN["erin"] + HANDED_IN["gina"]), "dave, erin and gina"
    again = run("grade", "--course", str(course), "--no-gradebook", "--timeout", "30").stdout
    assert f"Grading {retried} submission(s)" in again, "a crash or timeout is tried again, nothing else"
    assert f"{len(stored) - retried} unchanged since their last grading" in again
    assert f"; {retried} unchanged but ungradable last time, tried again" in again, "the retries are said"
    alice = course / "submitted" / "alice" / STEMS["02"] / f"{STEMS['02']}.ipynb"
    alice.write_text("{ broken on purpose")
    run("grade", "--course", str(course), "--no-gradebook", "--timeout", "30")
    rows = read_csv(course)
    assert rows["alice"][STEMS["02"]] == "ungradable", "the old full score must not stand"
    stored = json.loads((course / CACHE / "alice" / f"{STEMS['02']}.json").read_text())
    assert stored["score"] == 0
    # FORCE=1 regrades what is unchanged; STUDENT/LAB choose what is graded and keep every other result
    # (the whole class forced again would only repeat the first grading's minutes).
    before = read_csv(course)
    forced = run(
        "grade",
        "--course",
        str(course),
        "--force",
        "--no-gradebook",
        "--timeout",
        "30",
        "--student",
        "judy",
        "--student",
        "ken",
        "--lab",
        "01",
    ).stdout
    left_out = len(list((course / CACHE).glob("*/*.json"))) - 2  # one stored result per submission
    assert "Grading 2 submission(s)" in forced and "unchanged" not in forced, forced
    assert f"{left_out} left out by --student/--lab" in forced, forced
    after = read_csv(course)
    assert after == before, "regrading judy's and ken's lab 01 changed no score, and kept everyone else's"
    judy = json.loads((course / CACHE / "judy" / f"{STEMS['01']}.json").read_text())
    assert judy["score"] == MAX["01"]
    nobody = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--course", str(course), "--student", "zed"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert nobody.returncode == 1 and "no submissions from zed" in nobody.stderr and "judy" in nobody.stderr
