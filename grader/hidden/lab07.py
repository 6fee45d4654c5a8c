"""Hidden checks for lab 07: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

from ..checks.common import names_unawaited
from ..checks.lab07 import LOCAL, STRONG, check_report, label_of, learner_benchmark
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check

FAULT_RATE = 0.3
SEEDS = (11, 23)


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
        for text, body in stormy.answers.items():
            if body["degraded"]:
                continue
            shown = {k: body.get(k) for k in ("sentiment", "model_used", "tier", "degraded", "source")}
            said = {label_of(body.get("model_used", LOCAL), t) for t in variants[" ".join(text.split()).casefold()]}
            healthy = calm.answers.get(text, {})
            if body["sentiment"] not in said or (healthy.get("tier") == STRONG and body.get("tier") != STRONG):
                raise CheckFailed(
                    "Under faults, an answer that is not what the healthy service would say was not marked degraded "
                    "(a fallback's answer passed off as a normal one).",
                    input=f"{text[:60]!r} (seed {seed})",
                    expected={"healthy": {k: healthy.get(k) for k in ("sentiment", "tier")}, "or": "degraded: true"},
                    actual=shown,
                )
