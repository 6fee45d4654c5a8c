"""Hidden checks for lab 07: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

import numpy as np

from mock_llm.embeddings import embed

from ..checks.common import names_unawaited
from ..checks.lab07 import LOCAL, check_report, label_of, learner_benchmark
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check

FAULT_RATE = 0.3
SEEDS = (11, 23)
RANK = {LOCAL: 0, "cheap": 1, "strong": 2}  # the tiers, cheapest first
NEIGHBOUR_COSINE = 0.8  # below any semantic threshold a service would use: the kit's negation pairs are about 0.8


def neighbours(keys: list[str]) -> dict[str, list[str]]:
    """For each text, the other texts a semantic cache could have answered it with (the kit's embedder)."""
    if not keys:
        return {}
    vectors = np.array([embed(k) for k in keys], dtype=float)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    close = vectors @ vectors.T >= NEIGHBOUR_COSINE
    return {k: [keys[j] for j in np.flatnonzero(close[i]) if j != i] for i, k in enumerate(keys)}


@check(
    "07-chaos",
    2,
    "under 30% injected faults on two seeded runs, every request gets a valid answer, no fallback's answer passes "
    "as a normal one, bad input gets 422, and /metrics counts it all",
    "Every paid call through the boundary, every ProviderError caught, a degraded answer whenever a fault changed "
    "what the cascade would have said, and nothing degraded in the cache.",
    visibility="hidden",
    part="stretch",
)
@names_unawaited
def chaos(learner: Namespace, ref: Reference) -> None:
    for seed in SEEDS:
        calm = learner_benchmark(learner, n=300, seed=seed)
        stormy = learner_benchmark(learner, n=300, seed=seed, fault_rate=FAULT_RATE)
        check_report(stormy, f"300 requests, {FAULT_RATE:.0%} faults (seed {seed})")
        variants: dict[str, set[str]] = {}
        for text in stormy.answers:
            variants.setdefault(" ".join(text.split()).casefold(), set()).add(text)
        near = neighbours(list(variants))
        for text, body in stormy.answers.items():
            if body["degraded"]:
                continue
            shown = {k: body.get(k) for k in ("sentiment", "model_used", "tier", "degraded", "source")}
            key = " ".join(text.split()).casefold()
            # A semantic cache may answer a text with a close text's paid answer (and the exact cache repeat it):
            # then the answer is what its model said of one of them, and the tier is that text's.
            said = {label_of(body.get("model_used", LOCAL), t) for k in (key, *near[key]) for t in variants[k]}
            healthy = calm.answers.get(text, {})
            # A fault must never let a cheaper tier answer as normal where the healthy service used a dearer one.
            skipped = not near[key] and RANK.get(str(body.get("tier")), 0) < RANK.get(str(healthy.get("tier")), 0)
            if body["sentiment"] not in said or skipped:
                raise CheckFailed(
                    "Under faults, an answer that is not what the healthy service would say was not marked degraded "
                    "(a fallback's answer passed off as a normal one).",
                    input=f"{text[:60]!r} (seed {seed})",
                    expected={"healthy": {k: healthy.get(k) for k in ("sentiment", "tier")}, "or": "degraded: true"},
                    actual=shown,
                )
