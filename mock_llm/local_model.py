"""A free local tier: a small naive Bayes sentiment classifier trained at start-up, on this machine.

It plays the part of the distilled model a production cascade puts first (FrugalGPT's
DistilBERT scorer): free, a fraction of a millisecond, good on the texts it has seen the
like of, and honest about its doubt. It is trained on one half of ``data/sentiment.jsonl``
(a fixed, stratified split by id); the other half is held out, and the benchmark measures
accuracy on that half only, so no figure is scored on training data.

Three things keep its confidence honest on text unlike its training set:

- **negation scope** (Das and Chen 2001, Pang et al. 2002): every word from a negator ("not",
  "never", "no", any "...n't") to the end of its clause is marked, so "not good" gives
  ``NOT_good``, a different feature from ``good``;
- **contrast**: in "A, but B" (also "however", "yet") the writer ends on B, so only B's
  words vote;
- **calibration**: the posterior is tempered by a temperature fitted by cross-validation on
  the training half (so that 0.9 means about 90% right on texts like its own), and then
  shrunk towards 1/3 by the share of the text's words it has never seen: a word it cannot
  read may be the one that decides, and a text it mostly cannot read is one it must not be
  sure of. Words it has never seen do not vote.

The templated held-out half and a hand-written holdout (``data/sentiment_holdout.jsonl``,
never trained or tuned on) measure it: ``python bench/local_model_report.py``, figures in
docs/capstone.md. The capstone service and lab 07 both use it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "sentiment.jsonl"
HOLDOUT = DATA.with_name("sentiment_holdout.jsonl")  # hand-written, never trained or tuned on
LABELS = ("Positive", "Negative", "Neutral")
NEGATORS = frozenset("not no never nothing nobody none neither nor hardly barely without cannot".split())
CONTRAST = frozenset({"but", "however", "yet"})
_TOKEN = re.compile(r"[0-9]+|[a-z]+(?:['-][a-z]+)*|[.,;:!?()]")
_CLAUSE_END = frozenset(".,;:!?()")
TEMPERATURES = tuple(round(1.0 + 0.25 * i, 2) for i in range(37))  # 1 to 10


def _is_negator(word: str) -> bool:
    return word in NEGATORS or word.endswith("n't")


def features(text: str) -> list[str]:
    """The words that vote: those after the last contrast word, negated ones marked ``NOT_``; and word pairs.

    Numbers are one token (``<num>``): "247 hours" and "3 hours" say the same.
    """
    tokens = _TOKEN.findall(text.lower().replace("\u2019", "'"))
    tokens = ["<num>" if t.isdigit() else t for t in tokens]
    last = max((i for i, t in enumerate(tokens) if t in CONTRAST), default=-1)
    if last >= 0 and any(t not in _CLAUSE_END for t in tokens[last + 1 :]):
        tokens = tokens[last + 1 :]
    words: list[str] = []
    negated = False
    for token in tokens:
        if token in _CLAUSE_END:
            negated = False
            continue
        if _is_negator(token):
            negated = True
            words.append(token)
            continue
        words.append(f"NOT_{token}" if negated else token)
    return words + [f"{a}|{b}" for a, b in itertools.pairwise(words)]


def in_training_half(row_id: str) -> bool:
    """The fixed split: a row trains the model when the first byte of its id's hash is even."""
    return hashlib.blake2b(row_id.encode(), digest_size=1).digest()[0] % 2 == 0


def load_rows(path: Path = DATA) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float  # the calibrated probability that the label is right


class LocalClassifier:
    """Multinomial naive Bayes with Laplace smoothing over :func:`features`, calibrated (see the module)."""

    def __init__(self, alpha: float = 0.5, temperature: float = 1.0) -> None:
        self.alpha = alpha
        self.temperature = temperature
        self._log_prior: dict[str, float] = {}
        self._log_likelihood: dict[str, dict[str, float]] = {}
        self._vocabulary: frozenset[str] = frozenset()

    def fit(self, examples: Iterable[tuple[str, str]]) -> LocalClassifier:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        docs: Counter[str] = Counter()
        for text, label in examples:
            docs[label] += 1
            counts[label].update(features(text))
        self._vocabulary = frozenset(f for c in counts.values() for f in c)
        total_docs = sum(docs.values())
        for label in LABELS:
            total = sum(counts[label].values()) + self.alpha * (len(self._vocabulary) + 1)
            self._log_prior[label] = math.log((docs[label] + 1) / (total_docs + len(LABELS)))
            self._log_likelihood[label] = {
                f: math.log((counts[label][f] + self.alpha) / total) for f in self._vocabulary
            }
        return self

    def posterior(self, text: str) -> tuple[dict[str, float], float]:
        """The tempered posterior of each label from the known features, and the share of words known."""
        feats = features(text)
        words = [f for f in feats if "|" not in f]
        known = [f for f in feats if f in self._vocabulary]
        coverage = sum(w in self._vocabulary for w in words) / len(words) if words else 0.0
        scores = {
            label: (self._log_prior[label] + sum(self._log_likelihood[label][f] for f in known)) / self.temperature
            for label in LABELS
        }
        top = max(scores.values())
        weights = {label: math.exp(score - top) for label, score in scores.items()}
        total = sum(weights.values())
        return {label: w / total for label, w in weights.items()}, coverage

    def predict(self, text: str) -> Prediction:
        probabilities, coverage = self.posterior(text)
        label = max(LABELS, key=lambda k: probabilities[k])
        # Unknown words might say anything: with a share u of them, the answer is a blend of the
        # model's posterior (weight 1 - u) and no knowledge at all (1/3 each).
        confidence = coverage * probabilities[label] + (1 - coverage) / len(LABELS)
        return Prediction(label, confidence)


def fit_temperature(examples: Sequence[tuple[str, str]], folds: int = 5, alpha: float = 0.5) -> float:
    """The temperature with the lowest log loss on ``folds``-fold cross-validated predictions of ``examples``."""
    held: list[tuple[dict[str, float], str]] = []  # untempered log-scores of each held-out example, its label
    for k in range(folds):
        train = [e for i, e in enumerate(examples) if i % folds != k]
        model = LocalClassifier(alpha).fit(train)
        for i, (text, label) in enumerate(examples):
            if i % folds == k:
                feats = [f for f in features(text) if f in model._vocabulary]
                scores = {
                    lab: model._log_prior[lab] + sum(model._log_likelihood[lab][f] for f in feats) for lab in LABELS
                }
                held.append((scores, label))

    def log_loss(t: float) -> float:
        loss = 0.0
        for scores, label in held:
            top = max(scores.values())
            z = sum(math.exp((s - top) / t) for s in scores.values())
            loss -= (scores[label] - top) / t - math.log(z)
        return loss

    return min(TEMPERATURES, key=log_loss)


def trained(path: Path = DATA) -> LocalClassifier:
    """The classifier trained on the training half of the labelled set, its temperature fitted on that half."""
    rows = sorted((r for r in load_rows(path) if in_training_half(r["id"])), key=lambda r: r["id"])
    examples = [(r["text"], r["label"]) for r in rows]
    return LocalClassifier(temperature=fit_temperature(examples)).fit(examples)
