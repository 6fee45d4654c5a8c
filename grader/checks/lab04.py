"""Checks for lab 04, the cost optimisation challenge.

``calculate_monthly_cost`` is compared with the formula written out here (fixed inputs,
the handout's scenario among them) and with the reference on generated inputs; invalid
inputs must raise ``ValueError`` and valid edge cases must not. ``CostOptimizer`` is
driven with rules whose conditions and actions the check writes itself.

The learner's optimiser is judged by replaying a **held-out trace** (a different traffic
seed and a different mock seed from the notebook's) through the in-process mock: the
mock decides which answers are right (by model tier and question difficulty), the
catalogue's prices give the cost, and latency is the model's latency profile read at a
quantile fixed by a hash of the request: computed, never measured, so no verdict depends
on how busy the machine is. This module's replay is its own copy of the notebook's given
code: the expectation does not come from the learner's notebook.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections import Counter
from typing import Any

from hypothesis import strategies as st

from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import call, close

HANDOUT_PRICING: dict[str, dict[str, float]] = {
    "gpt-4": {"input": 0.03, "output": 0.06},
    "gpt-3.5-turbo": {"input": 0.001, "output": 0.002},
    "claude-instant": {"input": 0.0008, "output": 0.0024},
    "cached": {"input": 0, "output": 0},
}
DAYS_PER_MONTH = 30
QUERIES_PER_DAY = 100_000
BUDGET = 2_000.0
QUALITY_FLOOR = 0.95
P95_MAX_MS = 2_000.0
EXACT_HIT_MS = 5.0
SEMANTIC_THRESHOLD = 0.9
CHAT_MODELS = ("gpt-4", "gpt-3.5-turbo", "claude-instant")
CACHE_MODES = (False, "exact", "semantic")
SYSTEM_PROMPT = (
    "You are the support assistant of Acme Cloud, a workspace and file-sharing service with Free, Pro and "
    "Enterprise plans. Answer the customer's question accurately and briefly, in plain English, using only "
    "the company's published policies on billing, accounts, security, storage, the API and integrations. If "
    "the question is about a specific invoice, payment or account, say what the customer should do and which "
    "page of the dashboard to use. Never invent prices, limits or dates. If you do not know, say so and offer "
    "to open a ticket with the support team, who answer within one business day."
)
PLANS = ("Free", "Pro", "Enterprise")

# The held-out trace of the public check: neither its traffic seed nor its mock seed is the notebook's (4 and 4).
# (requests, traffic seed, mock seed, share of requests with an account context)
HELD_OUT: tuple[int, int, int, float] = (2_000, 104, 2, 0.25)


# --- exercise 1: the monthly bill -----------------------------------------------------------------------


def expected_cost(
    queries_per_day: float, avg_in: float, avg_out: float, distribution: dict[str, float], hit_rate: float
) -> float:
    """The bill, written out: misses split by the distribution, each call priced per 1,000 tokens, 30 days."""
    per_call = math.fsum(
        share * (avg_in * HANDOUT_PRICING[m]["input"] + avg_out * HANDOUT_PRICING[m]["output"]) / 1000
        for m, share in distribution.items()
    )
    return queries_per_day * DAYS_PER_MONTH * (1 - hit_rate) * per_call


def _wrong_costs(q: float, i: float, o: float, d: dict[str, float], h: float) -> dict[str, float]:
    """The usual wrong bills, by the words that name the mistake."""
    right = expected_cost(q, i, o, d, h)
    per_month = right / DAYS_PER_MONTH if DAYS_PER_MONTH else right
    swapped = expected_cost(q, o, i, d, h)
    return {
        "prices are per 1,000 tokens: divide tokens x price by 1000": right * 1000,
        "a month here is 30 days (not 30.4 or 365 / 12)": per_month * 30.4,
        "a month here is 30 days (365 / 12 is not what the lab uses)": per_month * 365 / 12,
        "the bill is for a month: multiply the daily cost by 30": per_month,
        "a cache hit costs nothing: multiply by (1 - cache_hit_rate), not by cache_hit_rate": per_month
        * DAYS_PER_MONTH
        * (h / (1 - h) if h < 1 else 0.0),
        "the cache hit rate is ignored: multiply by (1 - cache_hit_rate)": right / (1 - h) if h < 1 else math.nan,
        "input tokens are priced at the input price and output tokens at the output price (swapped?)": swapped,
    }


def _cause(args: tuple[Any, ...], got: float) -> str:
    for cause, wrong in _wrong_costs(*args).items():
        if not math.isnan(wrong) and not close(wrong, expected_cost(*args), 1e-9) and close(wrong, got, 1e-6):
            return f" Your answer is what you get when {cause}."
    return ""


def learner_cost(learner: Namespace, args: tuple[Any, ...]) -> Any:
    q, i, o, d, h = args
    shown = f"calculate_monthly_cost({q!r}, {i!r}, {o!r}, {d!r}, {h!r})"
    copy = dict(d)
    got = call(shown, learner.calculate_monthly_cost, q, i, o, copy, h)
    if copy != d:
        raise CheckFailed(
            "calculate_monthly_cost changed the distribution it was given: the caller's dict is not yours to edit.",
            input=shown,
            expected=d,
            actual=copy,
        )
    if not isinstance(got, int | float) or isinstance(got, bool) or math.isnan(float(got)):
        raise CheckFailed("calculate_monthly_cost must return a number of dollars.", input=shown, actual=got)
    return float(got)


FIXED_COSTS: list[tuple[Any, ...]] = [
    (100_000, 150, 200, {"gpt-4": 1.0}, 0.0),  # the handout's current state: not $40,000
    (100_000, 150, 200, {"gpt-4": 0.2, "gpt-3.5-turbo": 0.8}, 0.0),
    (100_000, 150, 200, {"gpt-4": 0.2, "gpt-3.5-turbo": 0.8}, 0.5),
    (1_000, 100, 0, {"claude-instant": 1.0}, 0.25),
    (1_000, 0, 100, {"claude-instant": 0.5, "gpt-3.5-turbo": 0.5}, 0.0),
    (10, 1_000, 1_000, {"gpt-4": 1.0}, 1.0),
    (50_000, 300, 50, {"gpt-3.5-turbo": 0.75, "cached": 0.25}, 0.1),
]


@check(
    "04-monthly-cost-fixed",
    1,
    "calculate_monthly_cost gives the right bill on fixed inputs, the handout's scenario among them",
    "cost per call = (input_tokens x input price + output_tokens x output price) / 1000, averaged over the "
    "distribution; only misses are paid for: x (1 - cache_hit_rate); a day's calls x 30 days.",
)
def monthly_cost_fixed(learner: Namespace, ref: Reference) -> None:
    for args in FIXED_COSTS:
        got = learner_cost(learner, args)
        want = expected_cost(*args)
        if not close(got, want, 1e-6):
            q, i, o, d, h = args
            raise CheckFailed(
                "Wrong monthly cost." + _cause(args, got),
                input=f"calculate_monthly_cost({q!r}, {i!r}, {o!r}, {d!r}, {h!r})",
                expected=round(want, 6),
                actual=got,
            )


shares = st.sampled_from([0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0])


@st.composite
def cost_inputs(draw: st.DrawFn) -> tuple[Any, ...]:
    models = draw(st.lists(st.sampled_from(list(HANDOUT_PRICING)), min_size=1, max_size=4, unique=True))
    left, distribution = 1.0, {}
    for model in models[:-1]:
        share = min(left, draw(shares))
        distribution[model] = share
        left -= share
    distribution[models[-1]] = left
    return (
        draw(st.integers(0, 1_000_000)),
        draw(st.integers(0, 4_000)),
        draw(st.integers(0, 4_000)),
        distribution,
        draw(st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 1))),
    )


@check(
    "04-monthly-cost",
    1,
    "calculate_monthly_cost equals the reference on generated traffic, distributions and hit rates",
    "Sum share x cost per call over the distribution (a model may be missing, a share may be 0; 'cached' "
    "costs nothing), then multiply by the calls that miss the cache in a 30-day month.",
)
def monthly_cost_generated(learner: Namespace, ref: Reference) -> None:
    def holds(args: tuple[Any, ...]) -> bool:
        want = ref.value(("calculate_monthly_cost", *args), lambda r: r.calculate_monthly_cost(*args))
        return close(learner_cost(learner, args), want, 1e-6)

    bad = ref.counterexample("04-monthly-cost", cost_inputs(), holds)
    if bad is not None:
        want = ref.value(("calculate_monthly_cost", *bad), lambda r: r.calculate_monthly_cost(*bad))
        got = learner_cost(learner, bad)
        q, i, o, d, h = bad
        raise CheckFailed(
            "Wrong monthly cost on this (smallest) generated input." + _cause(bad, got),
            input=f"calculate_monthly_cost({q!r}, {i!r}, {o!r}, {d!r}, {h!r})",
            expected=round(want, 6),
            actual=got,
        )


BASE = (100_000, 150, 200)
INVALID: list[tuple[str, tuple[Any, ...]]] = [
    ("a distribution that sums to 0.9", (*BASE, {"gpt-4": 0.2, "gpt-3.5-turbo": 0.7}, 0.0)),
    ("a distribution that sums to 1.2", (*BASE, {"gpt-4": 0.4, "gpt-3.5-turbo": 0.8}, 0.0)),
    ("an empty distribution", (*BASE, {}, 0.0)),
    (
        "thirds rounded to 0.333 (they sum to 0.999)",
        (*BASE, {"gpt-4": 0.333, "gpt-3.5-turbo": 0.333, "claude-instant": 0.333}, 0.0),
    ),
    ("a negative share that makes the sum 1", (*BASE, {"gpt-4": 1.5, "gpt-3.5-turbo": -0.5}, 0.0)),
    (
        "a negative share among shares of at most 1 that sum to 1",
        (*BASE, {"gpt-4": 0.8, "gpt-3.5-turbo": 0.5, "claude-instant": -0.3}, 0.0),
    ),
    ("a cache hit rate above 1", (*BASE, {"gpt-4": 1.0}, 1.5)),
    ("a negative cache hit rate", (*BASE, {"gpt-4": 1.0}, -0.1)),
    ("a hit rate given in percent", (*BASE, {"gpt-4": 1.0}, 30)),
    ("an unknown model", (*BASE, {"gpt-5": 1.0}, 0.0)),
    ("a misspelt model among known ones", (*BASE, {"gpt-4": 0.5, "gpt-35-turbo": 0.5}, 0.0)),
    ("a negative number of queries", (-1, 150, 200, {"gpt-4": 1.0}, 0.0)),
    ("negative output tokens", (100_000, 150, -200, {"gpt-4": 1.0}, 0.0)),
]
VALID: list[tuple[str, tuple[Any, ...]]] = [
    (
        "shares of 0.7, 0.2 and 0.1 (sum() of them is 0.9999999999999999)",
        (*BASE, {"gpt-4": 0.7, "gpt-3.5-turbo": 0.2, "claude-instant": 0.1}, 0.0),
    ),
    (
        "shares that sum to 1 within 1e-12 (a share computed with rounding error)",
        (*BASE, {"gpt-4": 0.7, "gpt-3.5-turbo": 0.3 + 1e-12}, 0.0),
    ),
    ("a hit rate of exactly 1", (*BASE, {"gpt-4": 1.0}, 1.0)),
    ("a hit rate of exactly 0 and a share of 0", (*BASE, {"gpt-4": 0.0, "gpt-3.5-turbo": 1.0}, 0.0)),
    ("the 'cached' model", (*BASE, {"cached": 1.0}, 0.0)),
    ("no traffic", (0, 150, 200, {"gpt-4": 1.0}, 0.0)),
]


@check(
    "04-monthly-cost-invalid",
    1,
    "calculate_monthly_cost raises ValueError on a bad distribution, hit rate or model, and accepts edge cases",
    "Check before computing: every model in PRICING, every share in [0, 1], math.isclose(sum, 1) (floats: 0.7 + "
    "0.2 + 0.1 is not exactly 1), 0 <= cache_hit_rate <= 1, no negative counts; raise ValueError saying which.",
)
def monthly_cost_invalid(learner: Namespace, ref: Reference) -> None:
    for what, args in INVALID:
        q, i, o, d, h = args
        shown = f"calculate_monthly_cost({q!r}, {i!r}, {o!r}, {d!r}, {h!r})"
        try:
            got = learner.calculate_monthly_cost(q, i, o, dict(d), h)
        except ValueError as exc:
            if not str(exc).strip():
                raise CheckFailed(
                    f"The ValueError for {what} has no message: say what is wrong.", input=shown
                ) from None
            continue
        except NotImplementedError:
            raise
        except Exception as exc:
            raise CheckFailed(
                f"Wrong kind of error for {what}: raise ValueError, which callers of a validator expect.",
                input=shown,
                expected="ValueError",
                actual=f"{type(exc).__name__}: {exc}",
            ) from None
        raise CheckFailed(
            f"No error for {what}: the bill would be meaningless.", input=shown, expected="ValueError", actual=got
        )
    for what, args in VALID:
        q, i, o, d, h = args
        try:
            got = learner.calculate_monthly_cost(q, i, o, dict(d), h)
        except ValueError as exc:
            raise CheckFailed(
                f"A ValueError for a valid input, {what}.",
                input=f"calculate_monthly_cost({q!r}, {i!r}, {o!r}, {d!r}, {h!r})",
                expected=round(expected_cost(*args), 6),
                actual=f"ValueError: {exc}",
            ) from None
        got = learner_cost(learner, args)
        if not close(got, expected_cost(*args), 1e-6):
            raise CheckFailed(
                f"Wrong cost for {what}.",
                input=f"calculate_monthly_cost({q!r}, {i!r}, {o!r}, {d!r}, {h!r})",
                expected=expected_cost(*args),
                actual=got,
            )


# --- exercise 2: rules ----------------------------------------------------------------------------------

DEFAULT_DECISION = {"model": "gpt-4", "cache": False, "max_tokens": None}


def _decide(learner: Namespace, rules: list[tuple[Any, dict[str, Any]]], request: dict[str, Any], shown: str) -> Any:
    optimizer = call("CostOptimizer()", learner.CostOptimizer)
    for condition, action in rules:
        call("add_rule(condition, action)", optimizer.add_rule, condition, action)
    return call(shown, optimizer.optimize_request, request), optimizer


@check(
    "04-rules",
    2,
    "optimize_request starts from DEFAULT_DECISION and applies every matching rule in order, later ones winning",
    "decision = dict(DEFAULT_DECISION); for condition, action in self.rules: if condition(request): "
    "decision.update(action); return decision. A fresh dict each time: never DEFAULT_DECISION itself.",
)
def rules(learner: Namespace, ref: Reference) -> None:
    short = {"query": "Support hours?", "context": None}
    long = {"query": "How is proration calculated if I upgrade mid-month and add users later?", "context": None}
    seen: list[Any] = []

    def is_short(request: dict[str, Any]) -> bool:
        seen.append(request)
        return len(request["query"].split()) <= 10

    cheap, cached = {"model": "gpt-3.5-turbo"}, {"cache": "exact", "model": "claude-instant"}
    never = {"model": "gpt-4", "max_tokens": 7}
    cases: list[tuple[str, list[tuple[Any, dict[str, Any]]], dict[str, Any], dict[str, Any]]] = [
        ("no rules", [], short, dict(DEFAULT_DECISION)),
        ("one rule that matches", [(is_short, cheap)], short, {**DEFAULT_DECISION, "model": "gpt-3.5-turbo"}),
        ("one rule that does not match", [(is_short, cheap)], long, dict(DEFAULT_DECISION)),
        (
            "two matching rules: the later one wins on 'model', the earlier one's other keys stay",
            [(is_short, {"model": "gpt-3.5-turbo", "max_tokens": 300}), (lambda r: True, cached)],
            short,
            {"model": "claude-instant", "cache": "exact", "max_tokens": 300},
        ),
        (
            "a matching rule, then one that does not match",
            [(is_short, cheap), (lambda r: False, never)],
            short,
            {**DEFAULT_DECISION, "model": "gpt-3.5-turbo"},
        ),
        (
            "a rule that does not match, then one that does",
            [(lambda r: False, never), (is_short, cheap)],
            short,
            {**DEFAULT_DECISION, "model": "gpt-3.5-turbo"},
        ),
    ]
    for what, given, request, want in cases:
        before = {k: dict(v) for k, v in (("request", request), ("cheap", cheap), ("cached", cached))}
        seen.clear()
        got, optimizer = _decide(learner, given, dict(request), f"optimize_request({request!r}) with {what}")
        if got != want:
            raise CheckFailed(f"Wrong decision with {what}.", input=request, expected=want, actual=got)
        if any(r is not None and r.get("query") != request["query"] for r in seen):
            raise CheckFailed("A rule's condition must be called with the request.", input=request, actual=seen)
        if {"cheap": cheap, "cached": cached} != {"cheap": before["cheap"], "cached": before["cached"]}:
            raise CheckFailed(
                "optimize_request changed a rule's action dict: copy the default and update the "
                "copy with the action, never the other way round.",
                input=what,
                expected=[before["cheap"], before["cached"]],
                actual=[cheap, cached],
            )
        got["model"] = "changed by the caller"
        again = call("optimize_request (a second time)", optimizer.optimize_request, dict(request))
        if again != want:
            raise CheckFailed(
                "A decision changed after the caller edited the previous one: return a fresh dict each time "
                "(dict(DEFAULT_DECISION)), not DEFAULT_DECISION or a dict kept in the optimiser.",
                input=what,
                expected=want,
                actual=again,
            )
    if DEFAULT_DECISION != learner.DEFAULT_DECISION:
        raise CheckFailed(
            "DEFAULT_DECISION itself changed: optimize_request updated it instead of a copy.",
            expected=DEFAULT_DECISION,
            actual=learner.DEFAULT_DECISION,
        )


# --- exercise 3: the optimiser, replayed on a held-out trace --------------------------------------------


def make_trace(n: int, seed: int, personal_share: float) -> list[dict[str, Any]]:
    """The notebook's trace generator (its own copy): Zipf-popular questions, reworded, some with an account."""
    from mock_llm.datasets import load

    rng = random.Random(seed)
    entries: dict[str, list[dict[str, Any]]] = {}
    for row in load("queries.jsonl"):
        entries.setdefault(row["entry"], []).append(row)
    names = sorted(entries)
    rng.shuffle(names)
    weights = [
        (0.25 if entries[name][0]["difficulty"] == "complex" else 1.0) / (rank + 1) ** 0.9
        for rank, name in enumerate(names)
    ]
    trace = []
    for i in range(n):
        (name,) = rng.choices(names, weights)
        row = rng.choice(entries[name])
        context = None
        if rng.random() < personal_share:
            context = f"The customer is account {rng.randrange(10_000, 100_000)} on the {rng.choice(PLANS)} plan."
        trace.append(
            {
                "id": f"{seed}-{i}",
                "query": row["query"],
                "context": context,
                "difficulty": row["difficulty"],
                "reference_answer": row["reference_answer"],
            }
        )
    return trace


