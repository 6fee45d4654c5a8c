"""Does the Gradescope autograder zip grade a submission the way Gradescope runs it?"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from grader.registry import checks_for
from grader.release import build_gradescope

from .helpers import notebook_with


def test_run_autograder_writes_results_json(tmp_path: Path) -> None:
    archive = build_gradescope(tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert "setup.sh" in names and "run_autograder" in names, "Gradescope wants both at the zip's root"
        zf.extractall(root)
    (root / "run_autograder").chmod(0o755)
    submission = root / "submission"
    submission.mkdir()
    broken = notebook_with("02", tmp_path, replace={"best = int(np.argmax(scores))": "best = 0"})
    (submission / "my_notebook.ipynb").write_bytes(broken.read_bytes())  # renamed: the lab is read from its cells
    done = subprocess.run(
        ["bash", str(root / "run_autograder")],
        env={"AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert len(results["tests"]) == len(checks_for("02"))
    by_id = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert by_id["02-best_match"]["score"] == 0 and "hint:" in by_id["02-best_match"]["output"]
    assert by_id["02-generated"]["visibility"] == "after_published" and by_id["02-generated"]["output"] == "failed"
    assert results["score"] == sum(t["score"] for t in results["tests"]) > 0


def test_run_autograder_without_a_notebook_says_so(tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    source = Path(__file__).resolve().parents[2] / "gradescope" / "run_autograder"
    done = subprocess.run(
        ["bash", str(source)],
        env={"AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "No notebook" in results["output"]
