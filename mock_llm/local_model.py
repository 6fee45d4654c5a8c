"""A free local tier: a small naive Bayes sentiment classifier trained at start-up, on this machine.

It plays the part of the distilled model a production cascade puts first (FrugalGPT's
DistilBERT scorer): free, a fraction of a millisecond, good on the texts it has seen the
like of, and honest about its doubt through its posterior. It is trained on one half of
``data/sentiment.jsonl`` (a fixed, stratified split by id); the other half is held out,
and the benchmark measures accuracy on that half only, so no figure is scored on
training data. The kit's texts are templated, so a model trained on them is kinder to
them than to free text: see docs/capstone.md. The capstone service and lab 07 both use it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "sentiment.jsonl"
HOLDOUT = DATA.with_name("sentiment_holdout.jsonl")  # hand-written, never trained or tuned on
LABELS = ("Positive", "Negative", "Neutral")
NEGATORS = frozenset({"not", "no", "never", "hardly", "don't", "isn't", "wasn't", "won't", "can't", "nothing"})
_WORD = re.compile(r"[a-z0-9']+")


def features(text: str) -> list[str]:
    """Words, words marked as negated (up to three after a negator), and word pairs."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    out: list[str] = []
    negate = 0
    for word in words:
        if word in NEGATORS:
            negate = 3
            out.append(word)
            continue
        out.append(f"NOT_{word}" if negate else word)
        negate = max(0, negate - 1)
    out.extend(f"{a}|{b}" for a, b in itertools.pairwise(words))
    return out


def in_training_half(row_id: str) -> bool:
    """The fixed split: a row trains the model when the first byte of its id's hash is even."""
    return hashlib.blake2b(row_id.encode(), digest_size=1).digest()[0] % 2 == 0


def load_rows(path: Path = DATA) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float  # the posterior probability of the label


class LocalClassifier:
    """Multinomial naive Bayes with Laplace smoothing over :func:`features`."""

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha
        self._log_prior: dict[str, float] = {}
        self._log_likelihood: dict[str, dict[str, float]] = {}
        self._log_unseen: dict[str, float] = {}

    def fit(self, examples: Iterable[tuple[str, str]]) -> LocalClassifier:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        docs: Counter[str] = Counter()
        for text, label in examples:
            docs[label] += 1
            counts[label].update(features(text))
        vocabulary = {f for c in counts.values() for f in c}
        total_docs = sum(docs.values())
        for label in LABELS:
            total = sum(counts[label].values()) + self.alpha * (len(vocabulary) + 1)
            self._log_prior[label] = math.log((docs[label] + 1) / (total_docs + len(LABELS)))
            self._log_likelihood[label] = {f: math.log((n + self.alpha) / total) for f, n in counts[label].items()}
            self._log_unseen[label] = math.log(self.alpha / total)
        return self

    def predict(self, text: str) -> Prediction:
        feats = features(text)
        scores = {
            label: self._log_prior[label]
            + sum(self._log_likelihood[label].get(f, self._log_unseen[label]) for f in feats)
            for label in LABELS
        }
        top = max(scores.values())
        weights = {label: math.exp(score - top) for label, score in scores.items()}
        total = sum(weights.values())
        label = max(weights, key=lambda k: weights[k])
        return Prediction(label, weights[label] / total)


def trained(path: Path = DATA) -> LocalClassifier:
    """The classifier trained on the training half of the labelled set."""
    rows = load_rows(path)
    return LocalClassifier().fit((r["text"], r["label"]) for r in rows if in_training_half(r["id"]))
