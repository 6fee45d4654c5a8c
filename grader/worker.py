"""One lab, one process: load the reference and the learner's notebook, run the checks.

The runner forks this per lab (see ``runner.py``). After the tamper check, each check
runs in a forked child of its own, up to one per CPU at a time, so that a crash, an
``os._exit`` or an infinite loop costs that check only. Results go to a JSON file
rewritten after every check, so the runner keeps what finished even if this process dies.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .integrity import changes, snapshot
from .loader import NotebookError, load
from .registry import Check, Namespace, checks_for, explain


def result(check: Check, passed: bool, message: str = "", duration: float = 0.0) -> dict[str, Any]:
    return {
        "id": check.id,
        "description": check.description,
        "points": check.points if passed else 0,
        "max_points": check.points,
        "passed": passed,
        "message": message,
        "hint": "" if passed else check.hint,
        "visibility": check.visibility,
        "duration_ms": round(duration * 1000, 1),
    }


def run_one(check: Check, learner: Namespace, reference: Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check.fn(learner, reference)
    except BaseException as exc:  # a learner's SystemExit is a failure, not an exit
        return result(check, False, explain(exc), time.perf_counter() - started)
    return result(check, True, "", time.perf_counter() - started)


@dataclass
class Running:
    check: Check
    pid: int
    read_fd: int
    started: float


def _fork_check(check: Check, learner: Namespace, reference: Namespace) -> Running:
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: run, report, leave without running any cleanup of the parent's
        os.close(read_fd)
        try:
            payload = json.dumps(run_one(check, learner, reference)).encode()
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_fd)
    return Running(check, pid, read_fd, started)


def _finish(job: Running, status: int | None) -> dict[str, Any]:
    elapsed = time.perf_counter() - job.started
    with os.fdopen(job.read_fd, "rb") as pipe:
        data = pipe.read() if status is not None else b""
    if data:
        return json.loads(data)  # type: ignore[no-any-return]
    if status is None:
        return result(job.check, False, "Timed out: an infinite loop, or a call that never returns?", elapsed)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        why = "ran out of memory" if name == "SIGKILL" else "crashed the Python interpreter"
        return result(job.check, False, f"The check's process {why} ({name}).", elapsed)
    return result(
        job.check, False, f"Your code ended the process (exit code {os.WEXITSTATUS(status)}) during the check.", elapsed
    )


def run_checks(checks: list[Check], learner: Namespace, reference: Namespace, timeout: float, on_result: Any) -> None:
    """Run each check in its own child, two per CPU at a time; report in any order.

    Two per CPU because many checks spend their time waiting (on an injected timeout, on
    the mock's simulated latency), not computing.
    """
    pending = list(checks)
    running: list[Running] = []
    parallel = 2 * max(1, os.cpu_count() or 1)
    while pending or running:
        while pending and len(running) < parallel:
            running.append(_fork_check(pending.pop(0), learner, reference))
        time.sleep(0.002)
        for job in list(running):
            done, status = os.waitpid(job.pid, os.WNOHANG)
            if done:
                running.remove(job)
                on_result(_finish(job, status))
            elif time.perf_counter() - job.started > timeout:
                os.kill(job.pid, signal.SIGKILL)
                os.waitpid(job.pid, 0)
                running.remove(job)
                outcome = _finish(job, None)
                outcome["message"] = f"Timed out after {timeout:g} s: an infinite loop, or a call that never returns?"
                on_result(outcome)


def write(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)


def grade_notebook(lab: str, notebook: Path, reference_path: Path, out: Path, check_timeout: float) -> int:
    """Grade one notebook, writing results to ``out``; the process's exit code."""
    checks = checks_for(lab)
    payload: dict[str, Any] = {"lab": lab, "notebook": str(notebook), "error": None, "cell_errors": [], "checks": []}
    reference_loaded = load(reference_path, "__reference__")
    if reference_loaded.errors:
        payload["error"] = f"the reference solution failed to load: {reference_loaded.errors[0].error}"
        write(out, payload)
        return 3
    before = snapshot(reference_loaded.namespace)
    try:
        learner_loaded = load(notebook)
    except NotebookError as exc:
        payload["error"] = str(exc)
        payload["checks"] = [result(c, False, f"Not graded: {exc}") for c in checks]
        write(out, payload)
        return 0
    payload["cell_errors"] = [{"cell": e.index, "error": e.error} for e in learner_loaded.errors]
    tampered = changes(before, reference_loaded.namespace)
    if tampered:
        shown = ", ".join(tampered[:5]) + (" ..." if len(tampered) > 5 else "")
        payload["error"] = f"the notebook modified the grader, the reference or a library the checks use: {shown}"
        payload["checks"] = [result(c, False, f"Not graded: {payload['error']}") for c in checks]
        write(out, payload)
        return 0
    order = {c.id: i for i, c in enumerate(checks)}
    done: dict[str, dict[str, Any]] = {}

    def on_result(outcome: dict[str, Any]) -> None:
        done[outcome["id"]] = outcome
        payload["checks"] = sorted(done.values(), key=lambda c: order[c["id"]])
        write(out, payload)

    learner = Namespace(learner_loaded.namespace, "notebook")
    reference = Namespace(reference_loaded.namespace, "reference solution")
    run_checks(checks, learner, reference, check_timeout, on_result)
    return 0
