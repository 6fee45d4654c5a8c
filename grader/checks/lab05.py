"""Checks for lab 05, the monitoring dashboard.

Percentiles are compared with numpy itself (``np.percentile``, linear interpolation), on
fixed and generated data. The monitor runs on a fake clock (``Clock``): time moves only
when a check moves it, so a window's age, an alert's time and a cooldown are exact and
no verdict depends on how busy the machine is. Scenarios are lists of plain steps,
replayed on the learner's ``MLMonitor`` and on the reference's, and compared as plain
data (recorded for the student kit). The Prometheus checks parse the learner's
exposition back with ``prometheus_client``'s own parser and compare it with counts the
check computes itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import Clock, call, close

LATENCY, ERROR, COST, CACHE_HIT = "latency_ms", "error", "cost_usd", "cache_hit"
SUMMARY_KEYS = ("count", "mean", "min", "max", "p50", "p95", "p99")
EXPORT_KEYS = ("generated_at", "metrics", "alerts", "cost", "trends", "recommendations")

Plain = Any


# --- comparing plain data, floats with a tolerance ------------------------------------------------------


def first_difference(want: Plain, got: Plain, path: str = "") -> tuple[str, Plain, Plain] | None:
    """(where, expected, got) of the first difference between two plain values, or None."""
    if isinstance(want, bool) or isinstance(got, bool):
        return None if want is got or (type(want) is type(got) and want == got) else (path or "value", want, got)
    if isinstance(want, int | float) and isinstance(got, int | float | np.number) and not isinstance(got, bool):
        if math.isnan(float(got)) or not close(float(want), float(got), 1e-9):
            return (path or "value", want, got)
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return (path or "value", want, got)
        for key in want:
            if key not in got:
                return (f"{path}[{key!r}]", want[key], "(missing)")
        for key in got:
            if key not in want:
                return (f"{path}[{key!r}]", "(no such key)", got[key])
        for key in want:
            found = first_difference(want[key], got[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(want, list | tuple):
        if not isinstance(got, list | tuple) or len(got) != len(want):
            return (path or "value", want, got)
        for index, (a, b) in enumerate(zip(want, got, strict=True)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if want == got else (path or "value", want, got)


# --- exercise 1: percentiles --------------------------------------------------------------------------


def numpy_percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _guesses() -> dict[str, Callable[[list[float], float], float]]:
    """The usual wrong definitions of a percentile, by the words that name them."""

    def rank(values: list[float], q: float) -> float:
        s = sorted(values)
        return s[min(len(s) - 1, int(q / 100 * len(s)))]

    def rounded(values: list[float], q: float) -> float:
        s = sorted(values)
        return s[min(len(s) - 1, round((len(s) - 1) * q / 100))]

    return {
        "sorted(v)[int(q / 100 * n)] (nearest rank): use linear interpolation between the two closest values": rank,
        "sorted(v)[round(...)] (a rounded position): interpolate instead of rounding the position": rounded,
        "the position q / 100 * n: numpy's is (n - 1) * q / 100": lambda v, q: _interpolate(
            sorted(v), q / 100 * len(v)
        ),
        "the values were not sorted first": lambda v, q: _interpolate(list(v), (len(v) - 1) * q / 100),
        "the position (n + 1) * q / 100 - 1 (statistics.quantiles' default 'exclusive' method): numpy's is "
        "(n - 1) * q / 100": lambda v, q: _interpolate(sorted(v), (len(v) + 1) * q / 100 - 1),
    }


def _mistake(results: list[tuple[list[float], float, float]]) -> str:
    """A guess at the cause: the wrong definition that gives every one of ``results`` (values, q, answer)."""
    for cause, guess in _guesses().items():
        if all(close(guess(v, q), got, 1e-9) for v, q, got in results):
            return f" Your answers are what {cause} gives."
    return ""


def _interpolate(s: list[float], position: float) -> float:
    position = min(max(position, 0.0), len(s) - 1)
    i = math.floor(position)
    if i + 1 >= len(s):
        return float(s[-1])
    return float(s[i] + (s[i + 1] - s[i]) * (position - i))


def learner_percentile(learner: Namespace, values: list[float], q: float) -> Any:
    copy = list(values)
    got = call(f"percentile({values!r}, {q!r})", learner.percentile, copy, q)
    if copy != list(values):
        raise CheckFailed(
            "percentile changed the list it was given (sorted it in place?): the caller's window is now out of "
            "order. Use sorted(values), which makes a sorted copy.",
            input=f"percentile({values!r}, {q!r})",
            expected=f"the list left as {values!r}",
            actual=f"the list became {copy!r}",
        )
    return got


def judge_percentile(learner: Namespace, values: list[float], q: float) -> None:
    expected = numpy_percentile(values, q)
    got = learner_percentile(learner, values, q)
    if not isinstance(got, int | float | np.floating) or isinstance(got, bool):
        raise CheckFailed(
            "percentile must return a number (a float).",
            input=f"percentile({values!r}, {q!r})",
            expected=expected,
            actual=got,
        )
    if math.isnan(float(got)) or not close(float(got), expected, 1e-9):
        raise CheckFailed(
            "Wrong percentile: it differs from np.percentile (linear interpolation)."
            + _mistake([(values, q, float(got))]),
            input=f"percentile({values!r}, {q!r})",
            expected=round(expected, 9),
            actual=got,
        )


FIXED_PERCENTILES: list[tuple[list[float], float]] = [
    ([1.0, 2.0, 3.0, 4.0], 95),
    ([1.0, 2.0, 3.0, 4.0], 50),
    ([10.0, 20.0], 25),
    ([3.0, 1.0, 2.0], 50),
    ([7.5], 99),
    ([400.0, 120.0, 95.0, 3000.0, 150.0, 210.0, 180.0, 99.0, 130.0, 2200.0], 95),
    ([400.0, 120.0, 95.0, 3000.0, 150.0, 210.0, 180.0, 99.0, 130.0, 2200.0], 99),
    ([5.0, 1.0, 4.0, 2.0, 3.0], 0),
    ([5.0, 1.0, 4.0, 2.0, 3.0], 100),
    ([-3.0, -1.0, -2.0], 40),
    ([1, 2, 3, 4, 5, 6], 10),
]


@check(
    "05-percentile-fixed",
    1,
    "percentile matches np.percentile on small fixed lists, in any order",
    "Sort a copy (sorted(values)); the position is (n - 1) * q / 100; interpolate between the values on either "
    "side of it: s[i] + (s[i + 1] - s[i]) * (position - i).",
)
def percentile_fixed(learner: Namespace, ref: Reference) -> None:
    results = []
    for values, q in FIXED_PERCENTILES:
        got = learner_percentile(learner, values, q)
        if not isinstance(got, int | float | np.floating) or isinstance(got, bool) or math.isnan(float(got)):
            judge_percentile(learner, values, q)  # the verdict for a non-number
        results.append((values, q, float(got)))
    for values, q, got in results:
        expected = numpy_percentile(values, q)
        if not close(got, expected, 1e-9):
            raise CheckFailed(
                "Wrong percentile: it differs from np.percentile (linear interpolation)." + _mistake(results),
                input=f"percentile({values!r}, {q!r})",
                expected=round(expected, 9),
                actual=got,
            )


windows = st.tuples(
    st.lists(
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), st.integers(0, 5000).map(float)),
        min_size=1,
        max_size=60,
    ),
    st.one_of(st.sampled_from([0.0, 1.0, 50.0, 95.0, 99.0, 99.9, 100.0]), st.floats(0, 100)),
)


@check(
    "05-percentiles",
    2,
    "percentile matches np.percentile on generated data and every q from 0 to 100",
    "Every q works the same way: position (n - 1) * q / 100, interpolated; at the last value there is no "
    "s[i + 1] (return s[-1]). Do not sort the caller's list in place.",
)
def percentiles(learner: Namespace, ref: Reference) -> None:
    def holds(case: tuple[list[float], float]) -> bool:
        values, q = case
        for quantile in (q, *range(0, 101, 5)):
            judge_percentile(learner, values, quantile)
        return True

    bad = ref.counterexample("05-percentiles", windows, holds)
    if bad is None:
        return
    values, q = bad
    for quantile in (q, *range(0, 101, 5)):
        judge_percentile(learner, values, quantile)  # raises the verdict that names the cause
    raise CheckFailed("percentile fails on this (smallest) generated list.", input=(values, q))


# --- the monitor, replayed as plain steps ----------------------------------------------------------------

CONDITIONS: dict[str, Callable[..., bool]] = {
    ">": lambda x, limit: x > limit,
    "<": lambda x, limit: x < limit,
}


def make_monitor(ns: Namespace, clock: Clock, window_size: int = 1000, max_age: float | None = None) -> Any:
    return call(
        f"MLMonitor(window_size={window_size}, max_age={max_age}, clock=...)",
        ns.MLMonitor,
        window_size=window_size,
        max_age=max_age,
        clock=clock,
    )


def alert_view(alert: Any) -> Plain:
    """An alert as (time, metric, value, message)."""
    if isinstance(alert, dict):
        fields: list[Any] = [alert.get(k) for k in ("time", "metric", "value", "message")]
    else:
        fields = [getattr(alert, k, None) for k in ("time", "metric", "value", "message")]
    try:
        return (float(fields[0]), str(fields[1]), float(fields[2]), str(fields[3]))
    except (TypeError, ValueError):
        return ("not an Alert", repr(alert)[:120])


def alerts_view(alerts: Any, what: str) -> Plain:
    if alerts is None:
        return ("returned None", what)
    try:
        return [alert_view(a) for a in alerts]
    except TypeError:
        return ("not a list", repr(alerts)[:120])


def summary_view(summary: Any) -> Plain:
    if not isinstance(summary, dict):
        return ("not a dict", repr(summary)[:160])
    return {
        key: (None if value is None else float(value)) if key != "count" else value for key, value in summary.items()
    }


def run_steps(ns: Namespace, setup: dict[str, Any], steps: list[Plain]) -> list[Plain]:
    """Replay ``steps`` on a fresh monitor: one plain result per step, then the alert history.

    Steps: ``("wait", s)``, ``("record", metric, value)``, ``("record_at", metric, value, at)``
    (``at`` relative to the start), ``("summary", metric)``, ``("window", metric)``,
    ``("total", metric)``, ``("rule", metric, op, limit, message, cooldown, window)``.
    """
    clock = Clock()
    start = clock.now
    monitor = make_monitor(ns, clock, setup.get("window_size", 1000), setup.get("max_age"))
    out: list[Plain] = []
    for step in steps:
        kind = step[0]
        if kind == "wait":
            clock.now += step[1]
            out.append(None)
        elif kind == "rule":
            _, metric, op, limit, message, cooldown, window = step
            kwargs: dict[str, Any] = {"cooldown": cooldown}
            if window is not None:
                kwargs["window"] = window
            call(
                f"add_alert({metric!r}, lambda x: x {op} {limit}, {message!r}, **{kwargs})",
                monitor.add_alert,
                metric,
                partial(CONDITIONS[op], limit=limit),
                message,
                **kwargs,
            )
            out.append(None)
        elif kind in ("record", "record_at"):
            metric, value = step[1], step[2]
            if kind == "record":
                fired = call(f"record({metric!r}, {value!r})", monitor.record, metric, value)
            else:
                fired = call(
                    f"record({metric!r}, {value!r}, at={start + step[3]})",
                    monitor.record,
                    metric,
                    value,
                    start + step[3],
                )
            out.append(alerts_view(fired, "record returns the alerts it fired, a list"))
        elif kind == "summary":
            out.append(summary_view(call(f"get_summary({step[1]!r})", monitor.get_summary, step[1])))
        elif kind == "window":
            got = call(f"window({step[1]!r})", monitor.window, step[1])
            try:
                out.append([float(v) for v in got])
            except TypeError:
                out.append(("not a list of values", repr(got)[:120]))
        elif kind == "total":
            out.append(float(monitor.totals.get(step[1], 0.0)))
        else:
            raise ValueError(f"unknown step {step!r}")
    history = getattr(monitor, "alerts", None)
    out.append(alerts_view(history, "monitor.alerts, the history"))
    return out


def step_words(step: Plain) -> str:
    kind = step[0]
    if kind == "wait":
        return f"wait {step[1]:g} s"
    if kind == "rule":
        _, metric, op, limit, message, cooldown, window = step
        extra = f", window={window}" if window is not None else ""
        return f"add_alert({metric!r}, lambda x: x {op} {limit:g}, {message!r}, cooldown={cooldown:g}{extra})"
    if kind == "record":
        return f"record({step[1]!r}, {step[2]:g})"
    if kind == "record_at":
        return f"record({step[1]!r}, {step[2]:g}, at=start + {step[3]:g})"
    return f"{kind}({step[1]!r})"


def compare_steps(
    learner: Namespace, ref: Reference, name: str, setup: dict[str, Any], steps: list[Plain], cause: Callable[..., str]
) -> None:
    """The learner's replay against the reference's; the first differing step, in words, with ``cause``'s guess."""
    expected = ref.value(("steps", name, setup, steps), partial(run_steps, setup=setup, steps=steps))
    got = run_steps(learner, setup, steps)
    where = ", ".join(f"{k}={v}" for k, v in setup.items()) or "defaults"
    done: list[str] = []
    for index, (want, have) in enumerate(zip(expected, got, strict=True)):
        words = step_words(steps[index]) if index < len(steps) else "monitor.alerts (the history)"
        done.append(words)
        difference = first_difference(want, have)
        if difference is not None:
            path, wanted, found = difference
            raise CheckFailed(
                f"Step {index + 1} differs from the reference"
                + (f" (at {path})" if path != "value" else "")
                + ". "
                + cause(steps[: index + 1], wanted, found, want, have),
                input=f"MLMonitor({where}, clock starting at 1000 s); " + "; ".join(done[-8:]),
                expected=want,
                actual=have,
            )


