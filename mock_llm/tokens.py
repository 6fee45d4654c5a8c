"""Token counting, splitting and decoding exactly as OpenAI's API does it, offline.

The mock counts tokens with OpenAI's own BPE (``tiktoken``) and the ``cl100k_base``
vocabulary, which the kit ships in ``vocab/`` because tiktoken would otherwise download
it on first use, and a workshop laptop may have no network. The file is OpenAI's
published ``cl100k_base.tiktoken`` (gzip-compressed), checked against the SHA-256 that
tiktoken itself pins, so a damaged copy is refused rather than miscounted.

Counts are therefore exact for ``gpt-4``, ``gpt-3.5-turbo`` and the ``text-embedding-3``
models in every script: 1,000,000 ``"!"`` is 125,000 tokens, as the API bills it, and
token-array inputs (``[9906, 1917]``) decode to the text they encode.

If tiktoken cannot be imported (a platform without a wheel and without a Rust compiler),
a pure-Python approximation takes over: GPT's pre-tokenisation, sub-words for long
words, and per-script byte rates for other scripts, within 25% of cl100k on every
script of ``data/multilingual.jsonl``. ``BACKEND`` says which is in use.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import math
import operator
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

VOCAB = Path(__file__).with_name("vocab") / "cl100k_base.tiktoken.gz"
# The hash tiktoken pins for cl100k_base.tiktoken (tiktoken_ext/openai_public.py).
VOCAB_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# cl100k_base's pre-tokeniser pattern and special tokens (tiktoken_ext/openai_public.py).
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
VOCAB_SIZE = 100277  # ids 0..100276; 100256 and 100261..100275 are unused
UNUSED_IDS = frozenset({100256, *range(100261, 100276)})
ENDOFTEXT = "<|endoftext|>"

# Per-message overhead of the chat format (OpenAI's published counting recipe).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3


class InvalidTokens(ValueError):
    """A token array holds ids that no text encodes to."""


def _load_encoding() -> tiktoken.Encoding | None:
    try:
        import tiktoken
    except ImportError:  # pragma: no cover - only where tiktoken has no wheel
        return None
    raw = gzip.decompress(VOCAB.read_bytes())
    if hashlib.sha256(raw).hexdigest() != VOCAB_SHA256:
        raise RuntimeError(f"{VOCAB} is damaged (its SHA-256 differs from OpenAI's); reinstall the kit.")
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.splitlines() if line)}
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=CL100K_SPECIAL
    )


HAVE_TIKTOKEN = importlib.util.find_spec("tiktoken") is not None
BACKEND = "tiktoken cl100k_base" if HAVE_TIKTOKEN else "approximate"


@functools.cache
def _encoding() -> tiktoken.Encoding:
    """cl100k_base, loaded on first use (a tenth of a second) rather than when the kit is imported."""
    encoding = _load_encoding()
    assert encoding is not None, "only called when tiktoken is installed"
    return encoding


_SHORT = 4096  # texts up to this length are cached; longer one-off inputs are not


# --- exact: tiktoken -------------------------------------------------------------------------


def _exact_ids(text: str) -> list[int]:
    return _encoding().encode_ordinary(text)


def _exact_pieces(text: str) -> tuple[str, ...]:
    """Tokens as text; a character split across tokens (CJK, emoji) stays whole in one piece."""
    pieces: list[str] = []
    pending = b""
    for chunk in _encoding().decode_tokens_bytes(_exact_ids(text)):
        pending += chunk
        try:
            pieces.append(pending.decode("utf-8"))
        except UnicodeDecodeError:
            continue
        pending = b""
    if pending:  # unreachable for valid text: kept so no character is ever dropped
        pieces.append(pending.decode("utf-8", "replace"))
    return tuple(pieces)


def _exact_truncate(text: str, max_tokens: int) -> tuple[str, bool]:
    ids = _exact_ids(text)
    if len(ids) <= max_tokens:
        return text, False
    # A character whose bytes straddle the cut is left out, as the API's streamed text does.
    cut = b"".join(_encoding().decode_tokens_bytes(ids[:max_tokens]))
    return cut.decode("utf-8", "ignore"), True


# --- approximate: pure Python ----------------------------------------------------------------

_PIECE = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)\b| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+|[\s\S]", re.IGNORECASE
)
_WHOLE_UP_TO = 8  # common English words a BPE vocabulary holds whole
_SUBWORD = 4
_LONG_RUNS = frozenset(".-=_*#/~")  # cl100k holds long runs of these: "-" x 48 is one token


def _chars_per_token(char: str) -> float:
    """Characters per cl100k token in words of ``char``'s script (measured on the multilingual set)."""
    code = ord(char)
    if code < 0x250:  # Latin with accents: words split around the accented letters
        return 2.7
    if code < 0x370 or 0x1E00 <= code < 0x1F00:  # combining marks, Latin extended additional
        return 1.5
    if code < 0x400:  # Greek: one token a letter, about
        return 1.0
    if code < 0x530:  # Cyrillic
        return 2.3
    if code < 0x900:  # Armenian, Hebrew, Arabic, Syriac, Thaana
        return 1.3
    if 0xAC00 <= code < 0xD7B0:  # Hangul syllables: often two tokens each
        return 0.7
    return 1.0  # Indic scripts, Thai, kana, CJK ideographs


