"""The kit's labelled data sets under ``data/`` (made by ``data/make_data.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name: str) -> list[dict[str, Any]]:
    """Rows of ``data/<name>`` (JSON lines): ``sentiment.jsonl``, ``queries.jsonl``, ``paraphrases.jsonl``."""
    with open(DATA / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
