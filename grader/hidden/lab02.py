"""Hidden checks for lab 02: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..checks.common import smallest_counterexample
from ..checks.lab02 import table_embedder
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check

# --- differential test on generated workloads --------------------------------------------------

workloads = st.lists(
    st.tuples(st.sampled_from(["add", "find"]), st.integers(0, 5), st.sampled_from(["", "s1"])),
    min_size=1,
    max_size=25,
)


def _replay(ns_cache_cls, ops, dims: int = 6):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    table = {f"t{i}": list(rng.standard_normal(dims)) for i in range(6)}
    cache = ns_cache_cls(similarity_threshold=0.3, max_entries=4, embed=table_embedder(table))
    answers = []
    for op, i, scope_name in ops:
        if op == "add":
            cache.add(f"t{i}", f"r{i}", scope=scope_name)
        else:
            answers.append(cache.find_similar(f"t{i}", scope=scope_name))
    return answers


@check(
    "02-generated",
    2,
    "on generated add/find sequences, answers equal the reference's",
    "Combine the rules: same scope, best similarity at or above the threshold, LRU eviction at max_entries.",
    visibility="hidden",
    part="stretch",
)
def generated(learner: Namespace, ref: Reference) -> None:
    cls, ref_cls = learner.SemanticCache, ref.live.SemanticCache
    bad = smallest_counterexample(workloads, lambda ops: _replay(cls, ops) == _replay(ref_cls, ops))
    if bad is not None:
        try:
            got: object = _replay(cls, bad)
        except Exception as exc:
            got = f"{type(exc).__name__}: {exc}"
        raise CheckFailed(
            "Answers differ from the reference on this (smallest) sequence of operations "
            "(threshold 0.3, max_entries 4).",
            input=bad,
            expected=_replay(ref_cls, bad),
            actual=got,
        )
