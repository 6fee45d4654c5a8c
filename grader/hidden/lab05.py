"""Hidden checks for lab 05: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

from typing import Any, cast

from hypothesis import strategies as st

from ..checks.common import smallest_counterexample
from ..checks.lab05 import (
    CACHE_HIT,
    COST,
    ERROR,
    LATENCY,
    first_difference,
    run_export,
    run_steps,
    step_words,
)
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check

Plain = Any

# --- alerts on generated streams ------------------------------------------------------------------------

RULES: list[Plain] = [
    ("rule", LATENCY, ">", 2000.0, "High latency", 30.0, None),
    ("rule", LATENCY, ">", 1000.0, "Latency above 1 s", 5.0, None),
    ("rule", COST, ">", 0.1, "Cost per request too high", 0.0, None),
]
records = st.one_of(
    st.tuples(st.just("record"), st.just(LATENCY), st.sampled_from([100.0, 999.0, 1000.0, 1500.0, 2000.0, 2500.0])),
    st.tuples(st.just("record"), st.just(COST), st.sampled_from([0.0, 0.1, 0.2])),
    st.tuples(st.just("wait"), st.sampled_from([0.5, 1.0, 4.0, 5.0, 25.0, 30.0])),
    st.tuples(st.just("summary"), st.sampled_from([LATENCY, COST])),
)
streams = st.tuples(
    st.sampled_from([{}, {"window_size": 3}, {"max_age": 10.0}]),
    st.lists(records, min_size=1, max_size=30),
)


def _explain(reference: Any, learner: Namespace, setup: dict[str, Any], steps: list[Plain]) -> None:
    expected, got = run_steps(reference, setup, steps), run_steps(learner, setup, steps)
    for index, (want, have) in enumerate(zip(expected, got, strict=True)):
        if first_difference(want, have) is not None:
            shown = (
                [step_words(s) for s in steps[: index + 1]]
                if index < len(steps)
                else [step_words(s) for s in steps] + ["monitor.alerts"]
            )
            raise CheckFailed(
                f"Step {index + 1} of this (smallest) generated sequence differs from the reference's.",
                input=f"MLMonitor({setup}); " + "; ".join(shown),
                expected=want,
                actual=have,
            )


@check(
    "05-alerts-generated",
    1,
    "on generated streams of values, alerts and history equal the reference's (a hidden check, graded by the "
    "instructor)",
    "Every rule of exercises 2-3 at once: the window by count and age, summaries, conditions, cooldowns counted "
    "from the last firing, several rules on one metric.",
    visibility="hidden",
)
def alerts_generated(learner: Namespace, ref: Reference) -> None:
    reference = ref.live

    def same(case: tuple[dict[str, Any], list[Plain]]) -> bool:
        setup, steps = case
        steps = RULES + steps
        return first_difference(run_steps(reference, setup, steps), run_steps(learner, setup, steps)) is None

    bad = smallest_counterexample(cast(st.SearchStrategy[Any], streams), same)
    if bad is None:
        return
    setup, steps = bad
    _explain(reference, learner, setup, RULES + steps)
    raise CheckFailed("The run differs from the reference's.", input=(setup, steps))


# --- the export on generated traffic ----------------------------------------------------------------------

requests = st.lists(
    st.tuples(
        st.sampled_from([5.0, 300.0, 900.0, 2500.0]),
        st.sampled_from([0.0, 0.0, 1.0]),
        st.sampled_from([0.0, 0.0005, 0.004, 0.2]),
        st.sampled_from([0.0, 1.0]),
        st.sampled_from([0.0, 1.0, 10.0]),
    ),
    min_size=0,
    max_size=24,
)
traffic_cases = st.tuples(
    st.sampled_from([{}, {"window_size": 25}, {"max_age": 20.0}]), requests, st.sampled_from([1000.0, 100_000.0])
)
EXPORT_RULES: list[Plain] = [
    ("rule", LATENCY, ">", 2000.0, "Slow request", 5.0, None),
    ("rule", ERROR, ">", 0.2, "Error rate above 20% over the last 5 requests", 3.0, 5),
]


def _steps(rows: list[tuple[float, float, float, float, float]]) -> list[Plain]:
    steps: list[Plain] = list(EXPORT_RULES)
    for latency, error, cost, hit, wait in rows:
        steps += [
            ("record", LATENCY, latency),
            ("record", ERROR, error),
            ("record", COST, cost),
            ("record", CACHE_HIT, hit),
            ("wait", wait),
        ]
    return steps


@check(
    "05-dashboard-generated",
    2,
    "on generated traffic, the whole export equals the reference's (a hidden check, graded by the instructor)",
    "Every part of the export at once: summaries over the window, the alert history with windowed rules, spent "
    "over everything recorded, the projection, trends and the recommendations' thresholds and minimum count.",
    visibility="hidden",
    part="stretch",
)
def dashboard_generated(learner: Namespace, ref: Reference) -> None:
    reference = ref.live

    def same(case: tuple[dict[str, Any], list[Plain], float]) -> bool:
        setup, rows, per_day = case
        steps = _steps(rows)
        want = run_export(reference, setup, steps, per_day)
        return first_difference(want, run_export(learner, setup, steps, per_day)) is None

    bad = smallest_counterexample(cast(st.SearchStrategy[Any], traffic_cases), same)
    if bad is None:
        return
    setup, rows, per_day = bad
    steps = _steps(rows)
    want, got = run_export(reference, setup, steps, per_day), run_export(learner, setup, steps, per_day)
    difference = first_difference(want, got)
    path, wanted, found = difference if difference else ("the export", want, got)
    raise CheckFailed(
        f"On this (smallest) generated traffic, the export differs from the reference's at {path}.",
        input=f"MLMonitor({setup}); {len(rows)} requests (latency, error, cost, cache hit, then wait s): {rows}; "
        f"export_dashboard({per_day:g})",
        expected=wanted,
        actual=found,
    )
