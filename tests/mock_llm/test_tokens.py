"""Are token counts OpenAI's, in every script, deterministic, and is the fallback close?

Expectations come from outside the mock: token ids published in OpenAI's cookbook, and
tiktoken's own cl100k_base (the vocabulary OpenAI publishes) for the fallback.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import tiktoken
from hypothesis import given
from hypothesis import strategies as st

from mock_llm import tokens as tok
from mock_llm.tokens import count_chat_tokens, count_tokens, decode, encode, tokenize, truncate

from .fresh import map_in_fresh_process

DATA = Path(__file__).resolve().parents[2] / "data"


@functools.cache
def reference() -> tiktoken.Encoding:
    """cl100k_base as tiktoken itself loads it (its pattern, its special tokens, its hash check).

    The kit only puts OpenAI's published file in tiktoken's cache, in a folder of its own.
    """
    folder = Path(tempfile.mkdtemp(prefix="tiktoken-cache-"))
    tok.install_tiktoken_cache(folder)
    return tiktoken.get_encoding("cl100k_base")


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
    assert map_in_fresh_process("mock_llm.tokens", "count_tokens", texts, hash_seed=12345) == here


@given(st.text(max_size=300))
def test_tokens_rejoin_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text
    # A piece holds whole characters, so an emoji's three tokens share one piece.
    assert len(tokenize(text)) <= count_tokens(text) <= 4 * len(text.encode())


@given(st.text(max_size=300))
def test_token_ids_decode_to_the_text(text: str) -> None:
    assert decode(encode(text)) == text
    assert len(encode(text)) == count_tokens(text)


def test_cookbook_ids() -> None:
    """The ids OpenAI's cookbook prints for cl100k_base ("How to count tokens with tiktoken")."""
    assert tok.BACKEND.startswith("tiktoken")
    assert encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert decode([83, 1609, 5963, 374, 2294, 0]) == "tiktoken is great!"


@pytest.mark.parametrize("ids", [[-1], [100277], [5, 2**40]])
def test_ids_outside_the_vocabulary_are_named(ids: list[int]) -> None:
    with pytest.raises(tok.InvalidTokens, match=str(ids[-1])):
        decode(ids)


def test_runs_and_scripts_are_not_one_token() -> None:
    """The audit's cases: a run of "!" was one token however long; CJK was undercounted by 75%."""
    assert count_tokens("!" * 1_000_000) == 125_000
    assert count_tokens("🔥🔥🔥") == 9
    assert count_tokens("今日の天気は？") == 7
    assert count_tokens("Как дела?") == 5


