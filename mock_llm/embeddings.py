"""Deterministic text embeddings that behave like a small sentence encoder.

No model weights can be downloaded on a workshop laptop, so the mock builds each
embedding from the words themselves: content words after normalisation (contractions
expanded, stop words dropped, light stemming, a synonym table) each map to a fixed
pseudo-random unit vector derived from a cryptographic hash of the word (never
Python's salted ``hash()``), weighted by how much meaning the word carries; word
order enters through weighted bigrams, negation through a marker and a shifted copy
of the negated word. The sum is normalised to unit length.

The result has the properties a semantic cache needs and the failure modes real
encoders have: paraphrases land close, other topics land near zero, and hard
negatives (negations, swapped entities, changed numbers) land *close but not equal*,
which is exactly where a similarity threshold must be chosen with care.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from functools import lru_cache

import numpy as np

from .catalogue import EMBEDDING_DIMENSIONS

_CONTRACTIONS = (
    (re.compile(r"\b(can)'t\b"), r"\1 not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'s\b"), " is"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
)
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")

STOP_WORDS = frozenset(
    """a an the is are was were be been being am do does did doing have has had having i me my we our you
    your he she it its they them their this that these those there here what which who whom whose how
    why when where of to in on at by for with from into onto about as and or but if then so than too
    very can could would should will shall may might must tell say show give let please kindly know want
    need like get some any just really quite also well hi hello hey thanks thank""".split()
)
NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "cannot", "neither", "none"})

# Words that carry little topic: they count, but weakly.
LIGHT_WORDS = frozenset(
    """today now currently right moment still ever again much many lot lots bit little time way thing
    things one something anything everything office find make offer list""".split()
)

# Phrases folded into one word before splitting, as an encoder reads them as one idea.
PHRASES = (
    ("money back", "refund"),
    ("turn on", "enable"),
    ("switch on", "enable"),
    ("turn off", "disable"),
    ("switch off", "disable"),
    ("sign in", "signin"),
    ("log in", "signin"),
    ("single sign-on", "sso"),
    ("two-factor authentication", "2fa"),
    ("two factor authentication", "2fa"),
    ("set up", "setup"),
    ("how much", "cost"),
    ("rate limit", "ratelimit"),
    ("team member", "member"),
    ("opening hours", "open"),
    ("payment method", "pay"),
)

# Synonyms and inflections folded onto one canonical form (applied after stemming too).
SYNONYMS = {
    "price": "cost",
    "pric": "cost",
    "charge": "cost",
    "fee": "cost",
    "expense": "cost",
    "purchase": "buy",
    "order": "buy",
    "forecast": "weather",
    "temperature": "weather",
    "hour": "open",
    "available": "open",
    "clos": "open",
    "reimburse": "refund",
    "reimbursement": "refund",
    "terminate": "cancel",
    "subscription": "plan",
    "tier": "plan",
    "shipping": "deliver",
    "delivery": "deliver",
    "ship": "deliver",
    "shipment": "deliver",
    "login": "signin",
    "saml": "sso",
    "profile": "account",
    "help": "support",
    "assist": "support",
    "assistance": "support",
    "phone": "call",
    "telephone": "call",
    "email": "mail",
    "e-mail": "mail",
    "fix": "repair",
    "broken": "break",
    "broke": "break",
    "explain": "describe",
    "define": "describe",
    "definition": "describe",
    "meaning": "describe",
    "forgot": "reset",
    "forget": "reset",
    "forgotten": "reset",
    "download": "export",
    "invite": "add",
    "colleague": "member",
    "teammate": "member",
    "update": "change",
    "modify": "change",
    "edit": "change",
    "higher": "increase",
    "rais": "increase",
    "more": "increase",
    "extra": "increase",
    "iphone": "mobile",
    "android": "mobile",
    "outage": "status",
    "down": "status",
    "stor": "region",
    "host": "region",
    "located": "region",
    "guarantee": "sla",
    "include": "limit",
    "try": "trial",
}

# Antonym families share a component, as real encoders place opposites close together.
ANTONYM_FAMILIES = {
    "cheap": "price_level",
    "expensive": "price_level",
    "cheapest": "price_level",
    "increase": "change_dir",
    "decrease": "change_dir",
    "raise": "change_dir",
    "lower": "change_dir",
    "enable": "toggle",
    "disable": "toggle",
    "start": "begin_end",
    "stop": "begin_end",
    "open": "open",
    "buy": "trade",
    "sell": "trade",
    "best": "rank",
    "worst": "rank",
    "fast": "speed",
    "slow": "speed",
    "hot": "heat",
    "cold": "heat",
    "before": "order_time",
    "after": "order_time",
    "add": "add_remove",
    "remove": "add_remove",
    "delete": "add_remove",
    "upgrade": "grade",
    "downgrade": "grade",
}

W_CONTENT = 1.0
W_LIGHT = 0.3
W_NUMBER = 0.7
W_BIGRAM = 0.5
W_NEGATION = 0.45
NEGATED_SHIFT = 0.6  # share of a negated word's vector moved to its "not-" twin
ANTONYM_SHARE = 0.8


def _stem(word: str) -> str:
    """A light stemmer: plurals, -ing, -ed, -ly, and a final -e, so inflections meet."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def normalise(text: str) -> list[tuple[str, float, bool]]:
    """Content terms of ``text`` as ``(term, weight, negated)``, in order."""
    lowered = text.lower().replace("\u2019", "'")
    for phrase, word in PHRASES:
        lowered = lowered.replace(phrase, word)
    for pattern, repl in _CONTRACTIONS:
        lowered = pattern.sub(repl, lowered)
    terms: list[tuple[str, float, bool]] = []
    negate_next = False
    for word in _WORD.findall(lowered):
        if word in NEGATIONS:
            terms.append(("<not>", W_NEGATION, False))
            negate_next = True
            continue
        if word in STOP_WORDS:
            continue
        if word[0].isdigit():
            terms.append((word, W_NUMBER, False))
            continue
        if word in LIGHT_WORDS:
            terms.append((word, W_LIGHT, False))
            continue
        stem = _stem(word)
        base = _stem(SYNONYMS.get(word) or SYNONYMS.get(stem) or stem)
        terms.append((base, W_CONTENT, negate_next))
        negate_next = False
    return terms


