"""Do embeddings have the shape, stability and neighbourhoods a semantic cache needs?"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mock_llm.catalogue import EMBEDDING_DIMENSIONS
from mock_llm.embeddings import embed

ROOT = Path(__file__).resolve().parents[2]


def cos(a: str, b: str) -> float:
    va, vb = embed(a), embed(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


@given(st.text(max_size=200))
def test_fixed_dimension_unit_norm(text: str) -> None:
    vector = embed(text)
    assert vector.shape == (EMBEDDING_DIMENSIONS,)
    assert np.all(np.isfinite(vector))
    assert abs(np.linalg.norm(vector) - 1) < 1e-9


def test_identical_across_processes() -> None:
    texts = ["What's the weather today?", "Tell me about Python", "", "Refund order 12345"]
    code = (
        "import json,sys; from mock_llm.embeddings import embed; "
        "print(json.dumps([embed(t).tolist() for t in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "999", "PATH": ""},
        check=True,
        cwd=ROOT,
    )
    assert np.array_equal(np.array(json.loads(out.stdout)), np.array([embed(t) for t in texts]))


def test_handout_cases_at_085() -> None:
    """The handout's semantic-cache test, with the handout's threshold."""
    cached = ["What's the weather today?", "How's the weather?"]
    for query in ["What is the weather?", "Weather today?"]:
        assert max(cos(query, c) for c in cached) >= 0.85, query
    assert cos("Tell me about Java", "Tell me about Python") < 0.85


def test_neighbourhoods_on_the_labelled_pairs() -> None:
    """Paraphrases sit above unrelated pairs, and hard negatives sit between them on average."""
    with open(ROOT / "data" / "paraphrases.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    by_label: dict[str, list[float]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(cos(row["a"], row["b"]))
    para, hard, other = (np.median(by_label[k]) for k in ("paraphrase", "hard_negative", "unrelated"))
    assert para > 0.85 > hard > 0.5 > other
    assert max(by_label["unrelated"]) < 0.6