def _even_pieces(piece: str, tokens: int) -> list[tuple[str, int]]:
    """``piece`` cut into ``tokens`` pieces of about equal length (fewer if it is shorter)."""
    parts = min(tokens, len(piece))
    step = len(piece) / parts
    cuts = [piece[round(i * step) : round((i + 1) * step)] for i in range(parts)]
    extra = tokens - parts  # more tokens than characters: the last piece carries them
    return [(cut, 1 + (extra if i == parts - 1 else 0)) for i, cut in enumerate(cuts)]


def _approx_split(piece: str) -> list[tuple[str, int]]:
    core = piece.lstrip(" ")
    if not core or core.isspace() or core.isdigit():
        return [(piece, 1)]
    if core.isascii() and core.isalpha():
        if len(core) <= _WHOLE_UP_TO:
            return [(piece, 1)]
        lead = piece[: len(piece) - len(core)]
        rest = core[_WHOLE_UP_TO - 1 :]
        parts = [lead + core[: _WHOLE_UP_TO - 1]] + [rest[i : i + _SUBWORD] for i in range(0, len(rest), _SUBWORD)]
        return [(part, 1) for part in parts]
    if core.isascii():  # punctuation: runs of one mark merge far, mixed marks in pairs
        same = len(set(core)) == 1
        run = (16 if core[0] in _LONG_RUNS else 8) if same else 2
        return _even_pieces(piece, math.ceil(len(core) / run))
    if core[0].isalpha():
        return _even_pieces(piece, max(1, round(len(core) / _chars_per_token(core[-1]))))
    # Symbols and emoji, a piece each: a BMP symbol is about a token, an emoji (outside the BMP) three.
    lead = piece[: len(piece) - len(core)]
    pieces = [(c, 1 if ord(c) < 0x10000 else 3) for c in core]
    return [(lead + pieces[0][0], pieces[0][1]), *pieces[1:]]


def _approx_pieces(text: str) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for match in _PIECE.finditer(text):
        out.extend(_approx_split(match.group()))
    return tuple(out)


# --- the interface -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=16384)
def _pieces_cached(text: str) -> tuple[str, ...]:
    if HAVE_TIKTOKEN:
        return _exact_pieces(text)
    return tuple(piece for piece, _ in _approx_pieces(text))


@functools.lru_cache(maxsize=65536)
def _count_cached(text: str) -> int:
    return _count_by_segments(text) if HAVE_TIKTOKEN else approximate_count(text)


