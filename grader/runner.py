"""Grade notebooks: one forked, sandboxed process per submission, a bounded pool of them.

The grader imports the heavy libraries (numpy, the openai SDK, FastAPI, the mock) once,
then forks a worker per submission: a fresh interpreter would spend ~1.5 s importing
them again every time. Each worker gets its own session (so a timeout kills it and
everything it started), limits on address space, CPU time and file size, stdin from
/dev/null, and its output into a pipe that is drained continuously (a flooding notebook
never blocks) and kept only in part. Results come back on a second pipe.
"""

from __future__ import annotations

import contextlib
import difflib
import faulthandler
import importlib
import json
import os
import platform
import resource
import selectors
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import LABS_DIR, ROOT, SOLUTIONS
from .registry import EXPECTATIONS, LABS, checks_for, lab_of_notebook
from .worker import Context, grade_notebook

OUTPUT_KEEP = 20_000  # characters of a submission's printed output kept for the report
PRELOAD = (
    "numpy",
    "openai",
    "fastapi",
    "httpx2",
    "hypothesis",
    "pydantic",
    "mock_llm.inprocess",
    "grader.oracle",
    "grader.sandbox",
)


@dataclass
class Limits:
    wall_seconds: float = 180.0  # per submission, loading included
    check_seconds: float = 20.0  # CPU seconds per check; a check's wall limit is three times this
    memory_mb: int = 3072
    parallel: int = 0  # submissions graded at once; 0: one per CPU
    check_parallel: int = 0  # checks at once inside a submission; 0: two per CPU, shared by the pool
    isolate: bool = True  # the sandbox (tests of the grader itself may turn it off)

    def pool(self, jobs: int) -> tuple[int, int]:
        cpus = max(1, os.cpu_count() or 1)
        parallel = self.parallel or min(jobs, cpus)
        checks = self.check_parallel or max(2, (2 * cpus) // max(1, parallel))
        return max(1, parallel), checks


@dataclass
class LabResult:
    lab: str
    notebook: str
    checks: list[dict[str, Any]]
    error: str | None = None
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ungradable: str | None = None
    grader_error: str | None = None
    sandbox: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(int(c["points"]) for c in self.checks)

    @property
    def max_score(self) -> int:
        return sum(int(c["max_points"]) for c in self.checks)

    def part_score(self, part: str) -> tuple[int, int]:
        mine = [c for c in self.checks if c.get("part", "core") == part]
        return sum(int(c["points"]) for c in mine), sum(int(c["max_points"]) for c in mine)

    @property
    def status(self) -> str:
        """ok, ungradable: reason, grader error: reason, or flagged: reasons (a human should look)."""
        if self.grader_error:
            return f"grader error: {self.grader_error}"
        broken = [c["id"] for c in self.checks if c.get("grader_error")]
        if broken:
            return f"grader error: the grader could not run {', '.join(broken)}"
        if self.ungradable:
            return f"ungradable: {self.ungradable}"
        if self.flags:
            return "flagged: " + "; ".join(self.flags[:3]) + (" ..." if len(self.flags) > 3 else "")
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        core, core_max = self.part_score("core")
        stretch, stretch_max = self.part_score("stretch")
        return {
            "lab": self.lab,
            "name": LABS[self.lab],
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "core": core,
            "core_max": core_max,
            "stretch": stretch,
            "stretch_max": stretch_max,
            "status": self.status,
            "error": self.error,
            "flags": self.flags,
            "notes": self.notes,
            "cell_errors": self.cell_errors,
            "checks": self.checks,
        }


@dataclass
class _Job:
    lab: str
    notebook: Path
    pid: int
    output_fd: int
    results_fd: int
    folder: Path
    deadline: float
    status: int | None = None
    timed_out: bool = False
    output: list[str] = field(default_factory=list)
    kept: int = 0
    results: bytearray = field(default_factory=bytearray)
    open_fds: set[int] = field(default_factory=set)  # our ends of its pipes not yet at end-of-file
    loaded: bool = False
    checks: int = 0
    only: frozenset[str] | None = None  # the checks asked for; None: all of the lab's

    def keep(self, chunk: bytes) -> None:
        if self.kept < OUTPUT_KEEP:
            text = chunk.decode("utf-8", "replace")[: OUTPUT_KEEP - self.kept]
            self.output.append(text)
            self.kept += len(text)

    def payload(self) -> dict[str, Any]:
        """The last complete JSON line the worker sent, with the flags and notes of every line.

        Flags only ever grow: a later line (which learner code could in principle have
        forged) cannot take back what an earlier one reported.
        """
        lines = []
        for line in bytes(self.results).split(b"\n"):
            if line.strip():
                with contextlib.suppress(ValueError):
                    data = json.loads(line)
                    if isinstance(data, dict):
                        lines.append(data)
        if not lines:
            return {}
        last = dict(lines[-1])
        for key in ("flags", "notes"):
            merged: list[str] = []
            for data in lines:
                merged += [str(x) for x in data.get(key, []) if isinstance(x, str)]
            last[key] = list(dict.fromkeys(merged))
        return last


def preload(labs: list[str]) -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    platform.platform()  # cached now: the openai SDK asks for it, and it would run `uname -p` in the sandbox
    for lab in labs:
        checks_for(lab)


def _context(notebook: Path, folder: Path, limits: Limits, check_parallel: int, protect: list[Path]) -> Context:
    venv = Path(sys.prefix).resolve()
    allowed = [ROOT / "mock_llm", ROOT / "grader", ROOT / "data", LABS_DIR, notebook.parent, venv]
    allowed += [Path(p).resolve() for p in {sys.base_prefix, sys.exec_prefix} if p]
    denied = [SOLUTIONS, ROOT / "grader" / "hidden", ROOT / ".git", EXPECTATIONS]
    protected = [ROOT, *protect]  # the kit, and (in a course) the other submissions
    hidden = [SOLUTIONS, ROOT / "grader" / "hidden", ROOT / ".git", *protect]
    return Context(
        folder,
        protected,
        allowed,
        denied,
        hidden,
        [ROOT, *protect],
        limits.check_seconds,
        check_parallel,
        limits.isolate,
    )


def selected(lab: str, only: frozenset[str] | None) -> list[Any]:
    """The lab's checks, or those of them named in ``only``, in the registry's order."""
    return [c for c in checks_for(lab) if only is None or c.id in only]


def select_checks(
    pairs: list[tuple[str, Path]], everywhere: list[str], per_notebook: dict[Path, list[str]]
) -> tuple[list[tuple[str, Path]], list[frozenset[str] | None]]:
    """Which checks to grade on each notebook: ``grade()``'s pairs and its ``only``.

    ``everywhere`` (``--only``) applies to every notebook whose lab has the check, and a
    notebook whose lab has none of them is left out; ``per_notebook`` (``NOTEBOOK::CHECK``)
    must name checks of that notebook's own lab. A name no lab has is a ValueError that
    lists the checks there are.
    """
    kept: list[tuple[str, Path]] = []
    only: list[frozenset[str] | None] = []
    for lab, path in pairs:
        known = [c.id for c in checks_for(lab)]
        own = per_notebook.get(path.resolve(), [])
        unknown = [i for i in own if i not in known]
        if unknown:
            raise ValueError(
                f"{path.name} is lab {lab}, which has no check {', '.join(map(repr, unknown))}; "
                f"its checks: {', '.join(known)}"
            )
        shared = [i for i in everywhere if i in known]
        if everywhere and not shared and not own:
            continue
        kept.append((lab, path))
        only.append(frozenset(own + shared) if own or shared else None)
    labs = sorted({lab for lab, _ in pairs})
    stray = [i for i in everywhere if not any(c.id == i for lab in labs for c in checks_for(lab))]
    if stray:
        every = [c.id for lab in labs for c in checks_for(lab)]
        close = [m for i in stray for m in difflib.get_close_matches(i, every, n=1)]
        advice = f"did you mean {', '.join(close)}?" if close else f"the checks are: {', '.join(every)}"
        raise ValueError(f"no lab graded here has the check {', '.join(map(repr, stray))}; {advice}")
    return kept, only


def _child(
    lab: str,
    notebook: Path,
    folder: Path,
    output_fd: int,
    results_fd: int,
    context: Context,
    limits: Limits,
    only: frozenset[str] | None,
) -> int:
    os.setsid()
    faulthandler.disable()  # a learner's segfault is reported in the scorecard, not dumped on the caller's stderr
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    # The caller's sys.stdout may not be file descriptor 1 (pytest, IPython): the learner's prints go to the pipe.
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(limits.wall_seconds)  # the worker's own CPU (its checks have their own): a busy loop while loading
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024 * 1024, 64 * 1024 * 1024))
    os.chdir(folder)
    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
        os.environ[name] = str(folder)
    os.environ["MPLBACKEND"] = "Agg"
    tempfile.tempdir = str(folder)
    from hypothesis import configuration

    configuration.set_hypothesis_home_dir(str(folder / ".hypothesis"))
    return grade_notebook(lab, notebook, results_fd, context, only)


