"""Does the student kit self-check offline, without the answers, and agree with the instructor's grader?"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import ROOT
from grader.loader import cell_source
from grader.registry import LABS as LAB_STEMS
from grader.registry import checks_for
from grader.release import release_all

from .helpers import SOLUTIONS, STEMS, cli_check, notebook_with

pytestmark = pytest.mark.slow

BROKEN = {  # plausible mistakes, to grade both ways
    "02": [
        {"if scores[best] < self.similarity_threshold:": "if scores[best] <= self.similarity_threshold:"},
        {"return float(np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0))": "return float(a @ b / (norm_a * norm_a))"},
        {"self._recency.move_to_end(self._keys[best])": "pass"},
    ],
    "01": [
        {'return f"{model}:{hashlib.sha256(normalised.encode()).hexdigest()}"': "return normalised"},
        {"value = value.strip()": "value = value"},
    ],
}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    release_all(list(LAB_STEMS), out=out / "labs", kit=out / "student")
    return out / "student"


def test_committed_labs_are_what_release_generates(kit: Path) -> None:
    """labs/ is never edited by hand: regenerating from solutions/ gives the committed bytes.

    It compares with what git holds, not with the working copy, which is the attendee's
    to edit (JupyterLab rewrites metadata on every save). A lab whose solution has
    uncommitted changes is compared with its working copy instead: an instructor mid-edit
    has just regenerated it and not committed yet.
    """
    root = ROOT

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60)

    if shutil.which("git") is None or git("rev-parse", "--verify", "HEAD").returncode != 0:
        pytest.skip("not a git checkout (or git is missing): nothing committed to compare labs/ with")
    written = sorted((kit.parent / "labs").glob("*.ipynb"))  # the kit fixture's release
    assert len(written) == len(LAB_STEMS)
    for path in written:
        lab, solution = f"labs/{path.name}", f"solutions/{path.name}"
        committed = git("show", f"HEAD:{lab}")
        solution_edited = git("diff", "--quiet", "HEAD", "--", solution).returncode != 0
        if solution_edited or committed.returncode != 0:
            expected, where = (ROOT / "labs" / path.name).read_bytes(), f"the working copy of {lab}"
        else:
            expected, where = committed.stdout, f"{lab} as committed"
        assert path.read_bytes() == expected, (
            f"{where} is not what {solution} generates. This test changed nothing, and uncommitted "
            f"work in labs/ is never compared; if you committed your own answers there, this difference "
            f"is expected. To see what generation gives without touching labs/: python -m grader release "
            f"--out /tmp/labs-generated, then compare it with git show HEAD:{lab}. Whoever changed "
            f"{solution} regenerates {lab} from it and commits both."
        )


def kit_check(kit: Path, *notebooks: Path) -> dict:
    """`python -m grader check --json` run inside the kit, with the kit's own grader package."""
    args = [sys.executable, "-m", "grader", "check", "--json"]
    for path in notebooks:
        args += ["--notebook", str(path)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=kit, timeout=600, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_kit_holds_what_an_attendee_needs_and_no_answers(kit: Path) -> None:
    for needed in ("Makefile", "README.md", "pyproject.toml", "labs", "mock_llm", "data", "grader/checks", "scripts"):
        assert (kit / needed).exists(), needed
    assert not (kit / "solutions").exists() and not (kit / "grader" / "hidden").exists()
    assert not (kit / "tests").exists() and not (kit / ".git").exists()
    assert (kit.parent / "student.zip").exists()
    with zipfile.ZipFile(kit.parent / "student.zip") as archive:
        assert not any("solutions/" in n or "/hidden/" in n for n in archive.namelist())
    # no line of any solution region, and no line of any hidden check, anywhere in the kit
    secret: set[str] = set()
    for stem in STEMS.values():
        for cell in json.loads((SOLUTIONS / f"{stem}.ipynb").read_text())["cells"]:
            for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell_source(cell), re.S):
                secret |= {line.strip() for line in region.splitlines() if len(line.strip()) > 25}
    for path in (ROOT / "grader" / "hidden").glob("*.py"):
        # code, not the id and one-line description the kit shows for a hidden check
        code = [line.strip() for line in path.read_text().splitlines() if not line.strip().startswith(('"', "'"))]
        secret |= {line for line in code if len(line) > 40}
    hidden_hints = [c.hint for lab in STEMS for c in checks_for(lab) if c.visibility == "hidden"]
    public_files = [*(ROOT / "labs").glob("*.ipynb"), *(ROOT / "mock_llm").rglob("*.py")]
    public_files += [p for p in (ROOT / "grader").rglob("*.py") if "hidden" not in p.parts]
    public = "\n".join(p.read_text() for p in public_files)
    secret = {line for line in secret if line not in public}  # what only the answers contain
    assert len(secret) > 50
    for path in kit.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".ipynb", ".json", ".md", ".txt", ".toml"}:
            text = path.read_text(errors="replace")
            leaked = [line for line in secret if line in text]
            assert not leaked, (path, leaked[:3])
            assert not [hint for hint in hidden_hints if hint in text], path


