"""Lab 04's reference optimiser on the graders' held-out traces, beside GPT-4 alone on the same traces.

    python bench/lab04_targets.py

The figures the checks 04-targets and 04-targets-hidden judge (monthly cost, quality as a
share of GPT-4's, p95 latency), printed where a passing check shows nothing. Needs the
instructor repository (the reference notebook and the hidden check's trace).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import grader.checks.lab04 as lab04
import grader.hidden.lab04 as hidden
from grader.loader import REFERENCE_LABEL, load
from grader.registry import Namespace

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = load(ROOT / "solutions" / "04_cost_optimization.ipynb", "__lab04_reference__", REFERENCE_LABEL)
    decide = lab04.learner_decider(Namespace(loaded.namespace, "reference solution"))
    print(f"{'trace':<34} {'who':<10} {'$/month':>9} {'quality':>8} {'vs GPT-4':>9} {'p95 ms':>7} {'hits':>5}")
    for name, spec in (("held-out (04-targets)", lab04.HELD_OUT), ("hidden (04-targets-hidden)", hidden.HIDDEN_TRACE)):
        trace, baseline = lab04.held_out(*spec)
        got = lab04.summarise(lab04.replay_of(spec[2]).run(decide, trace))
        for who, s in (("GPT-4", baseline), ("reference", got)):
            print(
                f"{name:<34} {who:<10} {s['monthly_cost']:>9,.0f} {s['quality']:>8.1%} "
                f"{s['quality'] / baseline['quality']:>9.1%} {s['p95_ms']:>7,.0f} {s['hit_rate']:>5.0%}"
            )
    print(
        f"targets: under ${lab04.BUDGET:,.0f} a month, {lab04.QUALITY_FLOOR:.0%} of GPT-4's quality, "
        f"p95 under {lab04.P95_MAX_MS:,.0f} ms.  Rerun: python bench/lab04_targets.py"
    )


if __name__ == "__main__":
    main()