# Counting a text never seen before (every prompt of real traffic) by pieces that recur.
#
# cl100k's pre-tokeniser (CL100K_PATTERN) cuts the text into pieces and BPE encodes each
# piece on its own, so a text's count is the sum of its pieces' counts. Wherever a space
# follows a character that is not whitespace, a piece ends: no alternative of the pattern
# matches a non-space character followed by a space (letters, digits and punctuation runs
# all stop before it, and every whitespace alternative starts with whitespace), and the
# only look-ahead, in ``\s+(?!\S)`` and ``\s++$``, looks no further than the next
# non-space character. So a text cut at every such space counts exactly as the whole,
# and its segments (" the", " sentiment:", " refund.") recur across texts: each is
# encoded once and remembered. ``str.isspace`` holds for every Unicode White_Space
# character, which is what the pattern's ``\s`` matches, so the test is never too eager.
# tests/mock_llm/test_tokens.py checks the sum against tiktoken on the kit's texts, every
# script and generated text.
_MAX_SEGMENTS = 200_000  # per table, about 20 MB at most; a full table starts over
_SEGMENT_CHARS = 64  # longer segments (URLs, unspaced scripts) are counted, not remembered


class _SegmentCounts(dict[str, int]):
    """Token counts of ``prefix + key``; a key not seen before is counted on lookup."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, key: str) -> int:
        if _HAS_DIGIT(key):
            plain, extra = _numbers_as_zero(key)
            if plain != key:  # "#1042\n\nSentiment:" counts as "#0\n\nSentiment:", which is remembered
                return self[plain] + extra
        count = len(_exact_ids(self.prefix + key))
        if len(key) <= _SEGMENT_CHARS:
            if len(self) >= _MAX_SEGMENTS:
                self.clear()
            self[key] = count
        return count


# Numbers are the open vocabulary of real traffic (order numbers, ticket ids, amounts), so a
# text counts as the same text with each run of digits written as one "0", plus the run's
# extra tokens. Only ``\p{N}{1,3}+`` matches a digit: a run of ASCII digits is pieces of
# three digits from the left, each one cl100k token (all 1,110 strings of one to three
# digits are), and the pieces around it see only that a non-space, non-letter character
# follows or precedes them, which "0" is too. A run next to another numeric character
# ("²", "٣") would share a piece with it and is left as it is.
_DIGITS = re.compile(r"[0-9]+")
_HAS_DIGIT = re.compile(r"[0-9]").search
_MULTI_PIECE_RUNS = re.compile(r"[0-9]{4,}").findall  # digit runs of more than one piece
_NUMBER_BESIDE_OTHER_SCRIPT = re.compile(r"[^\x00-\x7f][0-9]|[0-9][^\x00-\x7f]").search


def _numeric(char: str) -> bool:
    """Whether ``char`` may be in cl100k's ``\\p{N}``: an ASCII digit, or any non-ASCII number (to be safe)."""
    return char.isdigit() if char.isascii() else char.isnumeric() or unicodedata.category(char)[0] == "N"


