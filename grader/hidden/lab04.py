"""Hidden checks for lab 04: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

import functools

from ..checks.lab04 import held_out, judge_targets
from ..oracle import Reference
from ..registry import Namespace, check

# Another held-out trace: other traffic, another mock seed, and more requests about one account (35%).
HIDDEN_TRACE: tuple[int, int, int, float] = (2_000, 204, 7, 0.35)  # requests, traffic and mock seeds, context share


@check(
    "04-targets-hidden",
    2,
    "the same targets on another held-out trace, with more account traffic (a hidden check, graded by the instructor)",
    "Rules that hold on any traffic: classify by the question, cache only what is not about one account.",
    visibility="hidden",
    warm=functools.partial(held_out, *HIDDEN_TRACE),
)
def targets_hidden(learner: Namespace, ref: Reference) -> None:
    judge_targets(learner, *HIDDEN_TRACE)
