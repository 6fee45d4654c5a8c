"""Run a kit function in a fresh interpreter, for tests that nothing depends on the process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def map_in_fresh_process(module: str, function: str, inputs: list[str], hash_seed: int) -> list[Any]:
    """``[module.function(x) for x in inputs]`` (numpy arrays as lists) in a new Python with another hash seed."""
    code = (
        f"import json, sys; from {module} import {function} as f; "
        "out = [f(x) for x in json.load(sys.stdin)]; "
        "print(json.dumps([getattr(y, 'tolist', lambda: y)() for y in out]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": str(hash_seed), "PATH": "", "PYTHONIOENCODING": "utf-8"},
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    values: list[Any] = json.loads(result.stdout)
    return values