def _start(
    lab: str, notebook: Path, limits: Limits, check_parallel: int, protect: list[Path], only: frozenset[str] | None
) -> _Job:
    folder = Path(tempfile.mkdtemp(prefix=f"grader-{lab}-"))
    context = _context(notebook, folder, limits, check_parallel, protect)
    out_read, out_write = os.pipe()
    res_read, res_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 4
        try:
            os.close(out_read)
            os.close(res_read)
            code = _child(lab, notebook, folder, out_write, res_write, context, limits, only)
        except BaseException:  # report and leave; never return into the parent's code
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(out_write)
    os.close(res_write)
    os.set_blocking(out_read, False)
    os.set_blocking(res_read, False)
    job = _Job(lab, notebook, pid, out_read, res_read, folder, time.monotonic() + limits.wall_seconds)
    job.open_fds = {out_read, res_read}
    job.only = only
    job.checks = len(selected(lab, only))
    return job


def _explain_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        if name == "SIGXCPU":
            return "used too much CPU time (an infinite loop while loading?)"
        return "was killed for using too much memory" if name == "SIGKILL" else f"crashed ({name})"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _collect(job: _Job, limits: Limits) -> LabResult:
    checks = selected(job.lab, job.only)
    payload = job.payload()
    shutil.rmtree(job.folder, ignore_errors=True)
    done = {c["id"]: c for c in payload.get("checks", [])}
    error = payload.get("error")
    ungradable = payload.get("ungradable")
    if job.timed_out:
        reason = (
            "a check ran far longer than its limits allow and grading was stopped"
            if job.loaded
            else f"loading the notebook took longer than {limits.wall_seconds:g} s and was stopped"
        )
    elif job.status is not None and (not os.WIFEXITED(job.status) or os.WEXITSTATUS(job.status) != 0):
        reason = f"the grading process {_explain_exit(job.status)} while loading or checking the notebook"
    else:
        reason = "not run"
    runnable = [c for c in checks if c.runnable]
    if len(done) < len(runnable) and not payload.get("grader_error"):
        error = error or reason
        # the notebook, not a check, stopped grading: a human should look, whatever was graded
        ungradable = ungradable or (reason if not done else f"{reason} ({len(done)} of {len(runnable)} checks graded)")
    results = []
    for c in checks:
        if c.id in done and c.runnable:
            reported = done[c.id]
            passed = reported.get("passed") is True
            # points, visibility and part come from this process's registry, never from the worker
            results.append(
                {
                    **reported,
                    "id": c.id,
                    "description": c.description,
                    "passed": passed,
                    "points": c.points if passed else 0,
                    "max_points": c.points,
                    "visibility": c.visibility,
                    "part": c.part,
                    "hint": "" if passed else c.hint,
                    "message": str(reported.get("message", ""))[:2000],
                }
            )
            continue
        message = f"Not graded: {reason}." if c.runnable else "Graded by the instructor (a hidden check)."
        results.append(
            {
                "id": c.id,
                "description": c.description,
                "points": 0,
                "max_points": c.points,
                "passed": False,
                "message": message,
                "hint": c.hint if c.runnable else "",
                "visibility": c.visibility,
                "part": c.part,
                "duration_ms": 0.0,
                "not_run": not c.runnable,
            }
        )
    notes = payload.get("notes", [])
    if job.only is not None:
        notes = [f"only {len(checks)} of the lab's {len(checks_for(job.lab))} checks were graded, as asked", *notes]
    return LabResult(
        job.lab,
        str(job.notebook),
        results,
        error,
        payload.get("cell_errors", []),
        "".join(job.output),
        payload.get("flags", []),
        notes,
        ungradable,
        payload.get("grader_error"),
        payload.get("sandbox", []),
    )


