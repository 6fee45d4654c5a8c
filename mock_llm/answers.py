"""Deterministic answers whose quality depends on the model's tier.

Every decision is a function of (server seed, model, text) through a keyed hash, so
the same request gets the same answer in every process and every run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from dataclasses import dataclass
from functools import lru_cache

from .knowledge import BY_PHRASING, Entry, lookup_key

LABELS = ("Positive", "Negative", "Neutral")

# Chance that a model answers a known query correctly, by tier and difficulty.
CORRECT_RATE = {
    1: {"simple": 0.85, "complex": 0.30},
    2: {"simple": 0.93, "complex": 0.55},
    3: {"simple": 0.97, "complex": 0.90},
}
# Chance that a sentiment label is flipped at random, by tier (on top of rule errors).
SENTIMENT_NOISE = {1: 0.06, 2: 0.04, 3: 0.02}

POSITIVE = frozenset(
    """love loved loving great amazing excellent good fantastic wonderful happy perfect best awesome
    delighted impressed brilliant superb outstanding pleased enjoy enjoyed nice recommend recommended
    helpful reliable fast smooth beautiful glad satisfied favourite favorite solid works worked
    incredible""".split()
)
NEGATIVE = frozenset(
    """hate hated terrible awful bad worst broken disappointing disappointed poor waste horrible useless
    slow angry annoying frustrating frustrated refund crash crashed crashes buggy unreliable rude late
    defective faulty cheap flimsy mediocre overpriced regret unhappy lousy dreadful fails failed failure
    problem problems issue issues scam""".split()
)
# Words only the strong tier knows: rarer praise and complaints, and idioms such as "don't mind".
STRONG_POSITIVE = frozenset({"stellar", "flawless", "notch", "adore", "superb"})
STRONG_NEGATIVE = frozenset({"subpar", "shoddy", "despise", "mind", "regret"})
NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "hardly",
        "barely",
        "isn't",
        "wasn't",
        "don't",
        "didn't",
        "doesn't",
        "can't",
        "won't",
        "nothing",
        "neither",
        "nor",
    }
)
SARCASM_CUES = (
    "oh great",
    "oh wonderful",
    "oh perfect",
    "oh fantastic",
    "just what i needed",
    "yeah right",
    "thanks a lot",
    "thanks for nothing",
    "love how",
    "love that",
    "so glad",
    "what a joy",
    "just perfect",
    "just great",
    "just fantastic",
    "wow,",
    "real treat",
    "absolutely thrilled",
    "my favourite part",
    "my favorite part",
)
NEGATIVE_EVENTS = frozenset(
    """crashed crash crashes broke broken delayed late stuck lost again waited waiting hours cancelled
    canceled died stopped failed error errors charged twice overcharged leaked dropped froze freezes
    freeze reboot restart another overheated apart""".split()
)
_WORD = re.compile(r"[a-z']+")


def unit_hash(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts, stable across processes."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def unit_hashes(count: int, *parts: object) -> tuple[float, ...]:
    """``count`` independent uniform numbers in [0, 1) from one hash of the parts."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8 * count).digest()
    return tuple(word / 2**64 for word in struct.unpack(f"<{count}Q", digest))


@dataclass(frozen=True, slots=True)
class Sentiment:
    label: str
    confidence: float

    def logprobs(self) -> dict[str, float]:
        """Log-probabilities of the three labels (they sum to 1 in probability)."""
        rest = (1 - self.confidence) / 2
        return {lab: math.log(self.confidence if lab == self.label else rest) for lab in LABELS}


def _rule_score(text: str, tier: int) -> float:
    lowered = text.lower().replace("\u2019", "'")
    words = _WORD.findall(lowered)
    if tier >= 3 and any(cue in lowered for cue in SARCASM_CUES) and NEGATIVE_EVENTS.intersection(words):
        return -2.5  # praise wrapped around a bad event: sarcasm
    score = 0.0
    negate_left = 0
    positive, negative = POSITIVE, NEGATIVE
    if tier >= 3:
        positive, negative = POSITIVE | STRONG_POSITIVE, NEGATIVE | STRONG_NEGATIVE
    for word in words:
        if tier >= 2 and word in NEGATORS:
            negate_left = 3
            continue
        polarity = (word in positive) - (word in negative)
        if polarity and negate_left:
            polarity = -polarity
        score += polarity
        negate_left = max(0, negate_left - 1)
    return score