def unit(*parts: Any) -> float:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def model_latency_ms(model: str, completion_tokens: int, u: float) -> float:
    from mock_llm.catalogue import CATALOGUE

    profile = CATALOGUE[model].latency
    return (profile.ttft_ms + profile.per_token_ms * completion_tokens) * profile.factor_quantile(
        min(max(u, 1e-9), 1 - 1e-9)
    )


class Replay:
    """A trace through an optimiser and the in-process mock: cost, correctness and latency per request."""

    def __init__(self, mock_seed: int) -> None:
        import mock_llm

        self.client = mock_llm.InProcessMock(seed=mock_seed).client()
        self.answers: dict[tuple[Any, ...], tuple[str, int, int]] = {}

    def ask(self, model: str, system: str, query: str, max_tokens: int | None) -> tuple[str, int, int]:
        key = (model, system, query, max_tokens)
        if key not in self.answers:
            reply = self.client.chat.completions.create(
                model=model,
                max_tokens=max_tokens,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": query}],
            )
            assert reply.usage is not None
            text = reply.choices[0].message.content or ""
            self.answers[key] = (text, reply.usage.prompt_tokens, reply.usage.completion_tokens)
        return self.answers[key]

    def run(self, decide: Any, trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from mock_llm.catalogue import CATALOGUE
        from mock_llm.embeddings import cosine

        exact: dict[str, str] = {}
        semantic: list[tuple[str, str]] = []
        records = []
        embed = CATALOGUE["text-embedding-3-small"]
        for req in trace:
            model, cache, max_tokens = decide({"query": req["query"], "context": req["context"]})
            u = unit("latency", req["id"])
            key = " ".join(req["query"].lower().split())
            cost, latency, hit, text = 0.0, 0.0, None, ""
            if cache:
                if key in exact:
                    hit, text, latency = "exact", exact[key], EXACT_HIT_MS
                elif cache == "semantic":
                    cost += embed.cost(len(req["query"].split()) + 2, 0)
                    latency += model_latency_ms("text-embedding-3-small", 0, u)
                    best = max(semantic, key=lambda item: cosine(req["query"], item[0]), default=None)
                    if best is not None and cosine(req["query"], best[0]) >= SEMANTIC_THRESHOLD:
                        hit, text = "semantic", best[1]
            if hit is None:
                system = SYSTEM_PROMPT + ("" if req["context"] is None else " " + req["context"])
                text, prompt_tokens, completion_tokens = self.ask(model, system, req["query"], max_tokens)
                cost += CATALOGUE[model].cost(prompt_tokens, completion_tokens)
                latency += model_latency_ms(model, completion_tokens, u)
                if cache:
                    exact[key] = text
                    if cache == "semantic":
                        semantic.append((req["query"], text))
            correct = text == req["reference_answer"] and not (hit and req["context"] is not None)
            records.append(
                {
                    "model": "cached" if hit else model,
                    "hit": hit,
                    "cost": cost,
                    "latency_ms": latency,
                    "correct": correct,
                }
            )
        return records


def p95(values: list[float]) -> float:
    s = sorted(values)
    position = (len(s) - 1) * 0.95
    i = math.floor(position)
    return s[-1] if i + 1 >= len(s) else s[i] + (s[i + 1] - s[i]) * (position - i)


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    return {
        "monthly_cost": math.fsum(r["cost"] for r in records) / n * QUERIES_PER_DAY * DAYS_PER_MONTH,
        "quality": sum(r["correct"] for r in records) / n,
        "p95_ms": p95([r["latency_ms"] for r in records]),
        "hit_rate": sum(r["hit"] is not None for r in records) / n,
        "models": dict(Counter(r["model"] for r in records)),
    }


def learner_decider(learner: Namespace) -> Any:
    """The learner's optimiser as a function of the request, each decision validated."""
    optimizer = call("build_optimizer()", learner.build_optimizer)
    if not hasattr(optimizer, "optimize_request"):
        raise CheckFailed("build_optimizer must return the CostOptimizer it configured.", actual=optimizer)

    def decide(request: dict[str, Any]) -> tuple[str, Any, Any]:
        got = call(f"optimize_request({request!r})", optimizer.optimize_request, dict(request))
        if not isinstance(got, dict):
            raise CheckFailed("optimize_request must return a decision dict.", input=request, actual=got)
        model, cache, limit = got.get("model"), got.get("cache", False), got.get("max_tokens")
        if model not in CHAT_MODELS:
            raise CheckFailed(
                f"A decision names a model the replay cannot call: use one of {CHAT_MODELS}.", input=request, actual=got
            )
        if cache not in CACHE_MODES or (isinstance(cache, int) and cache is not False):
            raise CheckFailed("A decision's 'cache' must be False, 'exact' or 'semantic'.", input=request, actual=got)
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise CheckFailed(
                "A decision's 'max_tokens' must be None or a positive whole number.", input=request, actual=got
            )
        return model, cache, limit

    return decide


@functools.cache
def replay_of(mock_seed: int) -> Replay:
    """One replay per mock seed: the mock's answers are a function of the seed and the prompt, so they are shared."""
    return Replay(mock_seed)


@functools.cache
def held_out(n: int, trace_seed: int, mock_seed: int, personal_share: float) -> tuple[list[dict[str, Any]], Any]:
    """A held-out trace and GPT-4's figures on it."""
    trace = make_trace(n, trace_seed, personal_share)
    return trace, summarise(replay_of(mock_seed).run(lambda r: ("gpt-4", False, None), trace))


def judge_targets(learner: Namespace, n: int, trace_seed: int, mock_seed: int, personal_share: float) -> None:
    decide = learner_decider(learner)  # the learner's optimiser first: an unfinished one fails at once
    trace, baseline = held_out(n, trace_seed, mock_seed, personal_share)
    got = summarise(replay_of(mock_seed).run(decide, trace))
    ratio = got["quality"] / baseline["quality"]
    where = (
        f"a held-out trace of {n} requests (traffic seed {trace_seed}, mock seed {mock_seed}, "
        f"{personal_share:.0%} with an account)"
    )
    shown = {
        "monthly_cost": round(got["monthly_cost"], 2),
        "quality": round(got["quality"], 4),
        "quality_vs_gpt4": round(ratio, 4),
        "p95_ms": round(got["p95_ms"], 1),
        "cache_hit_rate": round(got["hit_rate"], 4),
        "served_by": got["models"],
    }
    if got["monthly_cost"] >= BUDGET:
        raise CheckFailed(
            f"Over budget on {where}: the projected bill is ${got['monthly_cost']:,.0f} a month (GPT-4 alone: "
            f"${baseline['monthly_cost']:,.0f}). Cache more of what repeats, and send fewer calls to gpt-4.",
            input=where,
            expected=f"under ${BUDGET:,.0f} a month",
            actual=shown,
        )
    if ratio < QUALITY_FLOOR:
        raise CheckFailed(
            f"Quality too low on {where}: {got['quality']:.1%} of answers right against GPT-4's "
            f"{baseline['quality']:.1%} ({ratio:.1%} of it). Cheaper models miss complex questions, and an "
            "answer cached for one account is wrong for another: keep gpt-4 for complex questions and do not "
            "cache requests that carry a context.",
            input=where,
            expected=f"at least {QUALITY_FLOOR:.0%} of GPT-4's quality",
            actual=shown,
        )
    if got["p95_ms"] >= P95_MAX_MS:
        raise CheckFailed(
            f"p95 latency too high on {where}: {got['p95_ms']:,.0f} ms.",
            input=where,
            expected=f"under {P95_MAX_MS:,.0f} ms",
            actual=shown,
        )


@check(
    "04-targets",
    3,
    "build_optimizer's rules, replayed on a held-out trace: under $2,000 a month, 95% of GPT-4's quality, p95 < 2 s",
    "Two rules are enough: simple (short) questions to gpt-3.5-turbo while complex ones stay on gpt-4, and a "
    "cache for requests without an account context. Measure on the notebook's trace, not on hope.",
    warm=functools.partial(held_out, *HELD_OUT),  # the trace and GPT-4's figures on it, shared
)
def targets(learner: Namespace, ref: Reference) -> None:
    judge_targets(learner, *HELD_OUT)


# --- stretch S1: the sensitivity table ------------------------------------------------------------------

grids = st.tuples(
    st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0]), min_size=1, max_size=4),
    st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.5, 1.0]), min_size=1, max_size=4),
)