# --- exercise 2: the window and its summary ----------------------------------------------------------


def _summary_cause(steps: list[Plain], wanted: Plain, found: Plain, want: Plain, have: Plain) -> str:
    if isinstance(have, tuple) and have and have[0] == "not a dict":
        return "get_summary returns a dict."
    if isinstance(want, dict) and isinstance(have, dict) and set(want) != set(have):
        return f"The summary's keys are exactly {list(SUMMARY_KEYS)}."
    if isinstance(want, dict) and want.get("count") == 0:
        return "An empty window's summary has count 0 and None for every other key."
    if isinstance(want, list) and isinstance(have, tuple):
        return "record returns the list check_alerts gives (the given last line): keep it."
    return "Each statistic is over the window's values (mean = sum / count; p50, p95, p99 with your percentile)."


@check(
    "05-summary",
    1,
    "record and get_summary: count, mean, min, max and percentiles of what was recorded; None when empty",
    "record appends (time, float(value)) to self.metrics[metric]; get_summary takes self.window(metric) and "
    "returns count, mean, min, max and percentile(values, 50 / 95 / 99); count 0 and None for the rest when empty.",
)
def summary(learner: Namespace, ref: Reference) -> None:
    latencies = [120.0, 80.0, 300.0, 95.0, 4000.0, 210.0, 150.0]
    got = run_steps(learner, {}, [("summary", "never recorded")])[0]
    expected: dict[str, Any] = {"count": 0, **{k: None for k in SUMMARY_KEYS[1:]}}
    if first_difference(expected, got) is not None:
        raise CheckFailed(
            _summary_cause([], None, None, expected, got),
            input="get_summary of a metric never recorded",
            expected=expected,
            actual=got,
        )
    steps: list[Plain] = [("record", LATENCY, v) for v in latencies] + [("summary", LATENCY)]
    got = run_steps(learner, {}, steps)
    for index, fired in enumerate(got[: len(latencies)]):
        if fired != []:
            raise CheckFailed(
                "With no alert rules, record returns an empty list (what check_alerts returns: keep the given "
                "last line).",
                input=step_words(steps[index]),
                expected=[],
                actual=fired,
            )
    values = np.asarray(latencies)
    expected = {
        "count": len(latencies),
        "mean": float(values.mean()),
        "min": float(values.min()),
        "max": float(values.max()),
        **{f"p{q}": float(np.percentile(values, q)) for q in (50, 95, 99)},
    }
    difference = first_difference(expected, got[len(latencies)])
    if difference is not None:
        raise CheckFailed(
            f"Wrong summary (at {difference[0]}): numpy on the same values gives the expected one. "
            + _summary_cause([], None, None, expected, got[len(latencies)]),
            input=f"record latency_ms {latencies}; get_summary('latency_ms')",
            expected=expected,
            actual=got[len(latencies)],
        )
    try:
        json.dumps(learner.MLMonitor(clock=Clock()).get_summary("never recorded"))
    except (TypeError, ValueError) as exc:
        raise CheckFailed("The summary must be plain values (json.dumps fails on it).", actual=f"{exc}") from None
    compare_steps(learner, ref, "summary", {}, steps, _summary_cause)