@lru_cache(maxsize=65536)
def _unit(term: str) -> np.ndarray:
    """A fixed random unit vector for ``term``, identical in every process."""
    seed = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")
    vec = np.random.default_rng(seed).standard_normal(EMBEDDING_DIMENSIONS)
    vec /= np.linalg.norm(vec)
    vec.setflags(write=False)
    return vec


_FAMILY_OF = {_stem(word): family for word, family in ANTONYM_FAMILIES.items()}


def _term_vector(term: str) -> np.ndarray:
    family = _FAMILY_OF.get(term)
    if family is None or family == term:
        return _unit(term)
    mixed: np.ndarray = ANTONYM_SHARE * _unit("family:" + family) + (1 - ANTONYM_SHARE**2) ** 0.5 * _unit(term)
    return mixed


@lru_cache(maxsize=32768)
def _embed_cached(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in _embed_array(text))


def _embed_array(text: str) -> np.ndarray:
    terms = normalise(text)
    vec = np.zeros(EMBEDDING_DIMENSIONS)
    if not terms:
        # Empty of meaning ("", "?", "the"): a fixed vector of its own, still unit norm.
        return _unit("<empty>").copy()
    for term, weight, negated in terms:
        base = _term_vector(term)
        if negated:
            base = (1 - NEGATED_SHIFT) * base + NEGATED_SHIFT * _unit("not-" + term)
        vec += weight * base
    for (a, wa, _), (b, wb, _) in itertools.pairwise(terms):
        vec += W_BIGRAM * min(wa, wb) * _unit(a + "\u2192" + b)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else _unit("<empty>").copy()


def embed(text: str) -> np.ndarray:
    """The unit-norm embedding of ``text`` as a float64 array of fixed dimension."""
    if len(text) > 2048:
        return _embed_array(text)
    return np.asarray(_embed_cached(text))


def cosine(a: str, b: str) -> float:
    """Cosine similarity of two texts' embeddings."""
    return float(embed(a) @ embed(b))