def _learner_table(learner: Namespace, hits: list[float], gpt4_shares: list[float]) -> Any:
    got = call(f"sensitivity({hits!r}, {gpt4_shares!r})", learner.sensitivity, list(hits), list(gpt4_shares))
    if not isinstance(got, list) or not all(isinstance(row, list) for row in got):
        raise CheckFailed("sensitivity must return a list of rows, each a list of dollars.", actual=got)
    return got


def _same_table(want: list[list[float]], got: list[list[Any]]) -> bool:
    return len(want) == len(got) and all(
        len(a) == len(b)
        and all(isinstance(y, int | float) and close(x, float(y), 1e-6) for x, y in zip(a, b, strict=True))
        for a, b in zip(want, got, strict=False)
    )


@check(
    "04-sensitivity",
    2,
    "sensitivity(hit_rates, gpt4_shares) gives the monthly bill for each pair, a row per hit rate",
    "[[calculate_monthly_cost(100_000, 150, 200, {'gpt-4': s, 'gpt-3.5-turbo': 1 - s}, h) for s in "
    "gpt4_shares] for h in hit_rates]",
    part="stretch",
)
def sensitivity(learner: Namespace, ref: Reference) -> None:
    fixed = ([0.0, 0.5], [1.0, 0.2])
    want = [[expected_cost(*BASE, {"gpt-4": s, "gpt-3.5-turbo": 1 - s}, h) for s in fixed[1]] for h in fixed[0]]
    got = _learner_table(learner, *fixed)
    if not _same_table(want, got):
        raise CheckFailed(
            "Wrong table: a row per hit rate, a column per GPT-4 share.",
            input=f"sensitivity({fixed[0]!r}, {fixed[1]!r})",
            expected=want,
            actual=got,
        )

    def holds(grid: tuple[list[float], list[float]]) -> bool:
        expected = ref.value(("sensitivity", *grid), lambda r: r.sensitivity(list(grid[0]), list(grid[1])))
        return _same_table(expected, _learner_table(learner, *grid))

    bad = ref.counterexample("04-sensitivity", grids, holds)
    if bad is not None:
        expected = ref.value(("sensitivity", *bad), lambda r: r.sensitivity(list(bad[0]), list(bad[1])))
        raise CheckFailed(
            "Wrong table on this (smallest) generated grid.",
            input=f"sensitivity{bad!r}",
            expected=expected,
            actual=_learner_table(learner, *bad),
        )