def _window_cause(steps: list[Plain], wanted: Plain, found: Plain, want: Plain, have: Plain) -> str:
    last = steps[-1] if steps else ("",)
    waits = any(s[0] == "wait" for s in steps)
    if last[0] == "total":
        return (
            "self.totals[metric] is the sum of every value ever recorded, including those that have left the window "
            "(add each value in record)."
        )
    if any(s[0] == "record_at" for s in steps):
        return (
            "A value recorded with `at` is as old as its `at` says: record stores (at, value) when `at` is given "
            "(else clock()), and the window drops values with clock() - time > max_age."
        )
    if last[0] in ("window", "summary") and waits:
        return (
            "Values older than max_age leave the window: drop (time, value) pairs with clock() - time > max_age "
            "(exactly max_age old stays), using the monitor's clock, and the time given as `at` when there is one."
        )
    if last[0] in ("window", "summary"):
        return "The window keeps the last window_size values of each metric, oldest first, separately per metric."
    return ""


WINDOW_STEPS: list[tuple[str, dict[str, Any], list[Plain]]] = [
    (
        "count",
        {"window_size": 3},
        [("record", LATENCY, float(v)) for v in (5, 1, 4, 2, 3)]
        + [("record", COST, 0.5), ("window", LATENCY), ("summary", LATENCY), ("window", COST), ("total", LATENCY)],
    ),
    (
        "age",
        {"max_age": 10.0},
        [
            ("record", LATENCY, 100.0),
            ("wait", 5.0),
            ("record", LATENCY, 200.0),
            ("wait", 5.0),
            ("window", LATENCY),  # the first value is exactly 10 s old: it stays
            ("wait", 0.5),
            ("window", LATENCY),
            ("summary", LATENCY),
            ("wait", 100.0),
            ("window", LATENCY),
            ("summary", LATENCY),
            ("total", LATENCY),
            ("record", LATENCY, 300.0),
            ("window", LATENCY),
        ],
    ),
    (
        "at",
        {"max_age": 10.0},
        [
            ("record_at", ERROR, 1.0, -20.0),
            ("window", ERROR),
            ("record_at", COST, 0.25, -5.0),
            ("window", COST),
            ("wait", 6.0),
            ("window", COST),
        ],
    ),
    (
        "both",
        {"window_size": 4, "max_age": 30.0},
        [step for v in range(6) for step in (("record", LATENCY, float(v)), ("wait", 10.0))]
        + [("window", LATENCY), ("summary", LATENCY), ("window", "never recorded")],
    ),
]