@lru_cache(maxsize=16384)
def classify_sentiment(text: str, model: str, tier: int, seed: int) -> Sentiment:
    """The label and confidence a model of ``tier`` gives ``text``."""
    score = _rule_score(text, tier)
    label = "Positive" if score > 0 else "Negative" if score < 0 else "Neutral"
    base = {1: 0.70, 2: 0.78, 3: 0.86}[tier]
    confidence = min(0.99, base + 0.05 * abs(score)) if label != "Neutral" else base - 0.1
    # One hash gives the three draws: whether the model errs, which wrong label, and a wobble.
    noise, pick, wobble = unit_hashes(3, seed, model, "sentiment", text)
    if noise < SENTIMENT_NOISE[tier]:
        others = [lab for lab in LABELS if lab != label]
        label = others[int(pick * 2)]
        confidence = base - 0.15
    # A small, stable wobble so confidences are not all alike.
    confidence += (wobble - 0.5) * 0.04
    return Sentiment(label, round(min(max(confidence, 0.34), 0.99), 4))


_SENTIMENT_WORD = re.compile(r"\bsentiment\b", re.IGNORECASE)
_TRAILING_CUE = re.compile(r"\n\s*(?:sentiment|answer|label)\s*:\s*$", re.IGNORECASE)


def sentiment_target(system: str, user: str) -> str | None:
    """The text a prompt asks to classify, or None when it is not a sentiment request.

    Handles the handout's ``"Classify the sentiment: {text}\\n\\nSentiment:"``, an
    instruction followed by a colon and the text, and a system prompt that asks for
    sentiment with the text alone as the user message.
    """
    match = _SENTIMENT_WORD.search(user)
    if match is None:
        return user.strip().strip('"') if _SENTIMENT_WORD.search(system) else None
    body = _TRAILING_CUE.sub("", user)
    colon = body.find(":", match.end())
    newline = body.find("\n", match.end())
    if colon != -1 and (newline == -1 or colon < newline):
        target = body[colon + 1 :]
    elif newline != -1:
        target = body[newline + 1 :]
    else:
        target = body[match.end() :]
    target = target.strip().strip("\"\u201c\u201d'").strip()
    return target or None


def sentiment_content(sentiment: Sentiment, want_json: bool) -> str:
    if want_json:
        return json.dumps({"sentiment": sentiment.label, "confidence": sentiment.confidence})
    return sentiment.label


def known_answer(query: str, model: str, tier: int, seed: int) -> tuple[Entry, bool] | None:
    """The FAQ entry a query matches and whether this model gets it right."""
    entry = BY_PHRASING.get(lookup_key(query))
    if entry is None:
        return None
    correct = unit_hash(seed, model, "faq", entry.id) < CORRECT_RATE[tier][entry.difficulty]
    return entry, correct


_GENERIC_OPENERS = (
    "Here is a short answer.",
    "Good question.",
    "In brief:",
    "Happy to help.",
)
_GENERIC_BODY = (
    "The mock model has no knowledge of this topic, so this reply is a placeholder of realistic length.",
    "Answers to the kit's reference queries are in data/queries.jsonl; other prompts get text like this.",
    "Its length depends on the prompt, and it never changes between runs with the same seed.",
    "Use it to exercise caching, timeouts, cost tracking and monitoring as you would with a real model.",
)


def generic_answer(prompt: str, model: str, seed: int) -> str:
    """A deterministic filler answer for prompts the mock has no knowledge of."""
    # Model-independent, so that every model bills the same length for a prompt it cannot answer.
    pick, length = unit_hashes(2, seed, "generic", prompt)
    opener = _GENERIC_OPENERS[int(pick * len(_GENERIC_OPENERS))]
    topic = " ".join(prompt.split()[:8]).rstrip("?.!,;:")
    sentences = 1 + int(length * len(_GENERIC_BODY))
    return " ".join([opener, f'You asked: "{topic}".', *_GENERIC_BODY[:sentences]])


def answer(
    system: str, user: str, model: str, tier: int, seed: int, want_json: bool = False
) -> tuple[str, Sentiment | None]:
    """The reply text for a prompt, and the sentiment behind it when it was a sentiment request."""
    target = sentiment_target(system, user)
    if target is not None:
        sentiment = classify_sentiment(target, model, tier, seed)
        return sentiment_content(sentiment, want_json or "json" in (system + user).lower()), sentiment
    known = known_answer(user, model, tier, seed)
    if known is not None:
        entry, correct = known
        text = entry.answer if correct else entry.wrong
    else:
        text = generic_answer(user, model, seed)
    if want_json:
        text = json.dumps({"answer": text})
    return text, None
