"""``make release``: the student notebooks in ``labs/``, and the student kit in ``release/student``.

Notebooks: the real ``nbgrader generate_assignment`` runs in a scratch course directory
(solutions replaced by ``raise NotImplementedError()``, hidden tests removed, cells
locked), then the result is normalised so regenerating gives the same bytes: outputs and
execution counts cleared, stable metadata. A notebook in ``labs/`` that an attendee has
edited is never overwritten without a copy kept in ``backups/``.

The student kit: what an attendee needs to ``make lab`` and ``make check`` (labs, mock,
data, the public checks, scripts, an attendee Makefile and README), and no reference
code, solutions or hidden checks. Its public checks compare with expectations recorded
from the reference now (``grader.oracle``), which this module verifies before writing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import LABS_DIR, ROOT, SOLUTIONS
from .loader import REFERENCE_LABEL, load
from .oracle import Reference
from .pytest_plugin import classroom_config
from .registry import LABS, Namespace, checks_for, explain

KEEP_METADATA = {"kernelspec", "language_info"}
KIT = ROOT / "release" / "student"
BACKUPS = ROOT / "backups"
# What the student kit holds, relative to the root; everything else stays with the instructor.
KIT_FILES = ["mock_llm", "grader", "data", "scripts", "docs/mock_llm.md", "pyproject.toml", "environment.yml"]
KIT_EXCLUDE = {"hidden", "__pycache__", "expectations"}


def normalise(notebook: dict[str, Any]) -> dict[str, Any]:
    notebook["metadata"] = {k: v for k, v in notebook.get("metadata", {}).items() if k in KEEP_METADATA}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        keep = {"nbgrader", "tags", "jupyter", "editable", "deletable"}  # nbgrader locks test cells with the last two
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in keep}
    return notebook


def dumps(notebook: dict[str, Any]) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def venv_env() -> dict[str, str]:
    """This interpreter's scripts first on PATH: nbgrader runs `alembic` by name."""
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}


