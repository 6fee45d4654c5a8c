"""Do hostile or broken submissions cost their own lab only, with a clear message?"""

from __future__ import annotations

import json
import time
from pathlib import Path

from grader.runner import Limits, grade

from .helpers import SOLUTIONS, STEMS, notebook_with

COSINE_DOC = '    """Cosine of the angle between two vectors; 0.0 when either is the zero vector."""'


def in_cosine(code: str) -> dict[str, str]:
    """Replace-map that puts ``code`` at the top of cosine_similarity's body."""
    return {COSINE_DOC: COSINE_DOC + "\n" + code}


FAST = Limits(wall_seconds=15, check_seconds=4, memory_mb=2048)


def grade_pair(hostile: Path, lab: str, *, with_other: bool = False) -> tuple[dict, dict | None]:
    """Grade the hostile notebook, with the other lab's reference solution in the same run if asked."""
    if not with_other:
        return grade([(lab, hostile)], FAST)[0].as_dict(), None
    other = "01" if lab == "02" else "02"
    results = grade([(lab, hostile), (other, SOLUTIONS / f"{STEMS[other]}.ipynb")], FAST)
    bad, good = results[0].as_dict(), results[1].as_dict()
    assert good["score"] == good["max_score"], "another lab's score was hurt"
    return bad, good


def test_infinite_loop_at_top_level(tmp_path: Path) -> None:
    started = time.monotonic()
    bad, _ = grade_pair(notebook_with("02", tmp_path, append=["while True:\n    pass"]), "02", with_other=True)
    assert bad["score"] == 0 and "longer than" in bad["error"]
    assert time.monotonic() - started < 60


def test_infinite_loop_in_one_function_costs_its_checks(tmp_path: Path) -> None:
    path = notebook_with(
        "02",
        tmp_path,
        replace=in_cosine("    while True:\n        pass"),
    )
    bad, _ = grade_pair(path, "02")
    checks = {c["id"]: c for c in bad["checks"]}
    assert "Timed out" in checks["02-cosine-fixed"]["message"]
    assert checks["02-lru"]["passed"], "checks that do not call it keep their points"


def test_sys_exit_and_os_exit(tmp_path: Path) -> None:
    exit_in_cell = notebook_with("02", tmp_path, append=["import sys\nsys.exit(3)"])
    bad, _ = grade_pair(exit_in_cell, "02")
    assert bad["score"] == bad["max_score"], "sys.exit in a cell is a cell error, the rest still loads"
    assert any("SystemExit" in e["error"] for e in bad["cell_errors"])

    os_exit_at_load = notebook_with("02", tmp_path, append=["import os\nos._exit(7)"])
    bad, _ = grade_pair(os_exit_at_load, "02", with_other=True)
    assert bad["score"] == 0 and "exited with code 7" in bad["error"]

    os_exit_in_function = notebook_with(
        "02",
        tmp_path,
        replace=in_cosine("    import os\n    os._exit(0)"),
    )
    bad, _ = grade_pair(os_exit_in_function, "02")
    checks = {c["id"]: c for c in bad["checks"]}
    assert "ended the process" in checks["02-cosine-fixed"]["message"]
    assert checks["02-ttl"]["passed"]


def test_segfault(tmp_path: Path) -> None:
    bad, _ = grade_pair(
        notebook_with("02", tmp_path, append=["import ctypes\nctypes.string_at(0)"]), "02", with_other=True
    )
    assert bad["score"] == 0 and "SIGSEGV" in bad["error"]


def test_memory_bomb(tmp_path: Path) -> None:
    in_cell = notebook_with("02", tmp_path, append=["hog = bytearray(8 * 1024**3)"])
    bad, _ = grade_pair(in_cell, "02", with_other=True)
    assert any("MemoryError" in e["error"] for e in bad["cell_errors"])
    in_function = notebook_with(
        "02",
        tmp_path,
        replace=in_cosine("    hog = [0] * (10**9)"),
    )
    bad, _ = grade_pair(in_function, "02")
    checks = {c["id"]: c for c in bad["checks"]}
    assert not checks["02-cosine-fixed"]["passed"] and "Memory" in checks["02-cosine-fixed"]["message"]
    assert checks["02-lru"]["passed"]


def test_output_flood(tmp_path: Path) -> None:
    flood = notebook_with("02", tmp_path, append=["for _ in range(300):\n    print('x' * 1_000_000)"])
    started = time.monotonic()
    results = grade([("02", flood)], FAST)
    assert results[0].score == results[0].max_score
    assert len(results[0].output) <= 20_000
    assert time.monotonic() - started < 60


def test_invalid_notebook_json(tmp_path: Path) -> None:
    path = tmp_path / "02_semantic_cache.ipynb"
    path.write_text('{"cells": [ this is not json')
    bad, _ = grade_pair(path, "02")
    assert bad["score"] == 0 and "not valid notebook JSON" in bad["error"]
    not_a_notebook = tmp_path / "x" / "02_semantic_cache.ipynb"
    not_a_notebook.parent.mkdir()
    not_a_notebook.write_text(json.dumps([1, 2, 3]))
    bad, _ = grade_pair(not_a_notebook, "02")
    assert "not a Jupyter notebook" in bad["error"]


def test_monkeypatching_the_grader_or_numpy_is_caught(tmp_path: Path) -> None:
    """A 'solution' that passes by patching the checks, the reference or numpy gets zero, and says so."""
    cheats = {
        "grader": "import grader.checks.lab02 as g\ng.threshold = lambda learner, reference: None",
        "registry": "import grader.registry as r\nr.CheckFailed = type('Nope', (Exception,), {})",
        "numpy": "import numpy\nnumpy.allclose = lambda *a, **k: True",
        "builtins": "import builtins\nbuiltins.len = lambda x: 3",
    }
    for name, cheat in cheats.items():
        bad, _ = grade_pair(notebook_with("02", tmp_path, append=[cheat], name=name), "02")
        assert bad["score"] == 0, name
        assert "modified the grader" in bad["error"], name
