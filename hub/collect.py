"""The instructor's collect step: each attendee's lab notebooks into ``COURSE/submitted/`` for ``make grade``.

Copies, never moves: the attendee's files are only read. For every attendee folder under
the homes, every notebook in ``kit/labs`` (and below) that belongs to a lab (by its name,
else by its test cells, as ``make grade`` recognises them) and differs from the released
starter is copied to ``COURSE/submitted/<attendee>/<lab>/<name>``, with nbgrader's
``timestamp.txt`` (the notebook's last save, UTC). An unchanged starter is "not started"
and left out, so ``make grade`` says "missing" rather than scoring an untouched copy.

A later collect refreshes a copy only when the attendee saved since; an instructor's own
file in ``submitted/`` that no attendee notebook matches is left alone.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader.course import detect_lab
from grader.registry import LABS, lab_of_notebook

from .room import KIT_FOLDER, NAME

SKIP_PARTS = {".ipynb_checkpoints", "__MACOSX"}


@dataclass
class Collected:
    copied: dict[str, list[str]] = field(default_factory=dict)  # attendee -> "<lab>/<name>"
    unchanged: dict[str, list[str]] = field(default_factory=dict)  # already collected, not saved since
    not_started: dict[str, list[str]] = field(default_factory=dict)  # the released starter, untouched
    no_kit: list[str] = field(default_factory=list)  # a home without a kit (never logged in)

    def lines(self) -> list[str]:
        out = []
        for name in sorted(set(self.copied) | set(self.unchanged) | set(self.not_started)):
            parts = []
            if self.copied.get(name):
                parts.append("copied " + ", ".join(self.copied[name]))
            if self.unchanged.get(name):
                parts.append(f"{len(self.unchanged[name])} unchanged since the last collect")
            if self.not_started.get(name):
                parts.append("not started: " + ", ".join(self.not_started[name]))
            out.append(f"  {name}: " + "; ".join(parts))
        if self.no_kit:
            out.append("  no kit yet (never logged in): " + ", ".join(sorted(self.no_kit)))
        return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def starters(kit: Path) -> set[str]:
    """Digests of the released starter notebooks: an attendee file with one of these is untouched."""
    return {_digest(p) for p in (kit / "labs").glob("*.ipynb")}


def _lab_of(path: Path) -> str | None:
    return lab_of_notebook(path.name) or detect_lab(path)


def _copy(source: Path, target: Path) -> None:
    """Copy through a scratch file in the target folder, so a half-written copy never stands."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        source.open("rb") as data,
        tempfile.NamedTemporaryFile(dir=target.parent, prefix=".collect-", delete=False) as scratch,
    ):
        shutil.copyfileobj(data, scratch)
    shutil.copystat(source, scratch.name)
    Path(scratch.name).replace(target)


def collect(homes: Path, course: Path, kit: Path) -> Collected:
    """Copy every attendee's started lab notebooks into ``course/submitted``."""
    done = Collected()
    untouched = starters(kit) if (kit / "labs").is_dir() else set()
    for home in sorted(p for p in homes.iterdir() if p.is_dir() and NAME.match(p.name)):
        name = home.name
        labs = home / KIT_FOLDER / "labs"
        if not labs.is_dir():
            done.no_kit.append(name)
            continue
        for notebook in sorted(labs.rglob("*.ipynb")):
            if SKIP_PARTS.intersection(notebook.relative_to(labs).parts) or not notebook.is_file():
                continue
            lab = _lab_of(notebook)
            if lab is None:
                continue  # the room check, scratch notebooks: not a lab
            where = f"{LABS[lab]}/{notebook.name}"
            if _digest(notebook) in untouched:
                done.not_started.setdefault(name, []).append(LABS[lab])
                continue
            target = course / "submitted" / name / LABS[lab] / notebook.name
            if target.exists() and _digest(target) == _digest(notebook):
                done.unchanged.setdefault(name, []).append(where)
                continue
            _copy(notebook, target)
            saved = datetime.fromtimestamp(notebook.stat().st_mtime, UTC)
            (target.parent / "timestamp.txt").write_text(saved.strftime("%Y-%m-%d %H:%M:%S.%f %Z") + "\n")
            done.copied.setdefault(name, []).append(where)
    return done