@check(
    "05-window",
    2,
    "the window keeps the last window_size values and drops those older than max_age",
    "deque(maxlen=window_size) drops by count; in window(), pop from the left while clock() - time > max_age; "
    "record stores `at` when given (else clock()), and adds every value to self.totals.",
)
def window(learner: Namespace, ref: Reference) -> None:
    for name, setup, steps in WINDOW_STEPS:
        compare_steps(learner, ref, f"window-{name}", setup, steps, _window_cause)


# --- exercise 3: alerts with a cooldown ----------------------------------------------------------------


def _alert_cause(steps: list[Plain], wanted: Plain, found: Plain, want: Plain, have: Plain) -> str:
    if isinstance(have, tuple):
        return "record returns the list of alerts check_alerts fired, and monitor.alerts is a list of Alert."
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return (
            "An alert is Alert(at, metric, value, rule.message): the time the value was recorded at (the `at` of "
            "record), not another clock reading, and the value the rule judged."
        )
    if isinstance(want, list) and isinstance(have, list) and len(want) > len(have):
        if any(s[0] == "wait" for s in steps) or any(s[0] == "record_at" for s in steps):
            return (
                "A rule should have fired here: when its condition holds and it has not fired within its cooldown "
                "(at - last_fired >= cooldown fires again; the cooldown counts from the last firing, on the record's "
                "time)."
            )
        return "A rule should have fired here: its condition holds for the value."
    if isinstance(want, list) and isinstance(have, list) and len(want) < len(have):
        return (
            "A rule fired that should not have: its condition does not hold, or it is still cooling down "
            "(at - rule.last_fired < rule.cooldown: stay quiet), and a rule fires only for its own metric."
        )
    return "The alerts differ: each rule fires when its condition holds and it is not cooling down, in the order added."


ALERT_STEPS: list[Plain] = [
    ("rule", LATENCY, ">", 2000.0, "High latency", 300.0, None),
    ("rule", COST, ">", 0.1, "Cost per request too high", 300.0, None),
    ("record", LATENCY, 100.0),
    ("record", LATENCY, 2000.0),
    ("wait", 1.0),
    ("record", COST, 3000.0),
    ("record", LATENCY, 2500.0),
    ("rule", CACHE_HIT, "<", 0.5, "Cache missing", 0.0, None),
    ("rule", CACHE_HIT, "<", 0.9, "Cache below 90%", 0.0, None),
    ("wait", 2.0),
    ("record", CACHE_HIT, 0.2),
    ("record", CACHE_HIT, 0.7),
]


@check(
    "05-alert",
    1,
    "a rule fires when its condition holds, into the history and the returned list, and not otherwise",
    "add_alert appends Rule(metric, condition, message, cooldown, window) to self.rules[metric]; check_alerts "
    "loops over the metric's rules and, when rule.condition(value) holds, appends Alert(at, metric, value, "
    "rule.message) to self.alerts and to the list it returns.",
)
def alert(learner: Namespace, ref: Reference) -> None:
    clock = Clock()
    monitor = make_monitor(learner, clock)
    rule = call("add_alert(...)", monitor.add_alert, LATENCY, lambda x: x > 2000, "High latency")
    if not isinstance(rule, learner.Rule):
        raise CheckFailed(
            "add_alert returns the Rule it added.",
            input="add_alert('latency_ms', lambda x: x > 2000, 'High latency')",
            expected="a Rule",
            actual=rule,
        )
    if getattr(rule, "cooldown", None) != 300.0:
        raise CheckFailed(
            "add_alert's default cooldown is 300 s (keep the given signature, and pass cooldown to the Rule).",
            expected=300.0,
            actual=getattr(rule, "cooldown", None),
        )
    compare_steps(learner, ref, "alert", {}, ALERT_STEPS, _alert_cause)


COOLDOWN_STEPS: list[Plain] = [
    ("rule", LATENCY, ">", 2000.0, "High latency", 60.0, None),
    ("rule", LATENCY, ">", 1000.0, "Latency above 1 s", 10.0, None),
    ("record", LATENCY, 3000.0),  # both fire
    ("wait", 5.0),
    ("record", LATENCY, 3000.0),  # both cooling down
    ("wait", 5.0),
    ("record", LATENCY, 1500.0),  # the 10 s rule fires again, exactly 10 s later
    ("wait", 20.0),
    ("record", LATENCY, 2500.0),  # 30 s: only the 10 s rule
    ("wait", 29.9),
    ("record", LATENCY, 2500.0),  # 59.9 s: the 60 s rule still cools down
    ("wait", 0.1),
    ("record", LATENCY, 2500.0),  # 60 s after its firing: fires again
    ("wait", 1.0),
    ("record", LATENCY, 100.0),
    ("wait", 200.0),
    ("record", LATENCY, 100.0),
    ("record", LATENCY, 5000.0),
]

COOLDOWN_AT_STEPS: list[Plain] = [
    ("rule", ERROR, ">", 0.5, "Request failed", 30.0, None),
    ("record_at", ERROR, 1.0, 0.0),
    ("record_at", ERROR, 1.0, 29.0),
    ("record_at", ERROR, 1.0, 30.0),
    ("record_at", ERROR, 1.0, 45.0),
    ("record_at", ERROR, 1.0, 100.0),
]


@check(
    "05-cooldown",
    2,
    "a rule that fired stays quiet for its cooldown, then fires again; rules cool down apart",
    "Keep the time of the last firing on the rule (rule.last_fired = at); skip a rule while "
    "at - rule.last_fired < rule.cooldown. Time is the record's `at`, and a hold during the cooldown does not "
    "restart it.",
)
def cooldown(learner: Namespace, ref: Reference) -> None:
    compare_steps(learner, ref, "cooldown", {}, COOLDOWN_STEPS, _alert_cause)
    compare_steps(learner, ref, "cooldown-at", {}, COOLDOWN_AT_STEPS, _alert_cause)


