"""How honest is the local classifier? Accuracy and calibration on two held-out sets.

- the templated held-out half of ``data/sentiment.jsonl`` (the same templates as the
  training half, never trained on);
- ``data/sentiment_holdout.jsonl``: hand-written reviews, never used for training or for
  choosing any threshold (see data/README_sentiment_holdout.md).

For each threshold it prints the share of texts the local tier would answer (confidence at
or above the threshold) and its accuracy on them, then a reliability table (confidence bins:
how many texts, mean confidence, accuracy). Run: ``python bench/local_model_report.py``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mock_llm.local_model import HOLDOUT, in_training_half, load_rows, trained

THRESHOLDS = (0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01)


def evaluate(rows: Sequence[dict[str, str]]) -> list[tuple[float, bool, str]]:
    model = trained()
    out = []
    for row in rows:
        prediction = model.predict(row["text"])
        out.append(
            (prediction.confidence, prediction.label == row["label"], row.get("kind", row.get("difficulty", "")))
        )
    return out


def report(name: str, results: list[tuple[float, bool, str]]) -> None:
    n = len(results)
    print(f"\n{name}: {n} texts, overall accuracy {sum(ok for _, ok, _ in results) / n:.1%}")
    print("  threshold  answered  accuracy on answered")
    for t in THRESHOLDS:
        answered = [ok for c, ok, _ in results if c >= t]
        acc = f"{sum(answered) / len(answered):.1%}" if answered else "-"
        print(f"  {t:>9}  {len(answered) / n:>8.1%}  {acc:>8} ({sum(answered)}/{len(answered)})")
    print("  confidence bin   texts  mean conf  accuracy")
    for lo, hi in itertools.pairwise(BINS):
        inside = [(c, ok) for c, ok, _ in results if lo <= c < hi]
        if inside:
            mean = sum(c for c, _ in inside) / len(inside)
            right = sum(ok for _, ok in inside) / len(inside)
            print(f"  [{lo:.2f}, {min(hi, 1):.2f})   {len(inside):>5}  {mean:>9.3f}  {right:>8.1%}")
    kinds = sorted({k for _, _, k in results})
    print(
        "  by kind: "
        + ", ".join(
            f"{k} {sum(ok for _, ok, kk in results if kk == k)}/{sum(1 for *_, kk in results if kk == k)}"
            for k in kinds
        )
    )


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    templated = [r for r in load_rows() if not in_training_half(r["id"])]
    report("templated held-out half of data/sentiment.jsonl", evaluate(templated))
    report("hand-written holdout, data/sentiment_holdout.jsonl", evaluate(load_rows(HOLDOUT)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
