"""One lab, one process: ``python -m grader.worker`` (started by the runner, not by hand).

Loads the reference solution and the learner's notebook, checks for tampering, then
runs each check in a forked child so that a crash, an ``os._exit`` or an infinite loop
costs that check only. Results go to a JSON file rewritten after every check, so the
runner keeps what finished even if this process dies.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .integrity import changes, snapshot
from .loader import Loaded, NotebookError, load
from .registry import Check, CheckFailed, Namespace, checks_for


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


def explain(exc: BaseException) -> str:
    if isinstance(exc, CheckFailed):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(frames) if f.filename.startswith("<")), None)
    place = f" (in {where.filename.strip('<>')}, line {where.lineno})" if where else ""
    if isinstance(exc, NotImplementedError):
        return f"Not implemented yet: the exercise still raises NotImplementedError{place}."
    return f"Your code raised {type(exc).__name__}: {exc}{place}"[:800]


def run_one(check: Check, learner: Namespace, reference: Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check.fn(learner, reference)
    except BaseException as exc:
        return result(check, False, explain(exc), time.perf_counter() - started)
    return result(check, True, "", time.perf_counter() - started)


def run_forked(check: Check, learner: Namespace, reference: Namespace, timeout: float) -> dict[str, Any]:
    """Run a check in a child process; a crash or a hang fails that check alone."""
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        payload = json.dumps(run_one(check, learner, reference)).encode()
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_fd)
    deadline = started + timeout
    status = None
    while time.perf_counter() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.005)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)
        return result(
            check,
            False,
            f"Timed out after {timeout:g} s: an infinite loop, or a call that never returns?",
            time.perf_counter() - started,
        )
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    if data:
        return json.loads(data)  # type: ignore[no-any-return]
    assert status is not None
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        why = "ran out of memory" if name == "SIGKILL" else "crashed the Python interpreter"
        return result(check, False, f"The check's process {why} ({name}).", time.perf_counter() - started)
    return result(
        check,
        False,
        f"Your code ended the process (exit code {os.WEXITSTATUS(status)}) during the check.",
        time.perf_counter() - started,
    )


def write(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", required=True)
    parser.add_argument("--notebook", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    checks = checks_for(args.lab)
    payload: dict[str, Any] = {
        "lab": args.lab,
        "notebook": str(args.notebook),
        "error": None,
        "cell_errors": [],
        "checks": [],
    }
    reference_loaded = load(args.reference, "__reference__")
    if reference_loaded.errors:
        payload["error"] = f"the reference solution failed to load: {reference_loaded.errors[0].error}"
        write(args.out, payload)
        return 3
    before = snapshot(reference_loaded.namespace)
    try:
        learner_loaded: Loaded = load(args.notebook)
    except NotebookError as exc:
        payload["error"] = str(exc)
        payload["checks"] = [result(c, False, f"Not graded: {exc}") for c in checks]
        write(args.out, payload)
        return 0
    payload["cell_errors"] = [{"cell": e.index, "error": e.error} for e in learner_loaded.errors]
    tampered = changes(before, reference_loaded.namespace)
    if tampered:
        shown = ", ".join(tampered[:5]) + (" ..." if len(tampered) > 5 else "")
        payload["error"] = f"the notebook modified the grader, the reference or a library the checks use: {shown}"
        payload["checks"] = [result(c, False, f"Not graded: {payload['error']}") for c in checks]
        write(args.out, payload)
        return 0
    learner = Namespace(learner_loaded.namespace, "notebook")
    reference = Namespace(reference_loaded.namespace, "reference solution")
    for check in checks:
        payload["checks"].append(run_forked(check, learner, reference, args.check_timeout))
        write(args.out, payload)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
