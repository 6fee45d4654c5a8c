"""One lab, one process: read the submission, sandbox, load, run the checks.

The runner forks this per submission (see ``runner.py``). In order:

1. read the learner's notebook, the reference's source (instructor) and the released
   notebook, while the process may still read them; scan the learner's code and the
   locked cells (``integrity``);
2. enter the sandbox (``sandbox``): no network, an unprivileged user where possible, and
   an audit hook that confines files to the scratch folder;
3. snapshot the grader and libraries, run the learner's cells, put back anything they
   replaced (graded with the original checks, and flagged);
4. only then execute the reference (so the learner's code never saw it), or load the
   recorded expectations in the student kit;
5. run each check in a forked child of its own, a few at a time, with CPU and wall-time
   limits, so that a crash, an ``os._exit`` or an infinite loop costs that check only.

Results go to the runner through a pipe, one JSON line after every check, so the runner
keeps what finished even if this process dies.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from . import LABS_DIR, SOLUTIONS, live_reference_available
from .integrity import Snapshot, locked_cells, scan_notebook
from .loader import REFERENCE_LABEL, NotebookError, execute, parse_notebook, read_notebook
from .oracle import Reference
from .registry import LABS, Check, GraderError, Namespace, OutOfTime, checks_for, explain, running_learner_line
from .sandbox import Sandbox

# Bound now, before any learner code runs: a notebook that replaces os.write or json.dumps
# cannot rewrite what the worker reports.
_write = os.write
_dumps = json.dumps
_fork = os.fork


@dataclass
class Context:
    """What the runner tells a worker: where it may write, what it must not read, its limits."""

    scratch: Path
    protected: list[Path]
    allowed: list[Path]
    denied: list[Path]
    hidden: list[Path]
    read_only: list[Path]
    check_seconds: float
    check_parallel: int
    isolate: bool = True
    applied: list[str] = field(default_factory=list)

    @property
    def wall_seconds(self) -> float:
        """A check's wall-time limit: three times its CPU time, for calls that never return."""
        return 3 * self.check_seconds


