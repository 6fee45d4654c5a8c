"""Hidden checks for lab 06: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

import math
from typing import Any

from mock_llm import InProcessMock, Settings

from ..checks.common import VirtualClock, names_unawaited, run_async
from ..checks.lab06 import MODEL, mock_app_transport, sdk_client
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check

RATE, PROMPTS_PER_SEED = 0.3, 120
HYPOTHESIS = {"min_success_rate": 0.99, "max_fallback_rate": 0.05, "max_p95": 6.0}
# Seeds on which the reference needs its fallback (1 to 3% of requests), so that a call without one fails.
SEEDS = [5, 9]


def prompts() -> list[str]:
    return [f"Question {i}: how should a service behave when its LLM provider fails?" for i in range(PROMPTS_PER_SEED)]


async def run_seed(
    learner: Namespace, ref: Reference, seed: int, truth: dict[str, str], mock: InProcessMock
) -> dict[str, Any]:
    """One seeded run of the learner's resilient_ask under the reference's ChaosTransport; the grader's own figures."""
    clock = VirtualClock()
    inner = mock_app_transport(mock)
    chaos = ref.live.ChaosTransport(inner, RATE, seed=seed, sleep=clock.sleep)
    client = sdk_client(chaos)
    latencies: list[float] = []
    ok = fallbacks = 0
    problems: list[str] = []
    for prompt in prompts():
        before, started = len(chaos.log), clock()
        try:
            answer = await learner.resilient_ask(client, prompt, sleep=clock.sleep)
        except NotImplementedError:
            raise
        except Exception as exc:
            problems.append(f"{prompt[:12]}: raised {type(exc).__name__} after faults {chaos.log[before:]}")
        else:
            if getattr(answer, "degraded", None) is True:
                ok += 1
                fallbacks += 1
            elif getattr(answer, "text", None) == truth[prompt]:
                ok += 1
            else:
                problems.append(
                    f"{prompt[:12]}: a wrong answer passed as valid after faults {chaos.log[before:]}: "
                    f"{str(getattr(answer, 'text', answer))[:80]!r}"
                )
        latencies.append(clock() - started)
    latencies.sort()
    n = len(latencies)
    return {
        "seed": seed,
        "success_rate": ok / n,
        "fallback_rate": fallbacks / n,
        "p95": latencies[math.ceil(0.95 * n) - 1],
        "problems": problems,
        "injected": dict(sorted(chaos.injected.items())),
    }


@check(
    "06-hypothesis",
    2,
    "at 30% injected faults on two seeded runs, resilient_ask meets the hypothesis and returns no wrong answer",
    "Retry every retryable failure (InvalidResponse included) up to `attempts` times, shorter timeouts after the "
    "first, honour retry-after, then fall back with degraded=True; never return a text that is not a complete, "
    "clean answer.",
    visibility="hidden",
    part="stretch",
)
@names_unawaited
def hypothesis(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.0))

    async def run() -> list[dict[str, Any]]:
        plain = sdk_client(mock_app_transport(mock))
        truth = {}
        for prompt in prompts():
            response = await plain.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
            truth[prompt] = response.choices[0].message.content or ""
        return [await run_seed(learner, ref, seed, truth, mock) for seed in SEEDS]

    for result in run_async(run(), f"{PROMPTS_PER_SEED} requests at {RATE:.0%} faults, seeds {SEEDS}"):
        setting = (
            f"{PROMPTS_PER_SEED} prompts one after another through ChaosTransport(failure_rate={RATE}, "
            f"seed={result['seed']}) on a virtual clock; injected {result['injected']}"
        )
        wrong = [p for p in result["problems"] if "wrong answer" in p]
        if wrong:
            raise CheckFailed(
                f"A broken answer came back as valid ({len(wrong)} of {PROMPTS_PER_SEED}).",
                input=setting,
                expected="every answer the model's complete text, or the degraded fallback",
                actual=wrong[0],
            )
        figures = {k: round(result[k], 4) for k in ("success_rate", "fallback_rate", "p95")}
        broken = []
        if result["success_rate"] < HYPOTHESIS["min_success_rate"]:
            broken.append(f"success rate {result['success_rate']:.1%} < 99%")
        if result["fallback_rate"] > HYPOTHESIS["max_fallback_rate"]:
            broken.append(f"fallback rate {result['fallback_rate']:.1%} > 5%")
        if result["p95"] > HYPOTHESIS["max_p95"]:
            broken.append(f"p95 {result['p95']:.2f} s > 6 s")
        if broken:
            raise CheckFailed(
                "The hypothesis does not hold: " + "; ".join(broken) + ".",
                input=setting,
                expected=HYPOTHESIS,
                actual={**figures, "first failures": result["problems"][:2]},
            )
