"""Hidden checks for lab 02: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from ..checks.common import Clock, smallest_counterexample
from ..checks.lab02 import table_embedder
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check

# --- differential test on generated workloads --------------------------------------------------

THRESHOLD, MAX_ENTRIES, TTL = 0.3, 4, 10.0
SCOPES = ["", "s1"]

Step = tuple[Any, ...]
workloads = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 5), st.sampled_from(SCOPES)),
        st.tuples(st.just("find"), st.integers(0, 5), st.sampled_from(SCOPES)),
        st.tuples(st.just("wait"), st.sampled_from([1, 4, 5])),
        st.tuples(st.just("len")),
    ),
    min_size=1,
    max_size=25,
)


def _table(dims: int = 6) -> dict[str, list[float]]:
    rng = np.random.default_rng(7)
    return {f"t{i}": list(rng.standard_normal(dims)) for i in range(6)}


def _replay(cache_cls: Any, ops: list[Step]) -> list[tuple[str, Any]]:
    """Run ``ops`` on a fresh cache: one (step in words, answer) per step; answers are None for add and wait."""
    clock = Clock()
    cache = cache_cls(
        similarity_threshold=THRESHOLD,
        max_entries=MAX_ENTRIES,
        ttl_seconds=TTL,
        clock=clock,
        embed=table_embedder(_table()),
    )
    out: list[tuple[str, Any]] = []
    for index, op in enumerate(ops):
        if op[0] == "add":
            response = f"r{op[1]}.{index}"  # a new response each time: re-adding replaces it
            cache.add(f"t{op[1]}", response, scope=op[2])
            out.append((f"add t{op[1]} -> {response!r} in scope {op[2]!r}", None))
        elif op[0] == "find":
            out.append((f"find t{op[1]} in scope {op[2]!r}", cache.find_similar(f"t{op[1]}", scope=op[2])))
        elif op[0] == "wait":
            clock.now += op[1]
            out.append((f"wait {op[1]} s", None))
        else:
            out.append(("len(cache)", len(cache)))
    return out


def _same(learner_cls: Any, ref_cls: Any, ops: list[Step]) -> bool:
    return [a for _, a in _replay(learner_cls, ops)] == [a for _, a in _replay(ref_cls, ops)]


@check(
    "02-generated",
    2,
    "on generated add/find sequences, answers equal the reference's",
    "Combine the rules: same scope, best similarity at or above the threshold, LRU eviction at max_entries "
    "(a hit or a re-add is a use), expiry after ttl_seconds, re-adding replaces.",
    visibility="hidden",
    part="stretch",
)
def generated(learner: Namespace, ref: Reference) -> None:
    cls, ref_cls = learner.SemanticCache, ref.live.SemanticCache
    bad = smallest_counterexample(workloads, lambda ops: _same(cls, ref_cls, ops))
    if bad is None:
        return
    expected = _replay(ref_cls, bad)
    steps = [f"{i + 1}. {words}" for i, (words, _) in enumerate(expected)]
    try:
        got = _replay(cls, bad)
    except Exception as exc:
        raise CheckFailed(
            f"This (smallest) sequence of operations makes your cache fail (threshold {THRESHOLD}, max_entries "
            f"{MAX_ENTRIES}, ttl {TTL:g} s, 6 random vectors t0..t5): " + "; ".join(steps),
            input="; ".join(steps),
            expected=[answer for _, answer in expected if answer is not None] or "no error",
            actual=f"{type(exc).__name__}: {exc}"[:300],
        ) from None
    index = next(i for i, (mine, theirs) in enumerate(zip(got, expected, strict=True)) if mine[1] != theirs[1])
    raise CheckFailed(
        f"Answers differ from the reference at step {index + 1} of this (smallest) sequence of operations "
        f"(threshold {THRESHOLD}, max_entries {MAX_ENTRIES}, ttl {TTL:g} s, 6 random vectors t0..t5).",
        input="; ".join(steps[: index + 1]),
        expected=f"{expected[index][0]} -> {expected[index][1]!r}",
        actual=f"{got[index][0]} -> {got[index][1]!r}",
    )
