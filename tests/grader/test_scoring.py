"""Do the reference solutions score full marks, the shipped labs zero, with honest output?"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from grader.registry import checks_for

from .helpers import LABS, ROOT, SOLUTIONS, STEMS, by_id, cli_check, notebook_with


def test_reference_solutions_score_full_marks() -> None:
    result = cli_check(*(SOLUTIONS / f"{stem}.ipynb" for stem in STEMS.values()))
    assert result["score"] == result["max_score"] == sum(c.points for lab in STEMS for c in checks_for(lab))
    for lab in result["labs"]:
        assert lab["error"] is None and lab["cell_errors"] == []
        assert lab["status"] == "ok" and lab["flags"] == [], lab["flags"]
        failed = [c for c in lab["checks"] if not c["passed"]]
        assert not failed, failed
        assert lab["core"] + lab["stretch"] == lab["score"]


def test_shipped_labs_score_zero_and_say_why() -> None:
    """`make check` on the untouched student notebooks: zero points, every failure explained."""
    result = cli_check()
    assert result["score"] == 0 and result["max_score"] > 0
    assert {Path(lab["notebook"]).name for lab in result["labs"]} == {f"{s}.ipynb" for s in STEMS.values()}
    for lab in result["labs"]:
        for check in lab["checks"]:
            assert not check["passed"]
            assert check["message"] and check["hint"], check


def test_json_shape_per_check() -> None:
    result = cli_check(SOLUTIONS / "02_semantic_cache.ipynb")
    (lab,) = result["labs"]
    assert set(result) == {"score", "max_score", "core", "core_max", "stretch", "stretch_max", "labs"}
    assert {
        "lab",
        "name",
        "notebook",
        "score",
        "max_score",
        "status",
        "flags",
        "error",
        "cell_errors",
        "checks",
    } <= set(lab)
    for check in lab["checks"]:
        assert {"id", "description", "points", "max_points", "passed", "message", "hint", "visibility", "part"} <= set(
            check
        )
    assert {c["part"] for c in lab["checks"]} == {"core", "stretch"}
    assert lab["core_max"] == sum(c.points for c in checks_for("02") if c.part == "core")
    assert [c["id"] for c in lab["checks"]] == [c.id for c in checks_for("02")]


def test_plain_scorecard_when_not_a_terminal() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", "--lab", "02"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0
    assert "Lab 02" in done.stdout and "FAIL 02-cosine-fixed" in done.stdout and "Total: 0/" in done.stdout
    assert "\x1b[" not in done.stdout, "no terminal colour codes in a pipe"


def test_failure_shows_input_expected_actual_and_hint(tmp_path: Path) -> None:
    """A wrong cosine (no norm of b) is caught with the smallest counterexample."""
    broken = notebook_with(
        "02",
        tmp_path,
        replace={
            "return float(np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0))": "return float(a @ b / (norm_a * norm_a))"
        },
    )
    checks = by_id(cli_check(broken)["labs"][0])
    assert not checks["02-cosine-fixed"]["passed"]
    message = checks["02-cosine-properties"]["message"]
    assert "input:" in message and "expected:" in message and "got:" in message
    assert checks["02-cosine-properties"]["hint"]
    assert checks["02-handout"]["passed"], "other checks still get their credit"


def test_only_named_checks_are_graded(tmp_path: Path) -> None:
    """NOTEBOOK::CHECK grades those checks of that notebook; --only applies to each lab that has the check."""
    broken = notebook_with(
        "02", tmp_path, replace={"if scores[best] < self.similarity_threshold:": "if scores[best] <= 1.0:"}
    )
    one = cli_check(Path(f"{broken}::02-threshold,02-cosine-fixed"), SOLUTIONS / "01_production_api.ipynb")
    picked, whole = one["labs"]
    assert [c["id"] for c in picked["checks"]] == ["02-cosine-fixed", "02-threshold"], "the registry's order"
    assert not by_id(picked)["02-threshold"]["passed"] and by_id(picked)["02-cosine-fixed"]["passed"]
    assert picked["max_score"] == sum(c.points for c in checks_for("02") if c.id in {"02-threshold", "02-cosine-fixed"})
    assert any("only 2 of the lab's" in note for note in picked["notes"])
    assert len(whole["checks"]) == len(checks_for("01")), "a notebook named without :: gets every check"

    everywhere = cli_check(broken, SOLUTIONS / "01_production_api.ipynb", extra=("--only", "02-threshold"))
    (only,) = everywhere["labs"]  # lab 01 has no such check: it is left out, not graded in full
    assert [c["id"] for c in only["checks"]] == ["02-threshold"]

    for argv, says in (
        (["--only", "02-treshold", "--lab", "02"], "did you mean 02-threshold?"),
        (["--notebook", f"{broken}::01-classify"], "which has no check '01-classify'"),
        (["--notebook", f"{broken}::"], "name at least one check"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "grader", "check", *argv], capture_output=True, text=True, cwd=ROOT, timeout=300
        )
        assert done.returncode == 2 and says in done.stderr, (argv, done.stderr)
        assert "Traceback" not in done.stderr


def test_partial_credit_is_per_check(tmp_path: Path) -> None:
    """`>` instead of `>=` costs the threshold check (and the differential one), nothing else."""
    broken = notebook_with(
        "02",
        tmp_path,
        replace={"if scores[best] < self.similarity_threshold:": "if scores[best] <= self.similarity_threshold:"},
    )
    lab = cli_check(broken)["labs"][0]
    failed = {c["id"] for c in lab["checks"] if not c["passed"]}
    assert "02-threshold" in failed
    assert failed <= {"02-threshold", "02-generated"}
    assert lab["score"] == lab["max_score"] - sum(c.points for c in checks_for("02") if c.id in failed)


def test_labs_json_is_valid_and_clean() -> None:
    """Committed notebooks carry no outputs or execution counts."""
    for folder in (LABS, SOLUTIONS):
        for path in folder.glob("*.ipynb"):
            nb = json.loads(path.read_text())
            for cell in nb["cells"]:
                if cell["cell_type"] == "code":
                    assert cell["outputs"] == [] and cell["execution_count"] is None, path


def test_gradescope_results_json(tmp_path: Path) -> None:
    """--gradescope writes Gradescope's results.json: one test per check, hidden ones after publishing."""
    out = tmp_path / "results.json"
    cli_check(SOLUTIONS / "02_semantic_cache.ipynb", extra=("--gradescope", str(out)))
    results = json.loads(out.read_text())
    assert results["score"] == sum(c.points for c in checks_for("02"))
    assert len(results["tests"]) == len(checks_for("02"))
    by_name = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert by_name["02-generated"]["visibility"] == "after_published"
    assert by_name["02-lru"]["visibility"] == "visible" and by_name["02-lru"]["score"] == 2
    assert all(set(t) == {"name", "score", "max_score", "output", "tags", "visibility"} for t in results["tests"])