def test_the_untouched_kit_scores_zero_and_says_what_is_hidden(kit: Path) -> None:
    result = kit_check(kit)
    assert result["score"] == 0
    for lab in result["labs"]:
        assert Path(lab["notebook"]).is_relative_to(kit)
        assert lab["status"] == "ok", lab["status"]
        hidden = [c for c in lab["checks"] if c["visibility"] == "hidden"]
        assert hidden and all(c.get("not_run") for c in hidden)
        assert all(c["message"] for c in lab["checks"] if c["visibility"] == "public")


def test_the_reference_pasted_into_the_kit_gets_full_public_marks(kit: Path, tmp_path: Path) -> None:
    copies = []
    for stem in STEMS.values():
        copy = kit / "labs" / f"{stem}.ipynb"
        shutil.copy(SOLUTIONS / f"{stem}.ipynb", copy)
        copies.append(copy)
    result = kit_check(kit, *copies)
    for lab in result["labs"]:
        public = [c for c in lab["checks"] if c["visibility"] == "public"]
        assert all(c["passed"] for c in public), [c for c in public if not c["passed"]]
        assert lab["score"] == sum(c.points for c in checks_for(lab["lab"]) if c.visibility == "public")


def test_public_verdicts_agree_with_the_instructors(kit: Path, tmp_path: Path) -> None:
    """Right and wrong submissions graded by the kit (recorded expectations) and the instructor (live reference)."""
    submissions = []
    for lab, variants in BROKEN.items():
        for replace in variants:
            path = notebook_with(lab, tmp_path, replace=replace)
            submissions.append(path)
    ours = {(r["lab"], r["notebook"]): r for r in cli_check(*submissions)["labs"]}
    theirs = {(r["lab"], r["notebook"]): r for r in kit_check(kit, *submissions)["labs"]}
    assert ours.keys() == theirs.keys()
    for key, instructor in ours.items():
        public = {c["id"]: c["passed"] for c in instructor["checks"] if c["visibility"] == "public"}
        kit_view = {c["id"]: c["passed"] for c in theirs[key]["checks"] if c["visibility"] == "public"}
        assert kit_view == public, key
        assert not all(public.values()), f"{key}: the mistake must be caught"


def test_the_self_check_cells_work_in_the_kit(kit: Path) -> None:
    """grader.nb in the kit: the recorded reference, a pass and a failure, offline."""
    code = (
        "import numpy as np\nfrom grader import nb\n"
        "def cosine_similarity(a, b):\n"
        "    a, b = np.asarray(a, float), np.asarray(b, float)\n"
        "    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))\n"
        "nb.check('02-cosine-fixed')\nnb.check('02-cosine-zero')\nnb.summary('02')\n"
        "import grader; print('GRADER', grader.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=kit, timeout=300, env={"PATH": "/usr/bin"}
    )
    assert done.returncode == 0, done.stderr
    assert f"GRADER {kit}" in done.stdout
    assert "\u2713 02-cosine-fixed" in done.stdout and "\u2717 02-cosine-zero" in done.stdout
    assert "graded by the instructor" in done.stdout


def test_the_kits_classroom_config_runs_one_check_per_test(kit: Path) -> None:
    """GitHub Classroom runs each command of autograding.json in the student's repository: try two."""
    config = json.loads((kit / ".github" / "classroom" / "autograding.json").read_text())
    public = {c.id: c.points for lab in STEMS for c in checks_for(lab) if c.visibility == "public"}
    assert {t["name"].split(" ", 1)[0]: t["points"] for t in config["tests"]} == public
    command = next(t["run"] for t in config["tests"] if t["name"].startswith("02-cosine-zero"))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    shutil.copy(kit.parent / "labs" / f"{STEMS['02']}.ipynb", kit / "labs" / f"{STEMS['02']}.ipynb")
    untouched = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=kit, timeout=300, env=env)
    assert untouched.returncode == 1 and "Not implemented yet" in untouched.stdout
    shutil.copy(SOLUTIONS / f"{STEMS['02']}.ipynb", kit / "labs" / f"{STEMS['02']}.ipynb")
    done = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=kit, timeout=300, env=env)
    assert done.returncode == 0, done.stdout
