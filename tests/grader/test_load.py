"""Does a grade depend on how busy the machine is? It must not."""

from __future__ import annotations

import os
import subprocess
import sys

from grader.runner import grade

from .helpers import SOLUTIONS, STEMS


def test_references_get_full_marks_with_every_core_busy() -> None:
    """One CPU-bound process per core (each stops by itself), and both reference solutions graded beside them."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 240\nwhile time.time() < end: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        results = grade([(lab, SOLUTIONS / f"{stem}.ipynb") for lab, stem in STEMS.items()])
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    for result in results:
        failed = [(c["id"], c["message"]) for c in result.checks if not c["passed"]]
        assert result.score == result.max_score, failed
        assert result.status == "ok", result.status