def test_gradescope_hides_hidden_checks_details(tmp_path: Path) -> None:
    """A failed hidden check says "failed" and nothing more; a failed public one says why, with a hint."""
    broken = notebook_with("02", tmp_path, replace={"best = int(np.argmax(scores))": "best = 0"})
    out = tmp_path / "results.json"
    cli_check(broken, extra=("--gradescope", str(out)))
    by_name = {t["name"].split(":")[0]: t for t in json.loads(out.read_text())["tests"]}
    assert by_name["02-generated"]["score"] == 0 and by_name["02-generated"]["output"] == "failed"
    assert "hint:" in by_name["02-best_match"]["output"] and "expected:" in by_name["02-best_match"]["output"]


def test_pytest_front_end_one_item_per_check(tmp_path: Path) -> None:
    """`python -m pytest --notebook X --junitxml`: one test case per check, its points as properties."""
    import xml.etree.ElementTree as ET

    report = tmp_path / "report.xml"
    broken = notebook_with("02", tmp_path, replace={"self._recency.move_to_end(self._keys[best])": "pass"})
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--notebook", str(broken), f"--junitxml={report}", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {c.id for c in checks_for("02")}
    lru = cases["02-lru"]
    assert lru.find("failure") is not None and "hint:" in lru.find("failure").get("message", "") + (
        lru.find("failure").text or ""
    )
    props = {p.get("name"): p.get("value") for p in cases["02-cosine-fixed"].iter("property")}
    assert props == {"points": "1", "max_points": "1", "part": "core"}
    assert "Traceback" not in done.stdout
