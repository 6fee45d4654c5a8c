"""Grade notebooks: one subprocess per lab, with wall-time, memory and output limits."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import LABS_DIR, ROOT, SOLUTIONS
from .registry import LABS, checks_for, lab_of_notebook

OUTPUT_KEEP = 20_000  # characters of a lab's printed output kept for the report


@dataclass
class Limits:
    wall_seconds: float = 120.0
    check_seconds: float = 30.0
    memory_mb: int = 3072


@dataclass
class LabResult:
    lab: str
    notebook: str
    checks: list[dict[str, Any]]
    error: str | None = None
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""

    @property
    def score(self) -> int:
        return sum(int(c["points"]) for c in self.checks)

    @property
    def max_score(self) -> int:
        return sum(c.points for c in checks_for(self.lab))

    def as_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "name": LABS[self.lab],
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "error": self.error,
            "cell_errors": self.cell_errors,
            "checks": self.checks,
        }


def _limit(memory_mb: int) -> None:
    bytes_ = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (bytes_, bytes_))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drain(stream: Any, keep: list[str]) -> None:
    """Read everything (so a flooding notebook never blocks), keep the start."""
    kept = 0
    for chunk in iter(lambda: stream.read(65536), b""):
        if kept < OUTPUT_KEEP:
            text = chunk.decode("utf-8", "replace")[: OUTPUT_KEEP - kept]
            keep.append(text)
            kept += len(text)


def _explain_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        return "was killed for using too much memory or time" if name == "SIGKILL" else f"crashed ({name})"
    return f"exited with code {code}"


def grade_lab(lab: str, notebook: Path, limits: Limits | None = None) -> LabResult:
    limits = limits or Limits()
    checks = checks_for(lab)
    with tempfile.TemporaryDirectory(prefix=f"grader-{lab}-") as tmp:
        out = Path(tmp) / "result.json"
        env = {
            **os.environ,
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "PYTHONHASHSEED": "0",
            "GRADER_WORKER": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader.worker",
                "--lab",
                lab,
                "--notebook",
                str(notebook),
                "--reference",
                str(SOLUTIONS / f"{LABS[lab]}.ipynb"),
                "--out",
                str(out),
                "--check-timeout",
                str(limits.check_seconds),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env=env,
            preexec_fn=lambda: _limit(limits.memory_mb),
            start_new_session=True,
        )
        kept: list[str] = []
        reader = threading.Thread(target=_drain, args=(proc.stdout, kept), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        payload: dict[str, Any] = {}
        if out.exists():
            import json

            payload = json.loads(out.read_text(encoding="utf-8"))
    done = {c["id"]: c for c in payload.get("checks", [])}
    error = payload.get("error")
    if timed_out:
        reason = f"the lab took longer than {limits.wall_seconds:g} s in total and was stopped"
    elif proc.returncode not in (0, None) and len(done) < len(checks):
        reason = f"the grading process {_explain_exit(proc.returncode)} while loading or checking the notebook"
    else:
        reason = "not run"
    if len(done) < len(checks) and error is None:
        error = reason
    results = [
        done.get(c.id)
        or {
            "id": c.id,
            "description": c.description,
            "points": 0,
            "max_points": c.points,
            "passed": False,
            "message": f"Not graded: {reason}.",
            "hint": c.hint,
            "visibility": c.visibility,
            "duration_ms": 0.0,
        }
        for c in checks
    ]
    return LabResult(lab, str(notebook), results, error, payload.get("cell_errors", []), "".join(kept))


def default_notebooks(labs: list[str] | None = None) -> list[tuple[str, Path]]:
    wanted = labs or list(LABS)
    return [(lab, LABS_DIR / f"{LABS[lab]}.ipynb") for lab in wanted]


def resolve(notebooks: list[Path], labs: list[str] | None) -> list[tuple[str, Path]]:
    """Pair each notebook with its lab (from its file name)."""
    if not notebooks:
        return default_notebooks(labs)
    pairs = []
    for path in (p.resolve() for p in notebooks):
        lab = lab_of_notebook(path.name)
        if lab is None:
            raise ValueError(f"{path}: cannot tell which lab this is; name it like {LABS['01']}.ipynb")
        if not labs or lab in labs:
            pairs.append((lab, path))
    return pairs


def grade(pairs: list[tuple[str, Path]], limits: Limits | None = None) -> list[LabResult]:
    """Grade labs in parallel (one process each), results in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(pairs), os.cpu_count() or 1))) as pool:
        return list(pool.map(lambda pair: grade_lab(pair[0], pair[1], limits), pairs))
