"""Grade notebooks: one forked process per lab, with wall-time, memory and output limits.

The grader imports the heavy libraries (numpy, the openai SDK, FastAPI, the mock) once,
then forks a worker per lab: a fresh interpreter would spend ~1.5 s importing them again
for every lab. Each worker gets its own session (so a timeout kills it and everything it
started), an address-space limit, stdin from /dev/null and its output into a pipe that is
drained continuously (a flooding notebook never blocks) and kept only in part.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import json
import os
import resource
import selectors
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import LABS_DIR, SOLUTIONS
from .registry import LABS, checks_for, lab_of_notebook
from .worker import grade_notebook

OUTPUT_KEEP = 20_000  # characters of a lab's printed output kept for the report
PRELOAD = (
    "numpy",
    "openai",
    "fastapi",
    "httpx2",
    "hypothesis",
    "pydantic",
    "mock_llm.inprocess",
    "starlette.testclient",
)


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


@dataclass
class _Job:
    lab: str
    notebook: Path
    pid: int
    fd: int
    folder: Path
    deadline: float
    status: int | None = None
    timed_out: bool = False
    output: list[str] = field(default_factory=list)
    kept: int = 0

    def keep(self, chunk: bytes) -> None:
        if self.kept < OUTPUT_KEEP:
            text = chunk.decode("utf-8", "replace")[: OUTPUT_KEEP - self.kept]
            self.output.append(text)
            self.kept += len(text)


def preload(labs: list[str]) -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    for lab in labs:
        checks_for(lab)


def _child(lab: str, notebook: Path, folder: Path, write_fd: int, limits: Limits) -> int:
    os.setsid()
    faulthandler.disable()  # a learner's segfault is reported in the scorecard, not dumped on the caller's stderr
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.chdir(folder)
    os.environ["MPLBACKEND"] = "Agg"
    reference = SOLUTIONS / f"{LABS[lab]}.ipynb"
    return grade_notebook(lab, notebook, reference, folder / "result.json", limits.check_seconds)


def _start(lab: str, notebook: Path, limits: Limits) -> _Job:
    folder = Path(tempfile.mkdtemp(prefix=f"grader-{lab}-"))
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 4
        try:
            os.close(read_fd)
            code = _child(lab, notebook, folder, write_fd, limits)
        except BaseException:  # report and leave; never return into the parent's code
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return _Job(lab, notebook, pid, read_fd, folder, time.monotonic() + limits.wall_seconds)


def _explain_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return "was killed for using too much memory" if name == "SIGKILL" else f"crashed ({name})"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _collect(job: _Job, limits: Limits) -> LabResult:
    checks = checks_for(job.lab)
    path = job.folder / "result.json"
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    shutil.rmtree(job.folder, ignore_errors=True)
    done = {c["id"]: c for c in payload.get("checks", [])}
    error = payload.get("error")
    if job.timed_out:
        reason = f"the lab took longer than {limits.wall_seconds:g} s in total and was stopped"
    elif job.status is not None and (not os.WIFEXITED(job.status) or os.WEXITSTATUS(job.status) != 0):
        reason = f"the grading process {_explain_exit(job.status)} while loading or checking the notebook"
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
    return LabResult(job.lab, str(job.notebook), results, error, payload.get("cell_errors", []), "".join(job.output))


def grade(pairs: list[tuple[str, Path]], limits: Limits | None = None) -> list[LabResult]:
    """Grade labs in parallel (one forked process each); results in the order given."""
    limits = limits or Limits()
    preload(sorted({lab for lab, _ in pairs}))
    jobs = [_start(lab, notebook, limits) for lab, notebook in pairs]
    selector = selectors.DefaultSelector()
    for job in jobs:
        selector.register(job.fd, selectors.EVENT_READ, job)
    open_fds = len(jobs)
    while open_fds or any(job.status is None for job in jobs):
        for key, _ in selector.select(timeout=0.02) if open_fds else []:
            job = key.data
            try:
                chunk = os.read(job.fd, 65536)
            except BlockingIOError:
                continue
            if chunk:
                job.keep(chunk)
            else:
                selector.unregister(job.fd)
                os.close(job.fd)
                open_fds -= 1
        if not open_fds:
            time.sleep(0.005)
        for job in jobs:
            if job.status is not None:
                continue
            done, status = os.waitpid(job.pid, os.WNOHANG)
            if done:
                job.status = status
            elif time.monotonic() > job.deadline:
                job.timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(job.pid, signal.SIGKILL)  # the worker and every check it forked
                _, job.status = os.waitpid(job.pid, 0)
    selector.close()
    return [_collect(job, limits) for job in jobs]


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
