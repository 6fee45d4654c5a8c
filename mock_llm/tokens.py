"""Deterministic token counting that tracks real BPE counts for English.

Real tokenizers (tiktoken's cl100k/o200k) need vocabulary files from the network;
the mock must run offline. This splitter follows the same pre-tokenisation as GPT's
BPE (words with their leading space, digits in groups of up to three, runs of
punctuation) and then splits long words into sub-word pieces, which lands English
text near four characters per token, as real BPE does. It is pure Python with no
salted hashing, so the same text gives the same count in every process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_PIECE = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)\b| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+|[\s\S]", re.IGNORECASE
)

# Common words a BPE vocabulary holds whole, however long they are.
_WHOLE_UP_TO = 8
_SUBWORD = 4

# Per-message overhead of the chat format (OpenAI's published counting recipe).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3


def _split_word(piece: str) -> list[str]:
    core = piece.lstrip(" ")
    if len(core) <= _WHOLE_UP_TO:
        return [piece]
    lead = piece[: len(piece) - len(core)]
    # First piece keeps the leading space and a word stem; the rest are sub-words.
    parts = [lead + core[: _WHOLE_UP_TO - 1]]
    rest = core[_WHOLE_UP_TO - 1 :]
    parts.extend(rest[i : i + _SUBWORD] for i in range(0, len(rest), _SUBWORD))
    return parts


@lru_cache(maxsize=16384)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group()
        if piece.strip().isalpha():
            out.extend(_split_word(piece))
        else:
            out.append(piece)
    return tuple(out)


def tokenize(text: str) -> tuple[str, ...]:
    """Split ``text`` into token strings; ``"".join(tokenize(t)) == t``."""
    if len(text) > 4096:  # don't let huge one-off inputs crowd the cache
        return _tokenize_cached.__wrapped__(text)
    return _tokenize_cached(text)


def count_tokens(text: str) -> int:
    """Number of tokens in ``text``."""
    return len(tokenize(text))


def count_chat_tokens(messages: Sequence[tuple[str, str, str | None]]) -> int:
    """Prompt tokens of a chat request: ``(role, content, name)`` per message."""
    total = REPLY_PRIMING
    for role, content, name in messages:
        total += TOKENS_PER_MESSAGE + count_tokens(role) + count_tokens(content)
        if name:
            total += TOKENS_PER_NAME + count_tokens(name)
    return total


def truncate(text: str, max_tokens: int) -> tuple[str, bool]:
    """The first ``max_tokens`` tokens of ``text`` and whether anything was cut."""
    pieces = tokenize(text)
    if len(pieces) <= max_tokens:
        return text, False
    return "".join(pieces[:max_tokens]), True
