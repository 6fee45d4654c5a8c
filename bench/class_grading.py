"""Grading a class: `make grade` (the kit's engine) against plain `nbgrader autograde`, in one run.

    python bench/class_grading.py [--students 100]

Generates a class: every student submits every lab, as a realistic mix (a third complete,
a third with one of the lab's catalogued mistakes (tests/grader/catalogue), a sixth
untouched, a sixth with a cell that raises). Both graders grade the same submissions from
scratch in their own course folder: ours with `python -m grader grade --force` (parallel,
sandboxed, gradebook written), nbgrader with `nbgrader autograde <lab>` per lab (serial,
one kernel per notebook), out of the box and then with the kit's nbgrader_config.py (demo
cells skipped, as from the kit's root). Prints wall time and submissions per minute for
each, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grading_speed import autograde, timed  # noqa: E402  (bench/ is on sys.path when a bench script runs)

from grader.registry import LABS  # noqa: E402
from grader.release import generate  # noqa: E402
from tests.grader.catalogue import apply, lab01, lab02, lab03, lab04, lab05, lab06, lab07  # noqa: E402

CATALOGUES = {"01": lab01, "02": lab02, "03": lab03, "04": lab04, "05": lab05, "06": lab06, "07": lab07}


def variant(lab: str, kind: str, rng: random.Random) -> str:
    """A submission of ``kind``: a partial one is the reference with one of the lab's catalogued mistakes."""
    if kind == "partial":
        return json.dumps(apply(lab, rng.choice(CATALOGUES[lab].MISTAKES)))
    source = ROOT / ("labs" if kind == "untouched" else "solutions") / f"{LABS[lab]}.ipynb"
    nb = json.loads(source.read_text())
    if kind == "raising":
        nb["cells"].append(
            {"cell_type": "code", "execution_count": None, "id": "oops", "metadata": {}, "outputs": [], "source": "1/0"}
        )
    return json.dumps(nb)


def build_class(course: Path, students: int, seed: int) -> int:
    rng = random.Random(seed)
    kinds = ["complete", "complete", "partial", "partial", "untouched", "raising"]
    count = 0
    for i in range(students):
        for lab, stem in LABS.items():
            target = course / "submitted" / f"student{i:03d}" / stem / f"{stem}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(variant(lab, rng.choice(kinds), rng))
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="class-bench-") as scratch:
        ours_course, theirs_course = Path(scratch) / "ours", Path(scratch) / "nbgrader"
        submissions = build_class(ours_course, args.students, args.seed)
        shutil.copytree(ours_course / "submitted", theirs_course / "submitted")
        for lab in LABS:
            generate(lab, theirs_course)
        ours = timed([python, "-m", "grader", "grade", "--course", str(ours_course), "--force"], ROOT, 7200)
        print(f"make grade: {submissions} submissions in {ours:.1f} s; now nbgrader autograde...", flush=True)

        def autograde_all() -> float:
            return sum(autograde(stem, theirs_course, 7200) for stem in LABS.values())

        theirs = autograde_all()
        # nbgrader reads nbgrader_config.py where it runs: as from the kit's root, demos skipped
        shutil.copy(ROOT / "nbgrader_config.py", theirs_course / "nbgrader_config.py")
        print(f"nbgrader autograde: {theirs:.1f} s; again with the kit's nbgrader_config.py...", flush=True)
        configured = autograde_all()
    print(f"\nGrading a class of {args.students} students x {len(LABS)} labs = {submissions} submissions\n")
    print(f"{'grader':44} {'wall (s)':>9} {'submissions/min':>16}")
    rows = (
        ("make grade (the kit's engine)", ours),
        ("nbgrader autograde, out of the box", theirs),
        ("nbgrader autograde, kit's nbgrader_config.py", configured),
    )
    for name, seconds in rows:
        print(f"{name:44} {seconds:9.1f} {submissions / seconds * 60:16.1f}")
    print(f"\nmake grade's speed-up: {theirs / ours:.1f}x nbgrader as shipped, {configured / ours:.1f}x configured")
    print(f"rerun: python bench/class_grading.py --students {args.students}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
