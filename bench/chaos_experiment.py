"""Lab 06's seeded chaos experiment, outside the notebook: the bare call and the resilient call.

    python bench/chaos_experiment.py [--notebook solutions/06_chaos_engineering.ipynb] [--rate 0.3]
                                     [--seed 6] [--prompts 200] [--sweep]
                                     [--lab03 solutions/03_error_boundaries.ipynb]

Loads the notebook's code the way the grader does (its code cells, not its demos), then runs
the experiment of its "experiment at 30% faults" cell: the prompts one after another through
``ask`` (bare), ``resilient_ask``, and lab 03's ``ErrorBoundary`` (rate-limit, timeout and
template fallbacks) around ``ask``, under ``ChaosTransport`` on an in-process mock, with
latency on a virtual clock. The figures depend only on the seed, never on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.loader import load  # noqa: E402


async def experiment(
    ns: dict[str, Any],
    which: str,
    rate: float,
    seed: int,
    prompts: list[str],
    truth: dict[str, str],
    lab03: dict[str, Any] | None = None,
) -> dict[str, Any]:
    clock = ns["VirtualClock"]()
    chaos = ns["ChaosTransport"](ns["mock_transport"](), rate, seed=seed, sleep=clock.sleep)
    client = ns["client_through"](chaos)

    async def bare(prompt: str) -> Any:
        return await ns["ask"](client, prompt)

    async def resilient(prompt: str) -> Any:
        return await ns["resilient_ask"](client, prompt, sleep=clock.sleep)

    async def boundary(prompt: str) -> Any:
        assert lab03 is not None
        guard = lab03["ErrorBoundary"](clock=clock)
        guard.add_fallback(lab03["RateLimitFallback"](sleep=clock.sleep, clock=clock))
        guard.add_fallback(lab03["TimeoutFallback"](clock=clock))
        guard.add_fallback(lab03["TemplateFallback"]())

        async def primary(request: Any) -> str:
            try:
                return str(await ns["ask"](client, request.prompt, timeout=request.timeout))
            except (ns["InvalidResponse"], ValueError) as exc:  # one pipeline, one "unusable answer" class
                raise lab03["InvalidResponse"](str(exc)) from exc

        answer = await guard.execute(primary, lab03["Request"](prompt, model=ns["MODEL"], timeout=5.0))
        return ns["Answer"](answer.text, answer.source, answer.degraded)

    call = {"bare": bare, "resilient": resilient, "lab 03 boundary": boundary}[which]
    outcomes = await ns["run_experiment"](call, prompts, clock=clock, injector=chaos, truth=truth)
    return {**ns["summarise"](outcomes), "injected": dict(sorted(chaos.injected.items()))}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", type=Path, default=ROOT / "solutions" / "06_chaos_engineering.ipynb")
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--sweep", action="store_true", help="also sweep the failure rate from 0 to 50%%")
    parser.add_argument("--lab03", type=Path, default=ROOT / "solutions" / "03_error_boundaries.ipynb")
    args = parser.parse_args()
    loaded, boundary = load(args.notebook, "__chaos__"), load(args.lab03, "__lab03__")
    for what in (loaded, boundary):
        if what.errors:
            print(f"a notebook failed to load: {what.errors[0].error}", file=sys.stderr)
            return 1
    ns, lab03 = loaded.namespace, boundary.namespace
    prompts = [f"Question {i}: how should a service behave when its LLM provider fails?" for i in range(args.prompts)]
    plain = ns["client_through"](ns["mock_transport"]())
    truth = {}
    for prompt in prompts:
        response = await plain.chat.completions.create(
            model=ns["MODEL"], messages=[{"role": "user", "content": prompt}]
        )
        truth[prompt] = response.choices[0].message.content
    print(f"hypothesis: {ns['HYPOTHESIS']}")
    print(f"{args.prompts} prompts, failure rate {args.rate:.0%}, seed {args.seed}, latency on a virtual clock\n")
    for which in ("bare", "resilient", "lab 03 boundary"):
        report = await experiment(ns, which, args.rate, args.seed, prompts, truth, lab03)
        broken = ns["meets"](report)
        print(
            f"{which:15}: success {report['success_rate']:.1%}, fallbacks {report['fallback_rate']:.1%}, "
            f"p50 {report['p50']:.2f} s, p95 {report['p95']:.2f} s; "
            + ("hypothesis holds" if not broken else "hypothesis broken: " + "; ".join(broken))
        )
        pad = " " * 17
        print(f"{pad}injected {report['injected']}")
        print(f"{pad}failures {report['failures']}\n{pad}cascaded {report['cascaded']}")
    if args.sweep:
        print("\nrate   bare success / p95    resilient success (fallbacks) / p95    lab 03 boundary")
        for rate in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
            bare = await experiment(ns, "bare", rate, args.seed, prompts, truth)
            safe = await experiment(ns, "resilient", rate, args.seed, prompts, truth)
            guard = await experiment(ns, "lab 03 boundary", rate, args.seed, prompts, truth, lab03)
            print(
                f"{rate:4.0%}   {bare['success_rate']:6.1%} / {bare['p95']:4.2f} s    "
                f"{safe['success_rate']:6.1%} ({safe['fallback_rate']:4.1%}) / {safe['p95']:4.2f} s    "
                f"{guard['success_rate']:6.1%} ({guard['fallback_rate']:4.1%}) / {guard['p95']:4.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
