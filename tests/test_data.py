"""Are the shipped data sets exactly what their seeded generator makes?"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_data_regenerates_identically(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "data/make_data.py", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in done.stdout
    for name in ("sentiment.jsonl", "queries.jsonl", "paraphrases.jsonl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / name).read_bytes(), name