def grade(
    pairs: list[tuple[str, Path]],
    limits: Limits | None = None,
    on_result: Callable[[int, LabResult], None] | None = None,
    protect: list[Path] | None = None,
    only: list[frozenset[str] | None] | None = None,
) -> list[LabResult]:
    """Grade submissions, a bounded number at a time; results in the order given.

    ``on_result(index, result)`` is called as each finishes (for a progress bar);
    ``protect`` adds folders no submission may read (a course's other submissions);
    ``only[i]``, when given and not None, names the checks to run on ``pairs[i]`` (the others are left out).
    """
    limits = limits or Limits()
    preload(sorted({lab for lab, _ in pairs}))
    parallel, check_parallel = limits.pool(len(pairs))
    chosen = only if only is not None else [None] * len(pairs)
    if len(chosen) != len(pairs):
        raise ValueError(f"{len(chosen)} check selections for {len(pairs)} notebooks")
    warmed = {c.id: c.warm for (lab, _), ids in zip(pairs, chosen, strict=True) for c in selected(lab, ids) if c.warm}
    for warm in warmed.values():  # once here, inherited by every worker, instead of once per submission
        with contextlib.suppress(Exception):  # what failed here, the check computes again and reports itself
            warm()
    waiting = [(i, (lab, path, chosen[i])) for i, (lab, path) in enumerate(pairs)]
    active: dict[int, _Job] = {}
    finished: dict[int, LabResult] = {}
    selector = selectors.DefaultSelector()
    try:
        _loop(waiting, active, finished, selector, limits, check_parallel, parallel, on_result, protect or [])
    finally:  # interrupted: no worker may outlive the run
        for job in active.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(job.pid, 0)
            shutil.rmtree(job.folder, ignore_errors=True)
        selector.close()
    return [finished[i] for i in range(len(pairs))]


