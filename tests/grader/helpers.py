from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"
STEMS = {
    "01": "01_production_api",
    "02": "02_semantic_cache",
    "03": "03_error_boundaries",
    "04": "04_cost_optimization",
    "05": "05_monitoring_dashboard",
    "06": "06_chaos_engineering",
    "07": "07_capstone",
}


def cli_check(*notebooks: Path, extra: tuple[str, ...] = (), timeout: float = 600) -> dict[str, Any]:
    """`python -m grader check --json` as a learner runs it; the parsed JSON."""
    args = [sys.executable, "-m", "grader", "check", "--json", *extra]
    for path in notebooks:
        args += ["--notebook", str(path)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def notebook_with(
    lab: str, tmp: Path, *, append: Sequence[str] = (), replace: dict[str, str] | None = None, name: str | None = None
) -> Path:
    """The reference solution of ``lab`` with code cells appended or text replaced: a fake submission."""
    nb = json.loads((SOLUTIONS / f"{STEMS[lab]}.ipynb").read_text())
    for old, new in (replace or {}).items():
        hits = 0
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if old in src:
                cell["source"] = src.replace(old, new)
                hits += 1
        assert hits, f"{old!r} not found"
    for code in append:
        nb["cells"].append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"x{len(nb['cells'])}",
                "metadata": {},
                "outputs": [],
                "source": code,
            }
        )
    folder = tmp / (name or f"sub{len(list(tmp.iterdir()))}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{STEMS[lab]}.ipynb"
    path.write_text(json.dumps(nb))
    return path


def by_id(lab_result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in lab_result["checks"]}
