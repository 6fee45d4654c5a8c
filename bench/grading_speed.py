"""Grading speed: `make check` (python -m grader check) against `nbgrader autograde`, one run.

    python bench/grading_speed.py [--rounds 3]

One submission (the reference solutions of every lab) is graded both ways, alternating
rounds so machine noise hits both alike; medians are reported, per lab and for all labs,
with the ratio. nbgrader starts a Jupyter kernel per notebook and runs the test cells;
our path forks a preloaded worker per lab.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.registry import LABS  # noqa: E402
from grader.release import generate, venv_env  # noqa: E402


def timed(args: list[str], cwd: Path, timeout: float = 900) -> float:
    """Wall time of one command run to completion (interpreter start included); stops the bench if it fails."""
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=venv_env(), timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def autograde(stem: str, course: Path, timeout: float = 900) -> float:
    """Wall time of plain `nbgrader autograde <stem>` over every submission in ``course``, run from there."""
    args = ["-m", "nbgrader", "autograde", stem, "--create", "--force", "--log-level=ERROR"]
    return timed([sys.executable, *args, f"--CourseDirectory.root={course}"], course, timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as scratch:
        course = Path(scratch)
        notebooks = {}
        for lab, stem in LABS.items():
            generate(lab, course)
            target = course / "submitted" / "learner" / stem / f"{stem}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / "solutions" / f"{stem}.ipynb", target)
            notebooks[lab] = target

        def ours(labs: list[str]) -> float:
            cmd = [python, "-m", "grader", "check", "--json"]
            for lab in labs:
                cmd += ["--notebook", str(notebooks[lab])]
            return timed(cmd, ROOT)

        def nbgrader(labs: list[str]) -> float:
            return sum(autograde(LABS[lab], course) for lab in labs)

        scenarios = [(f"lab {lab}", [lab]) for lab in LABS] + [("all labs", list(LABS))]
        times: dict[tuple[str, str], list[float]] = {}
        nbgrader(list(LABS))  # warm caches (and the gradebook) before timing
        ours(list(LABS))
        for _ in range(args.rounds):
            for name, labs in scenarios:
                times.setdefault((name, "ours"), []).append(ours(labs))
                times.setdefault((name, "nbgrader"), []).append(nbgrader(labs))

    print(f"\nGrading one submission, median of {args.rounds} rounds (seconds, wall clock)\n")
    print(f"{'scope':12} {'make check':>11} {'nbgrader autograde':>19} {'speed-up':>9}")
    for name, _ in scenarios:
        mine = statistics.median(times[(name, "ours")])
        theirs = statistics.median(times[(name, "nbgrader")])
        print(f"{name:12} {mine:11.2f} {theirs:19.2f} {theirs / mine:8.1f}x")
    print("\nrerun: python bench/grading_speed.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
