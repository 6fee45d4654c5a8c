"""Are token counts deterministic across processes and close to real BPE for English?"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mock_llm.tokens import count_chat_tokens, count_tokens, tokenize, truncate

DATA = Path(__file__).resolve().parents[2] / "data"


SETS = [("sentiment.jsonl", "text"), ("queries.jsonl", "query"), ("queries.jsonl", "reference_answer")]


def load(name: str, field: str) -> list[str]:
    with open(DATA / name, encoding="utf-8") as fh:
        return [json.loads(line)[field] for line in fh]


def kit_texts() -> list[str]:
    return [text for name, field in SETS for text in load(name, field)]


def test_within_20_percent_of_four_chars_per_token() -> None:
    """On each of the kit's text sets, tokens are within 20% of characters / 4."""
    for name, field in SETS:
        texts = load(name, field)
        chars, tokens = sum(map(len, texts)), sum(map(count_tokens, texts))
        assert abs(tokens - chars / 4) <= 0.2 * chars / 4, (name, field, chars / tokens)


def test_same_count_in_another_process() -> None:
    """No salted hashing: a fresh interpreter (with a different hash seed) agrees."""
    texts = kit_texts()[:200]
    here = [count_tokens(t) for t in texts]
    code = (
        "import json,sys; from mock_llm.tokens import count_tokens; "
        "print(json.dumps([count_tokens(t) for t in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        check=True,
        cwd=DATA.parent,
    )
    assert json.loads(out.stdout) == here


@given(st.text(max_size=300))
def test_tokens_rejoin_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text
    assert count_tokens(text) == len(tokenize(text))


@given(st.text(max_size=200), st.integers(1, 50))
def test_truncate_keeps_a_prefix_of_at_most_n_tokens(text: str, n: int) -> None:
    cut, was_cut = truncate(text, n)
    assert text.startswith(cut)
    assert count_tokens(cut) <= n
    assert was_cut == (count_tokens(text) > n)


def test_known_counts() -> None:
    """Short common words are one token each, as in real BPE; labels are single tokens."""
    assert count_tokens("What is the weather today?") == 6
    for label in ("Positive", "Negative", "Neutral"):
        assert tokenize(label) == (label,)
    assert count_tokens("") == 0


def test_chat_overhead() -> None:
    """OpenAI's recipe: 3 per message, 1 per name, 3 to prime the reply."""
    content = count_tokens("hello there")
    assert count_chat_tokens([("user", "hello there", None)]) == 3 + 3 + 1 + content
    assert count_chat_tokens([("user", "hello there", "bob")]) == 3 + 3 + 1 + content + 1 + 1
