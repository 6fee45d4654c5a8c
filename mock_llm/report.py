"""Measure the mock on the kit's labelled data and print the figures the docs quote.

    python -m mock_llm.report              # print the tables
    python -m mock_llm.report --write      # refresh them in docs/mock_llm.md

Every figure comes from the same functions the server answers with, at seed 0.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from .answers import classify_sentiment, known_answer, sentiment_target
from .catalogue import CATALOGUE
from .datasets import load
from .embeddings import embed
from .tokens import BACKEND, _load_encoding, approximate_count, count_tokens

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "mock_llm.md"
BEGIN, END = "<!-- report:begin -->", "<!-- report:end -->"
THRESHOLD = 0.85
HELD_OUT = "paraphrases_heldout.jsonl"
SEED = 0
HANDOUT_PROMPT = "Classify the sentiment: {text}\n\nSentiment:"


def generation_models() -> list[str]:
    return [m.id for m in CATALOGUE.values() if m.kind != "embedding"]


def sentiment_accuracy(seed: int = SEED) -> dict[str, dict[str, float]]:
    """Accuracy per model, overall and per difficulty, on data/sentiment.jsonl."""
    rows = load("sentiment.jsonl")
    out: dict[str, dict[str, float]] = {}
    for model in generation_models():
        tier = CATALOGUE[model].quality_tier
        hits: dict[str, list[bool]] = defaultdict(list)
        for row in rows:
            target = sentiment_target("", HANDOUT_PROMPT.format(text=row["text"])) or ""
            ok = classify_sentiment(target, model, tier, seed).label == row["label"]
            hits[row["difficulty"]].append(ok)
            hits["all"].append(ok)
        out[model] = {k: float(np.mean(v)) for k, v in hits.items()}
    return out


def chat_accuracy(seed: int = SEED) -> dict[str, dict[str, float]]:
    """Share of reference answers each model gets right, per difficulty, on data/queries.jsonl."""
    rows = load("queries.jsonl")
    out: dict[str, dict[str, float]] = {}
    for model in generation_models():
        tier = CATALOGUE[model].quality_tier
        hits: dict[str, list[bool]] = defaultdict(list)
        for row in rows:
            found = known_answer(row["query"], model, tier, seed)
            ok = found is not None and found[1]
            hits[row["difficulty"]].append(ok)
            hits["all"].append(ok)
        out[model] = {k: float(np.mean(v)) for k, v in hits.items()}
    return out


def paraphrase_metrics(threshold: float = THRESHOLD, name: str = "paraphrases.jsonl") -> dict[str, float]:
    """Precision and recall of "cosine >= threshold" as a paraphrase detector, and hit rate per kind."""
    rows = load(name)
    sims = np.array([float(embed(r["a"]) @ embed(r["b"])) for r in rows])
    positive = np.array([r["label"] == "paraphrase" for r in rows])
    predicted = sims >= threshold
    tp = int(np.sum(predicted & positive))
    out = {
        "precision": tp / max(1, int(predicted.sum())),
        "recall": tp / max(1, int(positive.sum())),
    }
    for kind in sorted({r["kind"] for r in rows}):
        mask = np.array([r["kind"] == kind for r in rows])
        out[f"hit_rate:{kind}"] = float(predicted[mask].mean())
    return out


def kind_labels(name: str) -> dict[str, str]:
    return {row["kind"]: row["label"] for row in load(name)}


def token_error_by_script() -> dict[str, tuple[int, int, int]]:
    """Per script of data/multilingual.jsonl: (cl100k tokens, the mock's count, the fallback's count)."""
    reference = _load_encoding()
    out: dict[str, tuple[int, int, int]] = {}
    for row in load("multilingual.jsonl"):
        exact = len(reference.encode_ordinary(row["text"])) if reference is not None else 0
        old = out.get(row["script"], (0, 0, 0))
        out[row["script"]] = (
            old[0] + exact,
            old[1] + count_tokens(row["text"]),
            old[2] + approximate_count(row["text"]),
        )
    return out


def token_ratio() -> float:
    """Characters per token over every text the kit ships (real BPE gives about 4 for English)."""
    texts = [r["text"] for r in load("sentiment.jsonl")] + [r["query"] for r in load("queries.jsonl")]
    texts += [r["reference_answer"] for r in load("queries.jsonl")]
    return sum(len(t) for t in texts) / sum(count_tokens(t) for t in texts)


def render() -> str:
    lines = [BEGIN, "", f"Measured at seed {SEED} by `python -m mock_llm.report`.", ""]
    lines += [
        "**Sentiment accuracy** on `data/sentiment.jsonl` (600 texts), handout prompt:",
        "",
        "| model | tier | all | easy | negated | sarcastic |",
        "|---|---|---|---|---|---|",
    ]
    for model, acc in sentiment_accuracy().items():
        tier = CATALOGUE[model].quality_tier
        lines.append(
            f"| {model} | {tier} | {acc['all']:.1%} | {acc['easy']:.1%} | {acc['negated']:.1%} | "
            f"{acc['sarcastic']:.1%} |"
        )
    lines += [
        "",
        "**Chat answers** matching the reference on `data/queries.jsonl`:",
        "",
        "| model | tier | all | simple | complex |",
        "|---|---|---|---|---|",
    ]
    for model, acc in chat_accuracy().items():
        tier = CATALOGUE[model].quality_tier
        lines.append(f"| {model} | {tier} | {acc['all']:.1%} | {acc['simple']:.1%} | {acc['complex']:.1%} |")
    para = paraphrase_metrics()
    lines += [
        "",
        f"**Embeddings** on `data/paraphrases.jsonl` (the pairs the embedder was tuned on), cosine >= {THRESHOLD}"
        " counted as a match:",
        "",
        f"- precision {para['precision']:.1%}, recall {para['recall']:.1%}",
        "",
        "| pair kind | share matched |",
        "|---|---|",
    ]
    lines += [f"| {key.split(':', 1)[1]} | {value:.1%} |" for key, value in para.items() if key.startswith("hit_rate:")]
    held = paraphrase_metrics(name=HELD_OUT)
    labels = kind_labels(HELD_OUT)
    lines += [
        "",
        f"**Embeddings on held-out pairs** (`data/{HELD_OUT}`, written apart from the embedder and never used to"
        f" tune it), cosine >= {THRESHOLD} counted as a match:",
        "",
        f"- precision {held['precision']:.1%}, recall {held['recall']:.1%}",
        "",
        "| pair kind | should match | share matched |",
        "|---|---|---|",
    ]
    lines += [
        f"| {key.split(':', 1)[1]} | {'yes' if labels[key.split(':', 1)[1]] == 'paraphrase' else 'no'} | {value:.1%} |"
        for key, value in held.items()
        if key.startswith("hit_rate:")
    ]
    lines += [
        "",
        f"**Tokens** are counted by {BACKEND}; {token_ratio():.2f} characters per token over the kit's texts.",
        "Count error against OpenAI's cl100k_base on `data/multilingual.jsonl`, for the mock and for the",
        "pure-Python fallback used where tiktoken cannot be installed:",
        "",
        "| script | cl100k tokens | the mock | fallback |",
        "|---|---|---|---|",
    ]
    for script, (exact, mock, fallback) in token_error_by_script().items():
        lines.append(f"| {script} | {exact} | {mock / exact - 1:+.0%} | {fallback / exact - 1:+.0%} |")
    lines += ["", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"replace the report block in {DOC.name}")
    args = parser.parse_args(argv)
    block = render()
    if not args.write:
        print(block)
        return 0
    doc = DOC.read_text(encoding="utf-8")
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    DOC.write_text(doc[:start] + block + doc[end:], encoding="utf-8")
    print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