def multilingual() -> dict[str, list[str]]:
    by_script: dict[str, list[str]] = {}
    with open(DATA / "multilingual.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by_script.setdefault(row["script"], []).append(row["text"])
    return by_script


def test_fallback_within_25_percent_of_cl100k_in_every_script() -> None:
    """Where tiktoken cannot install, the pure-Python count stays within 25% per script."""
    scripts = multilingual()
    assert len(scripts) >= 10
    for script, texts in scripts.items():
        exact = sum(len(reference().encode_ordinary(t)) for t in texts)
        approx = sum(tok.approximate_count(t) for t in texts)
        assert abs(approx - exact) <= 0.25 * exact, (script, approx, exact)
    assert tok.approximate_count("!" * 1_000_000) >= 100_000


@given(st.text(max_size=200), st.integers(1, 50))
def test_fallback_truncate_keeps_a_prefix(text: str, n: int) -> None:
    assert "".join(piece for piece, _ in tok._approx_pieces(text)) == text
    cut, was_cut = tok.approximate_truncate(text, n)
    assert text.startswith(cut)
    assert tok.approximate_count(cut) <= n
    assert was_cut == (tok.approximate_count(text) > n)


@given(st.text(max_size=200), st.integers(1, 50))
def test_truncate_keeps_a_prefix_of_at_most_n_tokens(text: str, n: int) -> None:
    cut, was_cut = truncate(text, n)
    assert text.startswith(cut)
    assert was_cut == (count_tokens(text) > n)
    assert count_tokens(cut) <= n
    if was_cut:  # nothing more is cut than the first n tokens leave over (a split character at most)
        assert len(decode(encode(text)[:n]).encode()) - len(cut.encode()) < 4


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


@given(st.text(max_size=200))
def test_counts_and_ids_are_tiktokens(text: str) -> None:
    assert count_tokens(text) == len(reference().encode_ordinary(text))
    assert encode(text) == reference().encode_ordinary(text)


# Texts where the segment counter's cut points are tested hardest: spaces after every kind of
# character (letters, digits, punctuation, other whitespace, other scripts, emoji) and runs
# of spaces, at the start, inside and at the end.
_PIECES = st.sampled_from(
    [
        "a",
        "Z",
        "word",
        "it's",
        "'ll",
        "5",
        "123",
        "4567",
        ".",
        "?!",
        '"',
        "(",
        "\n",
        "\r\n",
        "\t",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\x1c",
        "\x85",
        "é",
        "日本語",
        "Привет",
        "🔥",
        "👍🏽",
        "<|endoftext|>",
    ]
)
_SPACES = st.sampled_from(["", " ", " ", " ", "  ", "   ", "\n ", " \n"])


@given(st.lists(st.tuples(_PIECES, _SPACES), max_size=40))
def test_counts_of_spaced_texts_are_tiktokens(parts: list[tuple[str, str]]) -> None:
    # New texts are counted by segments cut at spaces (tokens._count_by_segments): the sum
    # must equal tiktoken's count of the whole text, whatever surrounds each space.
    text = "".join(piece + space for piece, space in parts)
    assert tok._count_by_segments(text) == len(reference().encode_ordinary(text)), repr(text)


# Texts where digit runs are counted as "0" plus their extra tokens (tokens._numbers_as_zero):
# runs of every length beside letters, punctuation, every kind of whitespace and other
# numeric characters (superscripts, fractions, Roman numerals, Arabic-Indic and full-width
# digits, CJK numerals), which must either be cut exactly or left to tiktoken.
_NUMBER_PIECES = st.sampled_from(
    [
        "0",
        "7",
        "42",
        "007",
        "1234",
        "9999999",
        "#",
        "$",
        ".",
        ",",
        "-",
        ")",
        "(",
        "'s",
        "a",
        "ab",
        "Order",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
        "\u00a0",
        "\u3000",
        "²",
        "½",
        "Ⅻ",
        "٣",
        "０",
        "一",
        "万",
        "日本",
        "🔥",
        "é",
    ]
)


@given(st.lists(_NUMBER_PIECES, max_size=30))
def test_counts_around_numbers_are_tiktokens(parts: list[str]) -> None:
    text = "".join(parts)
    expected = len(reference().encode_ordinary(text))
    assert tok._count_by_segments(text) == expected, repr(text)
    plain, extra = tok._numbers_as_zero(text)
    assert len(reference().encode_ordinary(plain)) + extra == expected, repr(text)


def test_one_off_numbers_are_not_remembered() -> None:
    # Every request of templated traffic carries a new number: the segment tables must keep
    # the text around it, never one entry per number.
    before = len(tok._SPACED) + len(tok._WHOLE)
    for i in range(2000):
        text = f"Where is order #{100000 + i}? Ticket {i}a, total ${i}.99"
        assert tok._count_by_segments(text) == len(reference().encode_ordinary(text))
    assert len(tok._SPACED) + len(tok._WHOLE) - before < 20


@pytest.mark.parametrize(("name", "field"), SETS)
def test_segment_counts_of_the_kits_texts_are_tiktokens(name: str, field: str) -> None:
    with open(DATA / name, encoding="utf-8") as fh:
        texts = [json.loads(line)[field] for line in fh]
    prompts = [f"Classify the sentiment: {t} #{i}\n\nSentiment:" for i, t in enumerate(texts)]
    for text in texts + prompts:
        assert tok._count_by_segments(text) == len(reference().encode_ordinary(text)), repr(text)


def test_segment_tables_stay_bounded_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tok, "_MAX_SEGMENTS", 50)
    texts = [f"order {i} of batch {i * 7} arrived late, again {i}" for i in range(400)]
    for text in texts:
        assert tok._count_by_segments(text) == len(reference().encode_ordinary(text))
    assert len(tok._SPACED) <= 50 and len(tok._WHOLE) <= 50
    long_word = "x" * (tok._SEGMENT_CHARS + 1)
    assert tok._count_by_segments("a " + long_word) == len(reference().encode_ordinary("a " + long_word))
    assert long_word not in tok._SPACED  # counted, not remembered


def test_endoftext_is_one_token_in_a_legacy_prompt() -> None:
    assert tok.count_prompt_tokens("<|endoftext|>") == 1
    assert tok.count_prompt_tokens("Hello<|endoftext|>world") == len(
        reference().encode("Hello<|endoftext|>world", allowed_special="all")
    )


def test_unused_ids_are_named_plainly() -> None:
    with pytest.raises(tok.InvalidTokens, match=r"^token id 100256 at position 1 is not in the vocabulary"):
        decode([9906, 100256])
    assert decode([100257]) == "<|endoftext|>"


def test_tiktoken_works_offline_from_the_kits_copy(tmp_path: Path) -> None:
    """langchain and learners call tiktoken.get_encoding / encoding_for_model: no network needed."""
    code = (
        "import sys, tiktoken.load\n"
        "def offline(*a, **k): raise SystemExit('tiktoken tried the network')\n"
        "tiktoken.load.read_file = offline\n"
        "from mock_llm.tokens import install_tiktoken_cache\n"
        "install_tiktoken_cache(sys.argv[1])\n"
        "import tiktoken\n"
        "print(tiktoken.encoding_for_model('gpt-4').encode('tiktoken is great!'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        check=True,
        cwd=DATA.parent,
        timeout=120,
    )
    assert out.stdout.strip() == "[83, 1609, 5963, 374, 2294, 0]", out.stderr