def generate(lab: str, course: Path) -> Path:
    """Run nbgrader generate_assignment for one lab inside ``course``; return the released notebook."""
    stem = LABS[lab]
    source = course / "source" / stem
    source.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOLUTIONS / f"{stem}.ipynb", source / f"{stem}.ipynb")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "generate_assignment",
            stem,
            "--force",
            "--create",
            f"--CourseDirectory.root={course}",
            "--log-level=WARN",
        ],
        capture_output=True,
        text=True,
        cwd=course,
        env=venv_env(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment {stem} failed:\n{done.stdout}\n{done.stderr}")
    return course / "release" / stem / f"{stem}.ipynb"


def committed(path: Path) -> bytes | None:
    """The committed bytes of ``path`` (None outside a git checkout or for a new file)."""
    try:
        done = subprocess.run(
            ["git", "show", f"HEAD:{path.relative_to(ROOT).as_posix()}"],
            capture_output=True,
            cwd=ROOT,
            timeout=30,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _safe_write(path: Path, text: str) -> str | None:
    """Write ``text`` to ``path``; keep a copy first if the file holds someone's edits. The copy's path."""
    data = text.encode("utf-8")
    if path.exists():
        current = path.read_bytes()
        if current != data and current != committed(path):
            BACKUPS.mkdir(exist_ok=True)
            backup = BACKUPS / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
            shutil.copy2(path, backup)
            path.write_bytes(data)
            return str(backup)
    path.write_bytes(data)
    return None


def release_all(
    labs: list[str], out: Path | None = None, course: Path | None = None, kit: Path | bool | None = None
) -> list[Path]:
    """Generate the student notebooks (into ``out`` or labs/), then the student kit unless ``kit`` is falsy."""
    target = out or LABS_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="course-") as scratch:
        root = course or Path(scratch)
        for lab in labs:
            released = json.loads(generate(lab, root).read_text(encoding="utf-8"))
            path = target / f"{LABS[lab]}.ipynb"
            backup = _safe_write(path, dumps(normalise(released)))
            if backup:
                print(f"{path.name} had edits that are not committed: kept them in {backup}")
            written.append(path)
    if kit:
        kit_dir = KIT if kit is True else Path(kit)
        written += build_kit(kit_dir, labs_from=target)
    return written


# --- the student kit -------------------------------------------------------------------------------


def record(lab: str) -> dict[str, Any]:
    """Run the lab's public checks on the reference itself, recording what they ask of it."""
    loaded = load(SOLUTIONS / f"{LABS[lab]}.ipynb", f"__reference_{lab}__", REFERENCE_LABEL)
    if loaded.errors:
        raise RuntimeError(f"the reference of lab {lab} fails to load: {loaded.errors[0].error}")
    namespace = Namespace(loaded.namespace, "reference solution")
    recorder = Reference(lab, namespace, record=True)
    checks = checks_for(lab)
    for check in checks:
        if check.visibility != "public":
            continue
        assert check.fn is not None
        try:
            check.fn(namespace, recorder)
        except Exception as exc:
            raise RuntimeError(f"the reference fails its own check {check.id}: {explain(exc)}") from exc
    assert recorder.recording is not None
    data: dict[str, Any] = {
        "lab": lab,
        "hidden": [{**c.meta(), "hint": ""} for c in checks if c.visibility == "hidden"],  # name and points only
        **recorder.recording,
    }
    replay = Reference(lab, recorded=data)
    for check in checks:
        if check.visibility == "public" and check.fn is not None:
            try:
                check.fn(namespace, replay)
            except Exception as exc:
                raise RuntimeError(f"check {check.id} does not pass on its own recording: {explain(exc)}") from exc
    return data


def _copy_tree(source: Path, target: Path) -> None:
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return
    shutil.copytree(source, target, ignore=lambda folder, names: [n for n in names if n in KIT_EXCLUDE])


def build_kit(kit: Path, labs_from: Path = LABS_DIR) -> list[Path]:
    """Write the student kit to ``kit`` (replacing it) and ``kit``.zip; their paths."""
    if kit.exists():
        shutil.rmtree(kit)
    kit.mkdir(parents=True)
    for name in KIT_FILES:
        _copy_tree(ROOT / name, kit / name)
    (kit / "labs").mkdir()
    for stem in LABS.values():
        shutil.copy2(labs_from / f"{stem}.ipynb", kit / "labs" / f"{stem}.ipynb")
    shutil.copy2(LABS_DIR / "README.md", kit / "labs" / "README.md")
    shutil.copy2(ROOT / "kit" / "Makefile", kit / "Makefile")
    shutil.copy2(ROOT / "kit" / "README.md", kit / "README.md")
    shutil.copy2(ROOT / ".gitignore", kit / ".gitignore")
    classroom = kit / ".github" / "classroom" / "autograding.json"
    classroom.parent.mkdir(parents=True)
    classroom.write_text(json.dumps(classroom_config(), indent=2) + "\n", encoding="utf-8")
    expectations = kit / "grader" / "expectations"
    expectations.mkdir()
    for lab in LABS:
        (expectations / f"lab{lab}.json").write_text(json.dumps(record(lab), indent=1) + "\n", encoding="utf-8")
    archive = shutil.make_archive(str(kit.parent / kit.name), "zip", root_dir=kit.parent, base_dir=kit.name)
    return [kit, Path(archive)]


def build_gradescope(target: Path) -> Path:
    """Gradescope's autograder zip: setup.sh and run_autograder at its root, the instructor's kit beside them.

    It holds the reference and the hidden checks, so it goes to Gradescope, never to students.
    """
    with tempfile.TemporaryDirectory(prefix="gradescope-") as scratch:
        staging = Path(scratch)
        source = staging / "source"
        for name in [*KIT_FILES, "solutions", "labs", "kit"]:
            source_path = ROOT / name
            if source_path.is_file():
                _copy_tree(source_path, source / name)
            else:
                shutil.copytree(source_path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("setup.sh", "run_autograder"):
            shutil.copy2(ROOT / "gradescope" / name, staging / name)
        archive = shutil.make_archive(str(target.with_suffix("")), "zip", root_dir=staging)
    return Path(archive)
