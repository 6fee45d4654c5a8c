"""Hidden checks for lab 03: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ..checks.common import smallest_counterexample
from ..checks.lab03 import FALLBACKS, _row_words, _step_words, run_breaker, run_requests, words
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check

# --- the whole boundary on generated fault sequences --------------------------------------------------

STEPS = ["ok", "429", "429:1", "429ms:250", "timeout", "hang:12", "500", "conn", "invalid", "bug"]
scripts = st.lists(st.lists(st.sampled_from(STEPS), min_size=1, max_size=5), min_size=1, max_size=6)
chains = st.sampled_from([FALLBACKS, ("template",), ("timeout", "rate_limit"), ("rate_limit", "timeout", "template")])


@check(
    "03-generated",
    1,
    "on generated fault sequences, answers and metrics equal the reference's (a hidden check, graded by the "
    "instructor)",
    "Every rule of exercises 1-3 at once: fallback order, can_handle, the retries and their waits, metrics.",
    visibility="hidden",
)
def generated(learner: Namespace, ref: Reference) -> None:
    reference = ref.live

    def same(case: tuple[tuple[str, ...], list[list[str]]]) -> bool:
        chain, requests = case
        return bool(run_requests(learner, chain, requests) == run_requests(reference, chain, requests))

    bad = smallest_counterexample(st.tuples(chains, scripts), same)
    if bad is None:
        return
    chain, requests = bad
    expected, got = run_requests(reference, chain, requests), run_requests(learner, chain, requests)
    where = f"fallbacks {list(chain)}; primary steps per request {requests}"
    for index, (want, have) in enumerate(zip(expected["requests"], got["requests"], strict=True)):
        if want != have:
            raise CheckFailed(
                f"Request {index + 1} differs from the reference's.",
                input=where,
                expected=f"{words(want['outcome'])}; calls {want['calls']}",
                actual=f"{words(have['outcome'])}; calls {have['calls']}",
            )
    for key in ("sleeps", "metrics"):
        if expected[key] != got[key]:
            raise CheckFailed(
                f"The {key} differ from the reference's.", input=where, expected=expected[key], actual=got[key]
            )
    raise CheckFailed("The run differs from the reference's.", input=where, expected=expected, actual=got)


# --- the breaker on generated call sequences ------------------------------------------------------------

Step = tuple[Any, ...]
breaker_steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.sampled_from(["ok", "ok", "500", "429:20", "bug"])),
        st.tuples(st.just("wait"), st.sampled_from([1.0, 5.0, 10.0, 20.0])),
    ),
    min_size=1,
    max_size=30,
)
SETTINGS = {"failure_threshold": 0.4, "window": 5, "min_calls": 3, "cooldown": 10.0, "half_open_probes": 1}


@check(
    "03-breaker-generated",
    2,
    "on generated call sequences, every state and refusal equals the reference's (a hidden check, graded by the "
    "instructor)",
    "Every rule of S2 at once: the rolling window, min_calls, the threshold, cooldown and retry-after, probes.",
    visibility="hidden",
    part="stretch",
)
def breaker_generated(learner: Namespace, ref: Reference) -> None:
    reference = ref.live

    def same(steps: list[Step]) -> bool:
        return bool(run_breaker(learner, steps, **SETTINGS) == run_breaker(reference, steps, **SETTINGS))

    bad = smallest_counterexample(breaker_steps, same)
    if bad is None:
        return
    expected, got = run_breaker(reference, bad, **SETTINGS), run_breaker(learner, bad, **SETTINGS)
    for index, (want, have) in enumerate(zip(expected["rows"], got["rows"], strict=True)):
        if want != have:
            raise CheckFailed(
                f"The breaker differs from the reference's at step {index + 1}.",
                input=f"CircuitBreaker({SETTINGS}); steps: {'; '.join(_step_words(s) for s in bad[: index + 1])}",
                expected=_row_words(want),
                actual=_row_words(have),
            )
    raise CheckFailed(
        "The transitions differ from the reference's.",
        input=f"CircuitBreaker({SETTINGS}); steps: {'; '.join(_step_words(s) for s in bad)}",
        expected=expected["transitions"],
        actual=got["transitions"],
    )