def result(check: Check, passed: bool, message: str = "", duration: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {
        "id": check.id,
        "description": check.description,
        "points": check.points if passed else 0,
        "max_points": check.points,
        "passed": passed,
        "message": message,
        "hint": "" if passed else check.hint,
        "visibility": check.visibility,
        "part": check.part,
        "duration_ms": round(duration * 1000, 1),
        **extra,
    }


def run_one(check: Check, learner: Namespace, reference: Reference, snapshot: Snapshot | None) -> dict[str, Any]:
    started = time.perf_counter()
    assert check.fn is not None
    grader_error = False
    try:
        check.fn(learner, reference)
    except GraderError as exc:
        passed, message, grader_error = False, explain(exc), True
    except BaseException as exc:  # a learner's SystemExit is a failure, not an exit
        passed, message = False, explain(exc)
    else:
        passed, message = True, ""
    tampered = snapshot.restore() if snapshot is not None else []
    if tampered and passed:
        passed, message = False, "Your code modified the grader while this check ran: " + ", ".join(tampered[:3])
    return result(
        check,
        passed,
        message,
        time.perf_counter() - started,
        grader_error=grader_error,
        tampered=tampered,
    )


@dataclass
class Running:
    check: Check
    pid: int
    read_fd: int
    started: float
    data: bytearray = field(default_factory=bytearray)
    stopping: float | None = None  # when the wall-time limit asked the check to stop (SIGUSR1)

    def drain(self) -> None:
        """Read what the check has written so far: a large report must not block it on a full pipe."""
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.data.extend(chunk)


def _fork_check(
    check: Check, learner: Namespace, reference: Reference, context: Context, sandbox: Sandbox | None
) -> Running:
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = _fork()
    if pid == 0:  # child: run, report, leave without running any cleanup of the parent's
        os.close(read_fd)
        try:
            used = int(
                resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
            )
            _, hard = resource.getrlimit(resource.RLIMIT_CPU)
            cpu = used + max(1, int(context.check_seconds))  # RLIMIT_CPU counts what the process inherited
            if hard != resource.RLIM_INFINITY:
                cpu = min(cpu, hard - 1)
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
            # At the limit the kernel sends SIGXCPU (once a second until the hard limit): raised
            # where the code is, the timeout can name the notebook's line (a loop that swallows it
            # is still ended by the wall-time limit).
            spent = f"your code computed for more than {context.check_seconds:g} s of CPU time (an infinite loop?)"
            signal.signal(signal.SIGXCPU, partial(_stop_here, spent))
            # The wall-time limit asks first, so that a call that never returns is named by its line too.
            waited = f"the check ran for more than {context.wall_seconds:g} s (a call that never returns?)"
            signal.signal(signal.SIGUSR1, partial(_stop_here, waited))
            if check.visibility == "hidden":  # what the learner's code prints here would reveal the hidden inputs
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
            snapshot = Snapshot()
            outcome = run_one(check, learner, reference, snapshot)
            signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # from here on the report is the grader's own work
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            if sandbox is not None:
                outcome["flags"], outcome["notes"] = sandbox.flags, sandbox.notes
            payload = memoryview(_dumps(outcome).encode())
            while payload:
                payload = payload[_write(write_fd, payload) :]
        finally:
            os._exit(0)
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return Running(check, pid, read_fd, started)


STOP_GRACE_SECONDS = 5.0  # for a check asked to stop (wall-time limit) to report where it was


def _stop_here(message: str, signum: int, frame: object) -> None:
    raise OutOfTime(message, running_learner_line())


def _finish(job: Running, status: int | None, timeout: float) -> dict[str, Any]:
    elapsed = time.perf_counter() - job.started
    if status is not None:
        job.drain()
    os.close(job.read_fd)
    data = bytes(job.data)
    if data:
        try:
            return json.loads(data)  # type: ignore[no-any-return]
        except ValueError:
            pass
    if status is None:
        return result(
            job.check, False, f"Timed out after {timeout:g} s: an infinite loop, or a call that never returns?", elapsed
        )
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        if name == "SIGXCPU":
            why = f"Timed out: your code computed for more than {timeout:g} s of CPU time (an infinite loop?)."
            return result(job.check, False, why, elapsed)
        why = "ran out of memory" if name == "SIGKILL" else "crashed the Python interpreter"
        return result(job.check, False, f"The check's process {why} ({name}).", elapsed)
    return result(
        job.check, False, f"Your code ended the process (exit code {os.WEXITSTATUS(status)}) during the check.", elapsed
    )


def run_checks(
    checks: list[Check],
    learner: Namespace,
    reference: Reference,
    context: Context,
    sandbox: Sandbox | None,
    on_result: Any,
) -> None:
    """Run each check in its own child, ``check_parallel`` at a time; report in any order.

    Busy loops are stopped by a CPU-time limit, which does not depend on how loaded the
    machine is; a wall-time limit three times longer catches calls that never return.
    """
    pending = [c for c in checks if c.runnable]
    running: list[Running] = []
    wall = context.wall_seconds
    while pending or running:
        while pending and len(running) < context.check_parallel:
            running.append(_fork_check(pending.pop(0), learner, reference, context, sandbox))
        time.sleep(0.002)
        for job in list(running):
            job.drain()
            done, status = os.waitpid(job.pid, os.WNOHANG)
            if done:
                running.remove(job)
                on_result(_finish(job, status, context.check_seconds))
            elif job.stopping is None and time.perf_counter() - job.started > wall:
                os.kill(job.pid, signal.SIGUSR1)  # raised where the code waits: the report names its line
                job.stopping = time.perf_counter()
            elif job.stopping is not None and time.perf_counter() - job.stopping > STOP_GRACE_SECONDS:
                os.kill(job.pid, signal.SIGKILL)  # it swallowed the request, or cannot run Python code
                os.waitpid(job.pid, 0)
                running.remove(job)
                on_result(_finish(job, None, wall))


class Reporter:
    """Writes the payload to the runner as one JSON line after every change."""

    def __init__(self, fd: int, payload: dict[str, Any]) -> None:
        self.fd = fd
        self.payload = payload

    def send(self) -> None:
        data = (_dumps(self.payload) + "\n").encode()
        view = memoryview(data)
        while view:
            written = _write(self.fd, view)
            view = view[written:]


def _read_reference(lab: str) -> dict[str, Any] | None:
    if not live_reference_available():
        return None
    return read_notebook(SOLUTIONS / f"{LABS[lab]}.ipynb")


def _released(lab: str) -> dict[str, Any] | None:
    try:
        return read_notebook(LABS_DIR / f"{LABS[lab]}.ipynb")
    except NotebookError:
        return None


def grade_notebook(
    lab: str, notebook_path: Path, results_fd: int, context: Context, only: frozenset[str] | None = None
) -> int:
    """Grade one notebook (only the checks named in ``only``, when given), reporting on ``results_fd``.

    Returns the process's exit code.
    """
    checks = [c for c in checks_for(lab) if only is None or c.id in only]
    payload: dict[str, Any] = {
        "lab": lab,
        "notebook": str(notebook_path),
        "error": None,
        "ungradable": None,
        "grader_error": None,
        "cell_errors": [],
        "flags": [],
        "notes": [],
        "sandbox": [],
        "checks": [],
    }
    report = Reporter(results_fd, payload)
    try:
        raw = Path(notebook_path).read_text(encoding="utf-8")
        notebook = parse_notebook(raw, Path(notebook_path).name)
    except (OSError, UnicodeDecodeError, NotebookError) as exc:
        reason = str(exc) if isinstance(exc, NotebookError) else f"cannot read {Path(notebook_path).name}: {exc}"
        payload["error"] = payload["ungradable"] = reason
        payload["checks"] = [result(c, False, f"Not graded: {reason}") for c in checks]
        report.send()
        return 0
    try:
        reference_source = _read_reference(lab)
        recorded = None if reference_source is not None else Reference.from_file(lab)
    except (NotebookError, GraderError) as exc:
        payload["error"] = payload["grader_error"] = f"the grader could not load lab {lab}'s reference: {exc}"
        report.send()
        return 3
    released = _released(lab)
    payload["flags"] += scan_notebook(notebook)
    if released is not None:
        payload["flags"] += locked_cells(notebook, released)

    sandbox = Sandbox(context.scratch, context.protected, context.allowed, context.denied)
    if context.isolate:
        payload["sandbox"] = sandbox.isolate(hide=context.hidden, read_only=context.read_only)
        sandbox.install()
        payload["sandbox"].append("audit hook")
    sys.dont_write_bytecode = True
    snapshot = Snapshot()
    originals = [(c, c.fn, c.fn.__code__ if c.fn is not None else None, c.points, c.visibility) for c in checks]
    loaded = execute(notebook, Path(notebook_path), "__notebook__", "notebook")
    payload["cell_errors"] = [{"cell": e.index, "where": e.where, "error": e.error} for e in loaded.errors]
    changed = snapshot.restore()
    for check, fn, code, points, visibility in originals:
        if check.fn is not fn or (fn is not None and fn.__code__ is not code) or check.points != points:
            changed.append(f"check {check.id}")
        object.__setattr__(check, "fn", fn)
        object.__setattr__(check, "points", points)
        object.__setattr__(check, "visibility", visibility)
        if fn is not None and code is not None:
            fn.__code__ = code
    if changed:
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        payload["flags"].append(f"the notebook replaced parts of the grader or its libraries ({shown}); put back")
    if reference_source is not None:
        module_name = f"__reference_{os.getpid()}__"
        reference_loaded = execute(reference_source, SOLUTIONS / f"{LABS[lab]}.ipynb", module_name, REFERENCE_LABEL)
        sys.modules.pop(module_name, None)  # its classes are built; the learner's code must not find it by name
        if reference_loaded.errors:
            error = reference_loaded.errors[0].error
            payload["error"] = payload["grader_error"] = f"the reference solution failed to load: {error}"
            payload["flags"] = list(dict.fromkeys(payload["flags"] + sandbox.flags))
            report.send()
            return 3
        reference = Reference(lab, Namespace(reference_loaded.namespace, "reference solution"))
    else:
        assert recorded is not None
        reference = recorded
    payload["flags"] = list(dict.fromkeys(payload["flags"] + sandbox.flags))
    payload["notes"] = list(dict.fromkeys(sandbox.notes))
    payload["loaded"] = True
    report.send()

    order = {c.id: i for i, c in enumerate(checks)}
    done: dict[str, dict[str, Any]] = {}

    def on_result(outcome: dict[str, Any]) -> None:
        for key, target in (("flags", "flags"), ("notes", "notes")):
            payload[target] = list(dict.fromkeys(payload[target] + outcome.pop(key, [])))
        if outcome.get("tampered"):
            payload["flags"] = list(
                dict.fromkeys(payload["flags"] + [f"the notebook's code modified the grader during {outcome['id']}"])
            )
        done[outcome["id"]] = outcome
        payload["checks"] = sorted(done.values(), key=lambda c: order[c["id"]])
        report.send()

    learner = Namespace(loaded.namespace, "notebook", [(e.where, e.error) for e in loaded.errors])
    run_checks(checks, learner, reference, context, sandbox if context.isolate else None, on_result)
    return 0