def _numbers_as_zero(text: str) -> tuple[str, int]:
    """``text`` with each digit run that stands apart written as "0", and how many tokens that removed."""
    if not _NUMBER_BESIDE_OTHER_SCRIPT(text):  # the common case, all in C: no neighbour of a run is numeric
        return _DIGITS.sub("0", text), sum((len(run) - 1) // 3 for run in _MULTI_PIECE_RUNS(text))
    extra = 0

    def zero(match: re.Match[str]) -> str:
        nonlocal extra
        i, j = match.span()
        if (i and _numeric(text[i - 1])) or (j < len(text) and _numeric(text[j])):
            return match.group()
        extra += (j - i - 1) // 3
        return "0"

    return _DIGITS.sub(zero, text), extra


_WHOLE = _SegmentCounts("")  # segments as they are: a text's first, or one of the irregular path
_SPACED = _SegmentCounts(" ")  # " " + key: every later segment of a regular text
_LAST = operator.itemgetter(-1)


def _count_by_segments(text: str) -> int:
    """``len(encode_ordinary(text))``, summed over segments cut where pieces must end."""
    chunks = text.split(" ")
    if len(chunks) == 1:
        return _WHOLE[text]
    inner = chunks[:-1]
    # The common case, checked in C: every space follows a character that is not whitespace
    # (no chunk before a space is empty or ends in whitespace: "a  b", "a\n b", " a").
    if all(inner):
        lasts = "".join(map(_LAST, inner))
        if lasts.split() == [lasts]:  # no whitespace among them
            return _WHOLE[chunks[0]] + sum(map(_SPACED.__getitem__, chunks[1:]))
    total = 0
    pending = chunks[0]
    for chunk in chunks[1:]:
        if pending and not pending[-1].isspace():  # a piece ends before this space
            total += _WHOLE[pending]
            pending = " " + chunk
        else:
            pending += " " + chunk
    return total + _WHOLE[pending]


def tokenize(text: str) -> tuple[str, ...]:
    """Split ``text`` into tokens as strings; ``"".join(tokenize(t)) == t``.

    A character that BPE splits over several tokens (some CJK, most emoji) stays whole in
    one piece, so a piece can hold more than one token: count with :func:`count_tokens`.
    """
    if len(text) > _SHORT:
        return _pieces_cached.__wrapped__(text)
    return _pieces_cached(text)


def count_tokens(text: str) -> int:
    """Number of tokens in ``text`` (exact cl100k_base when tiktoken is installed)."""
    if len(text) > _SHORT:  # one-off long inputs: counted whole, remembered nowhere
        return len(_exact_ids(text)) if HAVE_TIKTOKEN else approximate_count(text)
    return _count_cached(text)


def encode(text: str) -> list[int]:
    """The cl100k_base token ids of ``text`` (the approximation has no ids: it raises)."""
    if not HAVE_TIKTOKEN:  # pragma: no cover - only without tiktoken
        raise RuntimeError("token ids need tiktoken, which is not installed")
    return _exact_ids(text)


def decode(ids: Sequence[int]) -> str:
    """The text that the token ids ``ids`` encode; :class:`InvalidTokens` names a bad id."""
    for position, token in enumerate(ids):
        if not 0 <= token < VOCAB_SIZE or token in UNUSED_IDS:
            raise InvalidTokens(
                f"token id {token} at position {position} is not in the vocabulary "
                f"(0-{VOCAB_SIZE - 1}, except {min(UNUSED_IDS)} and {min(UNUSED_IDS - {100256})}-{max(UNUSED_IDS)})"
            )
    if not HAVE_TIKTOKEN:  # pragma: no cover - only without tiktoken
        # No vocabulary: each id becomes a stable made-up word (counts stay right; meaning is lost).
        return " ".join(f"t{t}" for t in ids)
    raw: bytes = _encoding().decode_bytes(list(ids))
    return raw.decode("utf-8", "replace")


def count_prompt_tokens(text: str) -> int:
    """Tokens of a legacy completion prompt, where ``<|endoftext|>`` is the one special token it is."""
    parts = text.split(ENDOFTEXT)
    return sum(count_tokens(part) for part in parts) + len(parts) - 1


# tiktoken's own loader looks for cl100k_base in its cache under this name (tiktoken/load.py).
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def install_tiktoken_cache(directory: str | os.PathLike[str] | None = None) -> Path:
    """Put OpenAI's cl100k_base where tiktoken looks for it, so that it never needs the network.

    ``tiktoken.get_encoding("cl100k_base")``, ``tiktoken.encoding_for_model("gpt-4")`` and
    libraries built on them (langchain's ``OpenAIEmbeddings``) then work offline: tiktoken
    reads the kit's copy from its cache and checks it against the hash it pins. Sets
    ``TIKTOKEN_CACHE_DIR`` for this process when ``directory`` is given or none was set.
    Returns the cached file.
    """
    chosen = directory or os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    folder = Path(chosen) if chosen else Path(tempfile.gettempdir()) / "data-gym-cache"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    raw = gzip.decompress(VOCAB.read_bytes())
    if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != VOCAB_SHA256:
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(raw)
        os.replace(partial, target)  # atomic: a reader never sees half a file
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    return target


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
    if HAVE_TIKTOKEN:
        return _exact_truncate(text, max_tokens)
    return approximate_truncate(text, max_tokens)


def approximate_truncate(text: str, max_tokens: int) -> tuple[str, bool]:
    """:func:`truncate` by the pure-Python approximation."""
    out: list[str] = []
    used = 0
    for piece, tokens in _approx_pieces(text):
        if used + tokens > max_tokens:
            return "".join(out), True
        out.append(piece)
        used += tokens
    return text, False


def approximate_count(text: str) -> int:
    """The pure-Python approximation's count, whatever backend is in use (for tests and docs)."""
    return sum(tokens for _, tokens in _approx_pieces(text))