# --- stretch S1: rules over a window ------------------------------------------------------------------


def _windowed_cause(steps: list[Plain], wanted: Plain, found: Plain, want: Plain, have: Plain) -> str:
    records = sum(1 for s in steps if s[0] in ("record", "record_at") and s[1] == ERROR)
    if isinstance(want, list) and isinstance(have, list) and len(have) > len(want) and records < 5:
        return (
            "A rule with window=5 is judged only once there are 5 values in the window: fewer than N values are "
            "too few to judge a rate."
        )
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return "A windowed rule's alert carries the mean it judged (the rate), as its value."
    return (
        "A rule with window=N judges the mean of the last N values of the window (the new one included): "
        "condition(mean), with the same cooldown."
    )


WINDOWED_STEPS: list[Plain] = [
    ("rule", ERROR, ">", 0.4, "Error rate above 40% over the last 5 requests", 10.0, 5),
    ("rule", ERROR, ">", 0.5, "A request failed", 1000.0, None),
    ("record", ERROR, 1.0),
    ("record", ERROR, 1.0),
    ("record", ERROR, 0.0),
    ("record", ERROR, 1.0),
    ("record", ERROR, 0.0),  # 5 values, mean 0.6: fires
    ("wait", 10.0),
    ("record", ERROR, 0.0),  # last 5: 1, 0, 1, 0, 0 = 0.4: not above
    ("record", ERROR, 1.0),  # 0, 1, 0, 0, 1 = 0.4
    ("record", ERROR, 1.0),  # 1, 0, 0, 1, 1 = 0.6: fires (10 s after)
    ("wait", 100.0),
    ("record", ERROR, 0.0),  # 0, 0, 1, 1, 0 = 0.4
    ("record", ERROR, 1.0),  # 0, 1, 1, 0, 1 = 0.6: fires
]

WINDOWED_AGE_STEPS: list[Plain] = [
    ("rule", ERROR, ">", 0.5, "Error rate above 50% over the last 3 requests", 0.0, 3),
    ("record", ERROR, 1.0),
    ("record", ERROR, 1.0),
    ("wait", 30.0),
    ("record", ERROR, 1.0),  # the first two are 30 s old: out of a 20 s window, so only one value
    ("record", ERROR, 1.0),
    ("record", ERROR, 1.0),  # three values now: fires
]


@check(
    "05-windowed-rule",
    1,
    "a rule with window=N judges the mean of the last N values, only once there are N",
    "In check_alerts, for a rule with a window: recent = self.window(metric)[-rule.window:]; skip the rule when "
    "len(recent) < rule.window; else judge (and report) the mean of recent.",
    part="stretch",
)
def windowed_rule(learner: Namespace, ref: Reference) -> None:
    compare_steps(learner, ref, "windowed", {}, WINDOWED_STEPS, _windowed_cause)
    compare_steps(learner, ref, "windowed-age", {"max_age": 20.0}, WINDOWED_AGE_STEPS, _windowed_cause)


# --- stretch S2: the export -------------------------------------------------------------------------------


