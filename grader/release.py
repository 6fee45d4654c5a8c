"""``make release``: generate the student notebooks in ``labs/`` from ``solutions/`` with nbgrader.

Runs the real ``nbgrader generate_assignment`` in a scratch course directory (solutions
replaced by ``raise NotImplementedError()``, hidden tests removed, cells locked and
checksummed), then normalises the result so regenerating gives the same bytes: outputs
and execution counts cleared, stable metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import LABS_DIR, SOLUTIONS
from .registry import LABS

KEEP_METADATA = {"kernelspec", "language_info"}


def normalise(notebook: dict[str, Any]) -> dict[str, Any]:
    notebook["metadata"] = {k: v for k, v in notebook.get("metadata", {}).items() if k in KEEP_METADATA}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in {"nbgrader", "tags"}}
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


def release_all(labs: list[str], out: Path | None = None, course: Path | None = None) -> list[Path]:
    target = out or LABS_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="course-") as scratch:
        root = course or Path(scratch)
        for lab in labs:
            released = json.loads(generate(lab, root).read_text(encoding="utf-8"))
            path = target / f"{LABS[lab]}.ipynb"
            path.write_text(dumps(normalise(released)), encoding="utf-8")
            written.append(path)
    return written
