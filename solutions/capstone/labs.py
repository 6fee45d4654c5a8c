"""The labs' reference code, loaded from the solution notebooks: the one source of each piece.

The grader's own loader runs each notebook's graded cells (not its demos, not its checks)
in a module of its own, exactly as it loads a learner's notebook to grade it. Nothing
here is a copy of lab code: change a lab's reference solution and the capstone changes
with it. A notebook whose cells fail to run stops the service at start-up, with the cell.
"""

from __future__ import annotations

import contextlib
import io
import threading
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from grader.loader import REFERENCE_LABEL, load

SOLUTIONS = Path(__file__).resolve().parent.parent
NOTEBOOKS = {
    "01": "01_production_api.ipynb",
    "02": "02_semantic_cache.ipynb",
    "03": "03_error_boundaries.ipynb",
    "04": "04_cost_optimization.ipynb",
    "05": "05_monitoring_dashboard.ipynb",
}
_lock = threading.Lock()


class LabLoadError(RuntimeError):
    """A reference notebook did not load cleanly."""


@cache
def _load(lab: str) -> SimpleNamespace:
    path = SOLUTIONS / NOTEBOOKS[lab]
    # Lab 04's set-up cell prints its baseline; the service's stdout carries JSON logs only.
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = load(path, module_name=f"capstone_lab{lab}", label=REFERENCE_LABEL)
    if loaded.errors:
        first = loaded.errors[0]
        raise LabLoadError(f"{path.name}: cell {first.index} failed: {first.error}")
    return SimpleNamespace(**{k: v for k, v in loaded.namespace.items() if not k.startswith("__")})


def lab(number: str) -> Any:
    """Lab ``number``'s reference namespace ("01" ... "05"), loaded once per process."""
    with _lock:
        return _load(number)


def load_all() -> None:
    """Load every lab the service uses (at start-up, so the first request pays nothing)."""
    for number in NOTEBOOKS:
        lab(number)