def _loop(
    waiting: list[tuple[int, tuple[str, Path, frozenset[str] | None]]],
    active: dict[int, _Job],
    finished: dict[int, LabResult],
    selector: selectors.BaseSelector,
    limits: Limits,
    check_parallel: int,
    parallel: int,
    on_result: Callable[[int, LabResult], None] | None,
    protect: list[Path],
) -> None:
    while waiting or active:
        while waiting and len(active) < parallel:
            index, (lab, notebook, only) = waiting.pop(0)
            job = _start(lab, notebook, limits, check_parallel, protect, only)
            active[index] = job
            selector.register(job.output_fd, selectors.EVENT_READ, (job, "output"))
            selector.register(job.results_fd, selectors.EVENT_READ, (job, "results"))
        for key, _ in selector.select(timeout=0.02):
            job, kind = key.data
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if chunk:
                if kind == "output":
                    job.keep(chunk)
                else:
                    job.results.extend(chunk)
                    if not job.loaded and b'"loaded": true' in job.results:
                        # loading is over: from here each check has its own CPU and wall limits, and this
                        # deadline is only a safety net, so a slow machine cannot turn a verdict into a timeout
                        job.loaded = True
                        job.deadline = time.monotonic() + 3 * limits.check_seconds * max(1, job.checks)
            else:
                selector.unregister(key.fd)
                os.close(key.fd)
                job.open_fds.discard(key.fd)
        for index, job in list(active.items()):
            if job.status is None:
                done, status = os.waitpid(job.pid, os.WNOHANG)
                if done:
                    job.status = status
                    job.deadline = time.monotonic() + 5  # to drain what it wrote last
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(job.pid, signal.SIGKILL)  # checks it left running must not hold the pipes
                elif time.monotonic() > job.deadline:
                    job.timed_out = True
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(job.pid, signal.SIGKILL)  # the worker and every check it forked
                    _, job.status = os.waitpid(job.pid, 0)
            drained = not job.open_fds or job.timed_out or time.monotonic() > job.deadline
            if job.status is not None and drained:
                for fd in job.open_fds:  # only our own, still open: a closed number may belong to another job now
                    selector.unregister(fd)
                    os.close(fd)
                job.open_fds.clear()
                del active[index]
                finished[index] = _collect(job, limits)
                if on_result is not None:
                    on_result(index, finished[index])


def default_notebooks(labs: list[str] | None = None) -> list[tuple[str, Path]]:
    wanted = labs or list(LABS)
    return [(lab, LABS_DIR / f"{LABS[lab]}.ipynb") for lab in wanted]


def split_selection(argument: str | Path) -> tuple[Path, list[str] | None]:
    """``labs/03_error_boundaries.ipynb::03-template,03-timeout`` (pytest's way of naming a test in a file)."""
    path, sep, ids = str(argument).partition("::")
    if not sep:
        return Path(path), None
    names = [name.strip() for name in ids.split(",") if name.strip()]
    if not names:
        raise ValueError(f"{argument}: name at least one check after '::'")
    return Path(path), names


def resolve(notebooks: list[Path], labs: list[str] | None) -> list[tuple[str, Path]]:
    """Pair each notebook with its lab (from its file name, its folder or its test cells)."""
    from .course import detect_lab

    if not notebooks:
        return default_notebooks(labs)
    pairs = []
    for path in (p.resolve() for p in notebooks):
        lab = lab_of_notebook(path.name) or detect_lab(path)
        if lab is None:
            raise ValueError(f"{path}: cannot tell which lab this is; name it like {LABS['01']}.ipynb")
        if not labs or lab in labs:
            pairs.append((lab, path))
    return pairs