def traffic(seed: int, n: int) -> list[Plain]:
    """Plain steps: n requests (latency, error, cost, cache hit), a second apart, from a seeded generator."""
    rng = np.random.default_rng(seed)
    steps: list[Plain] = []
    for i in range(n):
        hit = bool(rng.random() < 0.25)
        error = 0.0 if hit else float(rng.random() < (0.3 if n // 3 <= i < n // 2 else 0.03))
        latency = round(float(rng.lognormal(6.0, 0.7)), 3) if not hit else round(float(rng.uniform(1, 5)), 3)
        cost = 0.0 if hit or error else round(float(rng.uniform(0.0005, 0.004)), 6)
        steps += [
            ("record", LATENCY, latency),
            ("record", ERROR, error),
            ("record", COST, cost),
            ("record", CACHE_HIT, float(hit)),
            ("wait", 1.0),
        ]
    return steps


EXPORT_RULES: list[Plain] = [
    ("rule", LATENCY, ">", 1500.0, "Slow request", 5.0, None),
    ("rule", ERROR, ">", 0.1, "Error rate above 10% over the last 10 requests", 8.0, 10),
]


def run_export(ns: Namespace, setup: dict[str, Any], steps: list[Plain], per_day: float) -> Plain:
    """Replay ``steps``, then export: the dashboard as JSON text read back (what a web page would get)."""
    clock = Clock()
    monitor = make_monitor(ns, clock, setup.get("window_size", 1000), setup.get("max_age"))
    for step in steps:
        if step[0] == "wait":
            clock.now += step[1]
        elif step[0] == "rule":
            _, metric, op, limit, message, cool, size = step
            kwargs: dict[str, Any] = {"cooldown": cool} | ({"window": size} if size is not None else {})
            call("add_alert", monitor.add_alert, metric, partial(CONDITIONS[op], limit=limit), message, **kwargs)
        elif step[0] == "record_np":  # a numpy integer, as np.random or a pandas column gives: record float(value)
            call("record(metric, np.int64(...))", monitor.record, step[1], np.int64(step[2]))
        else:
            call("record", monitor.record, step[1], step[2])
    dashboard = call(f"export_dashboard(requests_per_day={per_day:g})", monitor.export_dashboard, per_day)
    try:
        text = json.dumps(dashboard)
    except (TypeError, ValueError) as exc:
        return ("not JSON", f"{type(exc).__name__}: {exc}"[:200])
    back = json.loads(text)
    if back != dashboard:
        return ("changed by JSON", repr(dashboard)[:200])
    return back


def _export_cause(path: str) -> str:
    causes = {
        "['cost']['spent']": (
            "spent is every COST ever recorded (self.totals), not only the window's: money spent does not leave "
            "with the window."
        ),
        "['cost']['per_request']": "per_request is the mean COST over the window (None when empty).",
        "['cost']['projected_monthly']": "projected_monthly is per_request x requests_per_day x 30 (None when empty).",
        "['cost']": "cost is {'spent', 'per_request', 'projected_monthly'}.",
        "['trends']": (
            "trend(values): None below 2 values; else the means of values[:half] and values[half:] (half = n // 2) "
            "and the direction: up when newer - older > 0.1 * abs(older), down below -0.1 * abs(older), else flat."
        ),
        "['alerts']": "alerts is the history, oldest first, each as dataclasses.asdict(alert).",
        "['metrics']": "metrics maps every metric in self.metrics to its get_summary.",
        "['recommendations']": "recommendations is recommend(metrics, cost), with the export's own summaries and cost.",
        "['generated_at']": "generated_at is self.clock().",
    }
    for prefix, words in causes.items():
        if path.startswith(prefix):
            return words
    return "The export's keys are exactly " + ", ".join(EXPORT_KEYS) + "."


@check(
    "05-export",
    2,
    "export_dashboard round-trips through JSON with every key: summaries, alerts, cost spent and projected, trends",
    "Build the dict from plain values only: get_summary per metric, asdict(alert) per alert, "
    "self.totals.get(COST, 0.0) for spent, the window's mean cost x requests_per_day x 30, trend(window) per metric.",
    part="stretch",
)
def export(learner: Namespace, ref: Reference) -> None:
    cases: list[tuple[str, dict[str, Any], list[Plain], float]] = [
        ("empty", {}, [], 100_000.0),
        ("traffic", {"window_size": 40}, EXPORT_RULES + traffic(5, 60), 50_000.0),
        (
            "few",
            {"max_age": 30.0},
            [
                ("record", COST, 0.002),
                ("record", LATENCY, 800.0),
                ("wait", 1.0),
                ("record", LATENCY, 400.0),
                ("record", CACHE_HIT, 0.5),
                ("record", CACHE_HIT, 0.52),
                ("record", ERROR, -2.0),
                ("record", ERROR, -1.9),
                ("record_np", "tokens", 412),
            ],
            1_000.0,
        ),
    ]
    for name, setup, steps, per_day in cases:
        expected = ref.value(
            ("export", name, setup, steps, per_day), partial(run_export, setup=setup, steps=steps, per_day=per_day)
        )
        got = run_export(learner, setup, steps, per_day)
        described = (
            f"{name}: MLMonitor({setup}), {sum(1 for s in steps if s[0] == 'record')} records; "
            f"export_dashboard({per_day:g})"
        )
        if isinstance(got, tuple):
            raise CheckFailed(
                "export_dashboard must return plain JSON data (dicts, lists, str, numbers, None): "
                + (
                    "json.dumps failed. Turn each Alert into a dict with dataclasses.asdict, and store float(value) "
                    "in record (a numpy integer is not JSON)."
                    if got[0] == "not JSON"
                    else "json.loads(json.dumps(d)) != d (tuples become lists: use lists)."
                ),
                input=described,
                expected="json.loads(json.dumps(d)) == d",
                actual=got[1],
            )
        missing = [k for k in EXPORT_KEYS if not isinstance(got, dict) or k not in got]
        if missing:
            raise CheckFailed(
                f"The export has no {missing[0]!r} key.",
                input=described,
                expected=list(EXPORT_KEYS),
                actual=sorted(got) if isinstance(got, dict) else got,
            )
        difference = first_difference(expected, got)
        if difference is not None:
            path, wanted, found = difference
            raise CheckFailed(
                f"The export differs from the reference's at {path}. {_export_cause(path)}",
                input=described,
                expected=wanted,
                actual=found,
            )


# crafted summaries: (what, metrics, cost)
def _summary(count: int, mean: float, p95: float | None = None) -> dict[str, Any]:
    p95 = mean if p95 is None else p95
    return {"count": count, "mean": mean, "min": 0.0, "max": max(mean, p95), "p50": mean, "p95": p95, "p99": p95}


HEALTHY = {
    CACHE_HIT: _summary(200, 0.45),
    LATENCY: _summary(200, 600.0, 1400.0),
    ERROR: _summary(200, 0.01),
    COST: _summary(200, 0.0004),
}
HEALTHY_COST = {"spent": 0.08, "per_request": 0.0004, "projected_monthly": 1200.0}
KEYWORDS = {
    CACHE_HIT: (("semantic cach",), "a semantic cache"),
    LATENCY: (("faster model", "timeout"), "a faster model or a timeout"),
    ERROR: (("retr", "fallback"), "retries and fallbacks"),
    COST: (("cheaper",), "a cheaper model"),
}
RECOMMEND_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("healthy traffic", HEALTHY, HEALTHY_COST),
    ("cache hit rate 12% over 200 requests", HEALTHY | {CACHE_HIT: _summary(200, 0.12)}, HEALTHY_COST),
    ("cache hit rate 12% over only 10 requests", HEALTHY | {CACHE_HIT: _summary(10, 0.12)}, HEALTHY_COST),
    (
        "cache hit rate 12% over exactly 20 requests (MIN_SAMPLES)",
        HEALTHY | {CACHE_HIT: _summary(20, 0.12)},
        HEALTHY_COST,
    ),
    ("cache hit rate exactly 30%", HEALTHY | {CACHE_HIT: _summary(200, 0.3)}, HEALTHY_COST),
    ("p95 latency 3,100 ms (mean 900 ms)", HEALTHY | {LATENCY: _summary(200, 900.0, 3100.0)}, HEALTHY_COST),
    ("mean latency 2,500 ms, p95 exactly 2,000 ms", HEALTHY | {LATENCY: _summary(200, 2500.0, 2000.0)}, HEALTHY_COST),
    ("error rate 8%", HEALTHY | {ERROR: _summary(200, 0.08)}, HEALTHY_COST),
    ("error rate exactly 5%", HEALTHY | {ERROR: _summary(200, 0.05)}, HEALTHY_COST),
    ("error rate 50% over 19 requests", HEALTHY | {ERROR: _summary(19, 0.5)}, HEALTHY_COST),
    ("projected $5,400 a month", HEALTHY, HEALTHY_COST | {"projected_monthly": 5400.0}),
    ("projected exactly $2,000 a month", HEALTHY, HEALTHY_COST | {"projected_monthly": 2000.0}),
    (
        "everything wrong at once",
        {CACHE_HIT: _summary(50, 0.05), LATENCY: _summary(50, 900.0, 2600.0), ERROR: _summary(50, 0.2)},
        {"spent": 1.0, "per_request": 0.01, "projected_monthly": 30000.0},
    ),
    ("nothing recorded", {}, {"spent": 0.0, "per_request": None, "projected_monthly": None}),
]


def _advised(reference: Namespace, metrics: dict[str, Any], cost: dict[str, Any]) -> list[str]:
    """The metrics the reference's recommend advises on, in order."""
    return [item["metric"] for item in reference.recommend(metrics, cost)]


@check(
    "05-recommendations",
    1,
    "recommend gives advice on crafted data exactly when a threshold is crossed, and names the cause",
    "One if per rule, in the given order, each only with at least MIN_SAMPLES values (summary['count']); strict "
    "comparisons (< CACHE_HIT_MIN, > the others); a missing metric gives no advice. Name the fix in the text.",
    part="stretch",
)
def recommendations(learner: Namespace, ref: Reference) -> None:
    for what, metrics, cost in RECOMMEND_CASES:
        expected = ref.value(
            ("recommend", what, metrics, cost),
            partial(_advised, metrics=metrics, cost=cost),
        )
        got = call(f"recommend(...) on {what}", learner.recommend, json.loads(json.dumps(metrics)), dict(cost))
        shape_ok = isinstance(got, list) and all(
            isinstance(item, dict) and set(item) == {"metric", "advice"} and isinstance(item["advice"], str)
            for item in got
        )
        if not shape_ok:
            raise CheckFailed(
                'recommend returns a list of {"metric": name, "advice": text} dicts.',
                input=what,
                expected=[{"metric": m, "advice": "..."} for m in expected],
                actual=got,
            )
        metrics_named = [item["metric"] for item in got]
        if metrics_named != expected:
            extra = [m for m in metrics_named if m not in expected]
            missing = [m for m in expected if m not in metrics_named]
            if extra:
                why = (
                    f"Advice on {extra[0]!r} that the data does not call for: at a threshold exactly, with fewer "
                    "than MIN_SAMPLES values, or with no data, say nothing."
                )
            elif missing:
                why = f"No advice on {missing[0]!r}, though its threshold is crossed."
            else:
                why = "The advice is in the wrong order: cache, latency, errors, cost."
            raise CheckFailed(why, input=what, expected=expected, actual=metrics_named)
        for item in got:
            words, named = KEYWORDS.get(item["metric"], ((), ""))
            if words and not any(w in item["advice"].lower() for w in words):
                raise CheckFailed(
                    f"The advice on {item['metric']!r} should name the fix: {named}.",
                    input=what,
                    expected=f"advice mentioning {' or '.join(repr(w) for w in words)}",
                    actual=item["advice"],
                )


# --- stretch S3: Prometheus ---------------------------------------------------------------------------

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
KNOWN = ("gpt-4", "gpt-3.5-turbo", "claude-instant")
FAMILIES = {
    "llm_requests": "counter",
    "llm_request_latency_seconds": "histogram",
    "llm_cost_dollars": "counter",
    "llm_cache_lookups": "counter",
}
OBSERVED = [  # (model, latency_seconds, ok, cost, cache_hit)
    ("gpt-4", 0.42, True, 0.0031, False),
    ("gpt-4", 2.5, False, 0.0, False),
    ("gpt-3.5-turbo", 0.1, True, 0.0002, False),
    ("gpt-3.5-turbo", 0.001, True, 0.0, True),
    ("ft:gpt-4:acme:7f3a", 0.8, True, 0.004, False),
    ("GPT-4", 12.0, False, 0.0, False),
    ("claude-instant", 0.25, True, 0.0001, False),
    ("user-42's model", 1.0, True, 0.0, True),
]


def parse_exposition(text: str) -> dict[str, Any]:
    """{family name: (type, {(sample name, sorted labels): value})}, with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        families[family.name] = (family.type, samples)
    return families


def make_prometheus(learner: Namespace, **kwargs: Any) -> Any:
    try:
        return learner.PrometheusMetrics(**kwargs)
    except NotImplementedError:
        raise
    except ValueError as exc:
        if "Duplicated timeseries" in str(exc):
            raise CheckFailed(
                "A second PrometheusMetrics() failed: its metrics went to prometheus_client's global registry "
                "(the default), where the first one's names are taken. Pass registry=self.registry to every metric.",
                input="PrometheusMetrics(); PrometheusMetrics()",
                expected="two independent registries",
                actual=f"ValueError: {exc}"[:300],
            ) from None
        raise CheckFailed(
            f"PrometheusMetrics() raised ValueError: {exc}",
            input="PrometheusMetrics()",
            expected="four metrics named as in the table (names: letters, digits, underscores)",
            actual=str(exc)[:300],
        ) from None
    except Exception as exc:
        raise CheckFailed(
            f"PrometheusMetrics() raised {type(exc).__name__}: {exc}"[:300], expected="no error"
        ) from None


def exposition_of(learner: Namespace, observed: list[tuple[str, float, bool, float, bool]]) -> tuple[str, Any]:
    metrics = make_prometheus(learner)
    for model, seconds, ok, cost, hit in observed:
        call(f"observe({model!r}, {seconds}, {ok}, {cost}, {hit})", metrics.observe, model, seconds, ok, cost, hit)
    text = call("exposition()", metrics.exposition)
    return text, metrics


def expected_samples(observed: list[tuple[str, float, bool, float, bool]]) -> dict[str, dict[Any, float]]:
    """What the exposition must say, computed here from the requests."""
    label = {m: (m if m in KNOWN else "other") for m, *_ in observed}
    out: dict[str, dict[Any, float]] = {name: {} for name in FAMILIES}
    key: tuple[str, tuple[tuple[str, str], ...]]
    for model, seconds, ok, cost, hit in observed:
        m = label[model]
        key = ("llm_requests_total", (("model", m), ("outcome", "ok" if ok else "error")))
        out["llm_requests"][key] = out["llm_requests"].get(key, 0.0) + 1
        key = ("llm_cost_dollars_total", (("model", m),))
        out["llm_cost_dollars"][key] = out["llm_cost_dollars"].get(key, 0.0) + cost
        key = ("llm_cache_lookups_total", (("result", "hit" if hit else "miss"),))
        out["llm_cache_lookups"][key] = out["llm_cache_lookups"].get(key, 0.0) + 1
        histogram = out["llm_request_latency_seconds"]
        for bound in (*BUCKETS, math.inf):
            le = "+Inf" if bound == math.inf else str(float(bound))
            key = ("llm_request_latency_seconds_bucket", tuple(sorted((("model", m), ("le", le)))))
            histogram[key] = histogram.get(key, 0.0) + (1 if seconds <= bound else 0)
        for suffix, value in (("count", 1.0), ("sum", seconds)):
            key = (f"llm_request_latency_seconds_{suffix}", (("model", m),))
            histogram[key] = histogram.get(key, 0.0) + value
    return out


@check(
    "05-prometheus",
    2,
    "the exposition parses back, with the four metrics, their counts, sums and fixed buckets, in a private registry",
    "Create each metric with registry=self.registry (never the global default), the names and labels of the "
    "table, buckets=LATENCY_BUCKETS for the histogram; observe() counts one request in all four.",
    part="stretch",
)
def prometheus(learner: Namespace, ref: Reference) -> None:
    import prometheus_client

    before = set(getattr(prometheus_client.REGISTRY, "_names_to_collectors", {}))
    make_prometheus(learner)
    second = make_prometheus(learner)
    after = set(getattr(prometheus_client.REGISTRY, "_names_to_collectors", {}))
    leaked = sorted(after - before)
    if leaked:
        raise CheckFailed(
            "PrometheusMetrics registered metrics in prometheus_client's global registry: pass "
            "registry=self.registry to every metric.",
            expected="nothing added to prometheus_client.REGISTRY",
            actual=leaked[:6],
        )
    own = prometheus_client.CollectorRegistry()
    given = make_prometheus(learner, registry=own)
    if getattr(given, "registry", None) is not own:
        raise CheckFailed("PrometheusMetrics(registry=r) must use r (keep the given first line of __init__).")
    del second
    text, _ = exposition_of(learner, OBSERVED)
    try:
        families = parse_exposition(text)
    except Exception as exc:
        raise CheckFailed(
            "The exposition is not Prometheus text format.",
            expected="generate_latest(self.registry).decode()",
            actual=f"{type(exc).__name__}: {exc}"[:300],
        ) from None
    expected = expected_samples(OBSERVED)
    observed_words = "; ".join(f"observe{o}" for o in OBSERVED[:4]) + "; ... (8 requests)"
    for name, kind in FAMILIES.items():
        if name not in families:
            raise CheckFailed(
                f"No metric family {name!r} in the exposition (a Counter named {name!r} is exposed as {name}_total).",
                input=observed_words,
                expected=sorted(FAMILIES),
                actual=sorted(families),
            )
        if families[name][0] != kind:
            raise CheckFailed(f"{name} should be a {kind}.", expected=kind, actual=families[name][0])
        samples = families[name][1]
        for key, value in expected[name].items():
            got = samples.get(key)
            if got is None or not close(got, value, 1e-9):
                buckets = sorted(
                    {str(dict(k[1])["le"]) for k in samples if k[0].endswith("_bucket") and "le" in dict(k[1])}
                )
                if name == "llm_request_latency_seconds" and key[0].endswith("_bucket") and got is None:
                    why = (
                        "The histogram's buckets are not LATENCY_BUCKETS (pass buckets=LATENCY_BUCKETS), or a label "
                        "is wrong."
                    )
                    raise CheckFailed(
                        why,
                        input=observed_words,
                        expected=f"le {['+Inf', *map(str, BUCKETS)]}",
                        actual=f"le {buckets}" if buckets else sorted(samples)[:4],
                    )
                labels = ", ".join(f'{k}="{v}"' for k, v in key[1])
                raise CheckFailed(
                    f"Wrong value for {key[0]}{{{labels}}}: the label is model_label(model) (known models as "
                    'they are, any other name "other"), the outcome "ok" or "error", the cache result "hit" '
                    'or "miss"; every request counts once in each metric, cost by its dollars.',
                    input=observed_words,
                    expected=value,
                    actual=got if got is not None else "(no such sample)",
                )
        unexpected = sorted(
            k for k in samples if k[0].endswith(("_total", "_bucket", "_count", "_sum")) and k not in expected[name]
        )
        if unexpected:
            raise CheckFailed(
                f"Unexpected samples in {name}: label values from outside the fixed sets, or extra labels.",
                input=observed_words,
                expected=sorted(expected[name])[:3],
                actual=unexpected[:3],
            )


@check(
    "05-cardinality",
    1,
    "5,000 requests naming 3,333 different models make at most 4 model label values",
    'model_label(model) returns the model when it is in KNOWN_MODELS (exactly), else "other"; observe() uses it '
    "for every metric with a model label.",
    part="stretch",
)
def cardinality(learner: Namespace, ref: Reference) -> None:
    for model in (*KNOWN, "gpt-4-0613", "GPT-4", "ft:gpt-3.5-turbo:acme::8x", "", "gpt-4 "):
        got = call(f"model_label({model!r})", learner.model_label, model)
        want = model if model in KNOWN else "other"
        if got != want:
            raise CheckFailed(
                'model_label keeps a model of KNOWN_MODELS as it is and folds every other name into "other" '
                "(exact match: a fine-tuned or dated variant is another name).",
                input=f"model_label({model!r})",
                expected=want,
                actual=got,
            )
    requests = [
        (
            f"ft:gpt-4:customer-{i}:{i * 7919 % 10007}" if i % 3 else KNOWN[i % 2],
            0.2 + (i % 7) * 0.3,
            i % 11 != 0,
            0.001,
            i % 4 == 0,
        )
        for i in range(5000)
    ]
    text, _ = exposition_of(learner, requests)
    families = parse_exposition(text)
    values: dict[str, set[str]] = {}
    for _kind, samples in families.values():
        for _name, labels in samples:
            for label, value in labels:
                if label != "le":
                    values.setdefault(label, set()).add(value)
    worst = max(values.items(), key=lambda item: len(item[1]), default=("model", set()))
    models = sorted(values.get("model", set()))
    if len(models) > len(KNOWN) + 1 or len(worst[1]) >= 1000:
        raise CheckFailed(
            f"The {worst[0]!r} label took {len(worst[1]):,} distinct values: each is a time series kept for ever, "
            'and the metrics server runs out of memory (LiteLLM issue #12159). Fold unknown models into "other".',
            input="5,000 requests, 3,333 of them naming a different fine-tuned model",
            expected=f"at most {len(KNOWN) + 1} model label values",
            actual=f"{len(models):,} model label values, e.g. {models[:3]}",
        )
