"""Checks for lab 07, the capstone: the learner's service assembled from the labs' pieces.

The learner's ``AnswerCache``, ``SentimentService``, ``create_app``, ``Boundary`` and
``build_service`` are driven in process: the app through httpx's ASGI transport, the paid
models through the grader's own :class:`GraderUpstream`, which answers as the mock LLM
does (its sentiment rules, token counts, prices and latency model) without HTTP, on a
:class:`VirtualClock`. Every latency is virtual time, so no verdict depends on how busy
the machine is; every fault is scripted or drawn from a seed. The expectations are the
grader's own (the cascade's rules applied to the grader's upstream), not recorded values,
so the student kit grades exactly as the instructor's repository does.

:func:`benchmark` is the capstone benchmark (bench/capstone_load.py) scaled down: the same
measures (dollars per 1,000 requests, p95, valid or degraded answers, no 500, metrics) on
a few hundred requests of the same kind of traffic. The notebook's demo runs it too.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from mock_llm.answers import classify_sentiment
from mock_llm.catalogue import CATALOGUE
from mock_llm.local_model import HOLDOUT, in_training_half, load_rows, trained
from mock_llm.tokens import count_chat_tokens, count_tokens

from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import VirtualClock, call, names_unawaited, run_async

LABELS = ("Positive", "Negative", "Neutral")
LOCAL, CHEAP, STRONG = "local", "gpt-3.5-turbo", "gpt-4"
SYSTEM_PROMPT = (
    "You classify the sentiment of the user's text. Answer with exactly one word: Positive, Negative or Neutral."
)
FAULTS = ("rate_limit", "server_error", "timeout", "malformed_json")
TARGET_COST_PER_1000 = 0.01
TARGET_P95 = 0.5
# With no faults a paid call still times out now and then (gpt-4's latency tail passes 1 s), and its
# answer is then degraded; the reference has none on the benchmark's traffic.
MAX_HEALTHY_DEGRADED = 0.01
FIELDS = ("sentiment", "confidence", "cached", "model_used", "tier", "degraded", "source")
# The local tier must be right this often on the labelled held-out texts it answers. The local model's
# confidence is calibrated (bench/local_model_report.py): a local_threshold of 0.7 or more clears this,
# the reference's 0.8 gets about 97%, 0.6 about 90% and a local model answering everything 75%.
MIN_LOCAL_ACCURACY = 0.92


@dataclass(frozen=True)
class ModelAnswer:
    label: str
    confidence: float
    model: str
    cost: float


@dataclass
class Call:
    model: str
    text: str
    timeout: float
    fault: str | None
    ok: bool = False


@dataclass
class Scripted:
    """A fixed answer for a text: (label, confidence) per model, or a fault kind per model."""

    answers: dict[str, tuple[str, float] | str] = field(default_factory=dict)


class GraderUpstream:
    """The paid models as the mock answers them, without HTTP: same labels, tokens, prices, latency model.

    ``error`` is the learner's ``ProviderError`` (so their ``except`` clauses see their own
    class); ``script`` lists the faults of the next calls; ``fault_rate`` draws faults from
    ``seed``; ``fixed`` overrides the answer of a (model, text) with a (label, confidence)
    or a fault kind, for exact cases.
    """

    def __init__(
        self,
        error: type[Exception],
        clock: VirtualClock | None = None,
        *,
        fault_rate: float = 0.0,
        seed: int = 0,
        script: Sequence[str | None] = (),
        fixed: Mapping[tuple[str, str], tuple[str, float] | str] | None = None,
    ) -> None:
        self.error = error
        self.clock = clock or VirtualClock()
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.latency_rng = random.Random(seed + 1)
        self.script = list(script)
        self.fixed = dict(fixed or {})
        self.calls: list[Call] = []
        self.spent = 0.0

    def _fault(self, model: str, text: str) -> str | None:
        fixed = self.fixed.get((model, text))
        if isinstance(fixed, str):
            return fixed
        if self.script:
            return self.script.pop(0)
        if self.fault_rate and self.rng.random() < self.fault_rate:
            return self.rng.choice(FAULTS)
        return None

    def answer_of(self, model: str, text: str) -> tuple[str, float]:
        fixed = self.fixed.get((model, text))
        if isinstance(fixed, tuple):
            return fixed
        sentiment = classify_sentiment(text, model, CATALOGUE[model].quality_tier, 0)
        return sentiment.label, sentiment.confidence  # the mock's own answer (its seed 0)

    def latency(self, model: str) -> float:
        profile = CATALOGUE[model].latency
        factor = math.exp(-(profile.sigma**2) / 2 + profile.sigma * self.latency_rng.gauss(0.0, 1.0))
        return (profile.ttft_ms + profile.per_token_ms) * factor / 1000

    async def classify(self, model: str, text: str, *, timeout: float) -> ModelAnswer:
        fault = self._fault(model, text)
        record = Call(model, text, timeout, fault)
        self.calls.append(record)
        if fault == "timeout":
            await self.clock.sleep(timeout)
            raise self.error("timeout", f"{model} did not answer within {timeout:g} s")
        if fault == "rate_limit":
            await self.clock.sleep(0.05)
            raise self.error("rate_limited", "429", 0.2)
        if fault == "server_error":
            await self.clock.sleep(0.1)
            raise self.error("upstream_error", f"{model} answered 500")
        if fault is not None:
            await self.clock.sleep(0.1)
            raise self.error("malformed", f"{model}'s answer was not valid JSON")
        label, confidence = self.answer_of(model, text)
        prompt = count_chat_tokens([("system", SYSTEM_PROMPT, None), ("user", text, None)])
        cost = CATALOGUE[model].cost(prompt, count_tokens(label))
        self.spent += cost
        latency = self.latency(model)
        if latency > timeout:
            await self.clock.sleep(timeout)
            raise self.error("timeout", f"{model} did not answer within {timeout:g} s")
        await self.clock.sleep(latency)
        record.ok = True
        return ModelAnswer(label, confidence, model, cost)

    def made(self) -> list[str]:
        return [c.model for c in self.calls]


class FixedLocal:
    """A local model with scripted predictions (label, confidence) per text."""

    @dataclass(frozen=True)
    class Prediction:
        label: str
        confidence: float

    def __init__(self, table: dict[str, tuple[str, float]]) -> None:
        self.table = table

    def predict(self, text: str) -> FixedLocal.Prediction:
        label, confidence = self.table.get(text, ("Neutral", 0.4))
        return FixedLocal.Prediction(label, confidence)


_LOCAL: list[Any] = []


def local_model() -> Any:
    """The kit's local classifier (trained once per process)."""
    if not _LOCAL:
        _LOCAL.append(trained())
    return _LOCAL[0]


def label_of(model: str, text: str) -> str | None:
    """What ``model`` (the local one, or a paid one as the mock answers) says of ``text``; None for an unknown model."""
    if model == LOCAL:
        return str(local_model().predict(text).label)
    if model not in CATALOGUE or CATALOGUE[model].quality_tier == 0:
        return None
    return classify_sentiment(text, model, CATALOGUE[model].quality_tier, 0).label


# --- the traffic and the benchmark -------------------------------------------------------------------


def traffic(n: int, seed: int) -> list[str]:
    """``n`` texts like the capstone benchmark's: held-out texts, Zipf popularity, variants, some unique."""
    rng = random.Random(seed)
    rows = [r for r in load_rows() if not in_training_half(r["id"])]
    rng.shuffle(rows)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(rows))]
    texts = []
    for i in range(n):
        text = rng.choices(rows, weights)[0]["text"]
        draw = rng.random()
        if draw < 0.05:
            text = f"{text} (order {seed}-{i})"  # unique: no cache can answer it
        elif draw < 0.15:
            text = "  " + text.upper() if rng.random() < 0.5 else text.lower() + "  "
        texts.append(text)
    return texts


def labelled_sample() -> list[dict[str, str]]:
    """Held-out texts with their labels: the hand-written reviews, then the templated half the local model never saw."""
    return load_rows(HOLDOUT) + [r for r in load_rows() if not in_training_half(r["id"])]


BAD_BODIES: list[tuple[str, bytes]] = [
    ("an empty text", b'{"text": ""}'),
    ("a text of spaces", b'{"text": "   "}'),
    ("1,001 characters", json.dumps({"text": "a" * 1001}).encode()),
    ("no text field", b'{"message": "hello"}'),
    ("a number for text", b'{"text": 42}'),
    ("a list body", b'["hello"]'),
    ("not JSON", b"{text: hello"),
    ("an empty body", b""),
]


async def send(http: httpx2.AsyncClient, body: bytes) -> httpx2.Response:
    return await http.post("/classify", content=body, headers={"content-type": "application/json"})


def client_for(app: Any) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx2.AsyncClient(transport=transport, base_url="http://service", timeout=30)


def nearest_rank(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1] if ordered else 0.0


def parse_metrics(text: str) -> dict[str, float]:
    """``name{labels}`` -> value, from Prometheus's text format."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)$", line.strip())
        if match and not line.startswith("#"):
            with contextlib.suppress(ValueError):
                found[match.group(1)] = float(match.group(2))
    return found


def metric_sum(metrics: dict[str, float], name: str) -> float:
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def valid_body(body: Any) -> str | None:
    """Why ``body`` is not a valid answer, or None."""
    if not isinstance(body, dict):
        return f"the body is not a JSON object: {body!r}"[:160]
    if body.get("sentiment") not in LABELS:
        return f"sentiment is {body.get('sentiment')!r}, not one of {LABELS}"
    if not isinstance(body.get("degraded"), bool):
        return f"degraded is {body.get('degraded')!r}, not true or false"
    confidence = body.get("confidence")
    if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        return f"confidence is {confidence!r}, not a number from 0 to 1"
    return None


@dataclass
class Report:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    degraded: int = 0
    invalid: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    spent: float = 0.0
    bad_input: dict[str, int] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # text -> the last body
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_status: int = 0
    stopped_early: bool = False  # a demo's budget ran out (checks never set one)

    @property
    def cost_per_1000(self) -> float:
        return self.spent / max(1, self.requests) * 1000

    @property
    def p95(self) -> float:
        return nearest_rank(self.latencies, 0.95)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": dict(sorted(self.statuses.items())),
            "dollars_per_1000": round(self.cost_per_1000, 5),
            "p50_ms": round(nearest_rank(self.latencies, 0.5) * 1000, 1),
            "p95_ms": round(self.p95 * 1000, 1),
            "valid": self.requests - len(self.invalid),
            "degraded": self.degraded,
            "bad_input_statuses": self.bad_input,
        }


async def run_benchmark(
    app: Any, clock: VirtualClock, upstream: GraderUpstream, texts: Sequence[str], budget: float | None = None
) -> Report:
    """Each text POSTed in turn (virtual time: each request's latency is the time it made the clock move).

    ``budget``: real seconds after which a demo stops sending (a service that waits in real time would
    otherwise keep a notebook cell busy for minutes); checks pass none, so no verdict depends on load.
    """
    report = Report()
    stop_at = None if budget is None else time.perf_counter() + budget
    async with client_for(app) as http:
        for text in texts:
            if stop_at is not None and time.perf_counter() > stop_at:
                report.stopped_early = True
                break
            started = clock()
            response = await send(http, json.dumps({"text": text}).encode())
            report.latencies.append(clock() - started)
            report.requests += 1
            report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
            try:
                body = response.json()
            except ValueError:
                body = response.text[:100]
            why = valid_body(body) if response.status_code == 200 else f"status {response.status_code}"
            if why is not None:
                report.invalid.append(f"{text[:40]!r}: {why}")
                continue
            report.degraded += bool(body["degraded"])
            report.answers[text] = body
        for label, raw in BAD_BODIES:
            response = await send(http, raw)
            report.bad_input[label] = response.status_code
        metrics = await http.get("/metrics")
        report.metrics_status = metrics.status_code
        report.metrics = parse_metrics(metrics.text) if metrics.status_code == 200 else {}
    report.spent = upstream.spent
    return report


def benchmark(
    build: Callable[[Any], Any],
    make_app: Callable[[Any], Any],
    error: type[Exception],
    *,
    n: int = 600,
    fault_rate: float = 0.0,
    seed: int = 7,
    budget: float | None = None,
) -> Report:
    """The scaled-down capstone benchmark of ``make_app(build(upstream))`` on ``n`` requests (a few seconds)."""
    clock = VirtualClock()
    upstream = GraderUpstream(error, clock, fault_rate=fault_rate, seed=seed)
    service = build(upstream)
    app = make_app(service)
    run = run_benchmark(app, clock, upstream, traffic(n, seed), budget)
    return run_async(run, f"the benchmark of {n} requests")


# --- exercise 1: the exact cache -------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_cache(learner: Namespace, clock: Clock, **kwargs: Any) -> Any:
    return call(
        f"AnswerCache({', '.join(f'{k}={v}' for k, v in kwargs.items())}, clock=...)",
        learner.AnswerCache,
        clock=clock,
        **kwargs,
    )


@check(
    "07-cache-key",
    1,
    "AnswerCache.key gives one key to texts that differ only in case and runs of whitespace, and others apart",
    "Split on whitespace, join with one space, then casefold(): ' '.join(text.split()).casefold().",
)
def cache_key(learner: Namespace, ref: Reference) -> None:
    same = [
        ("I love it", "i LOVE it"),
        ("I love it", "  I   love\tit \n"),
        ("Straße", "STRASSE"),
    ]
    different = [("I love it", "I loved it"), ("not bad", "not  bad!"), ("a b", "ab")]
    key = learner.AnswerCache.key
    for a, b in same:
        ka, kb = call(f"AnswerCache.key({a!r})", key, a), call(f"AnswerCache.key({b!r})", key, b)
        if ka != kb:
            raise CheckFailed(
                "Two texts that differ only in case or whitespace get different keys.",
                input=(a, b),
                expected="the same key",
                actual=(ka, kb),
            )
    for a, b in different:
        if key(a) == key(b):
            raise CheckFailed(
                "Two different texts share a key: one would be answered with the other's answer.",
                input=(a, b),
                expected="different keys",
                actual=(key(a), key(b)),
            )


@check(
    "07-cache",
    2,
    "AnswerCache returns copies, expires entries at ttl_seconds on the injected clock, and drops the least "
    "recently used beyond max_entries",
    "get: an entry as old as ttl_seconds or older is gone (delete it, return None); a hit moves the key to the "
    "end (OrderedDict.move_to_end). put: store (clock(), dict(answer)), then popitem(last=False) while too many.",
)
def cache(learner: Namespace, ref: Reference) -> None:
    clock = Clock()
    store = make_cache(learner, clock, max_entries=3, ttl_seconds=10.0)
    answer = {"sentiment": "Positive", "confidence": 0.9}
    call("put('I love it', answer)", store.put, "I love it", answer)
    got = call("get('i love IT')", store.get, "i love IT")
    if got != answer:
        raise CheckFailed(
            "A stored answer is not found under a case variant of its text.",
            input="put('I love it', a); get('i love IT')",
            expected=answer,
            actual=got,
        )
    got["sentiment"] = "changed"
    answer["confidence"] = 0.1
    again = store.get("I love it")
    if again != {"sentiment": "Positive", "confidence": 0.9}:
        raise CheckFailed(
            "The cache shares its dicts with the caller: changing an answer after put, or the dict get returned, "
            "changes what the cache holds. Store and return copies (dict(answer)).",
            input="put(t, a); a changed; get(t) changed; get(t)",
            expected={"sentiment": "Positive", "confidence": 0.9},
            actual=again,
        )
    clock.now += 9.999
    if store.get("I love it") is None:
        raise CheckFailed(
            "An entry expired before ttl_seconds.",
            input="ttl_seconds=10, get after 9.999 s",
            expected="the answer",
            actual=None,
        )
    clock.now += 0.001
    if (late := store.get("I love it")) is not None:
        raise CheckFailed(
            "An entry is still served at ttl_seconds: it must be gone once it is ttl_seconds old.",
            input="ttl_seconds=10, get after exactly 10 s",
            expected=None,
            actual=late,
        )
    if len(getattr(store, "entries", ())) != 0:
        raise CheckFailed(
            "An expired entry must be deleted when found, not kept: it holds memory and a slot for nothing.",
            input="ttl_seconds=10, get after 10 s",
            expected="len(cache.entries) == 0",
            actual=f"len(cache.entries) == {len(store.entries)}",
        )
    store = make_cache(learner, clock, max_entries=3, ttl_seconds=100.0)
    for text in ("a", "b", "c"):
        store.put(text, {"text": text})
    store.get("a")  # a is now the most recently used: b is the oldest
    store.put("d", {"text": "d"})
    present = {t: store.get(t) is not None for t in ("a", "b", "c", "d")}
    if present != {"a": True, "b": False, "c": True, "d": True}:
        raise CheckFailed(
            "With max_entries=3, a fourth entry must drop the least recently used one (a get counts as a use).",
            input="put a, b, c; get a; put d",
            expected="a, c and d kept, b dropped",
            actual=present,
        )
    store.put("d", {"text": "d2"})  # a second put of a key is not a new entry
    if store.get("a") is None or store.get("d") != {"text": "d2"}:
        raise CheckFailed(
            "Putting a key again must replace its answer, not add an entry.",
            input="...; put d again",
            expected="a kept and d's new answer",
            actual={"a": store.get("a"), "d": store.get("d")},
        )
    store = make_cache(learner, clock, max_entries=3, ttl_seconds=100.0)
    for text in ("a", "b", "c", "a"):
        store.put(text, {"text": text})
    store.put("d", {"text": "d"})
    present = {t: store.get(t) is not None for t in ("a", "b", "c", "d")}
    if present != {"a": True, "b": False, "c": True, "d": True}:
        raise CheckFailed(
            "A put is a use too: putting a key again makes it the most recently used.",
            input="put a, b, c, a again; put d",
            expected="a, c and d kept, b dropped",
            actual=present,
        )


# --- exercise 2: the cascade ---------------------------------------------------------------------------

CONFIDENT, UNSURE, SURE_CHEAP, UNSURE_CHEAP = "I love it", "It arrived", "It is fine I guess", "Hmm, maybe"


def cascade_case(
    learner: Namespace,
    fixed: Mapping[tuple[str, str], tuple[str, float] | str] | None = None,
    script: Sequence[str | None] = (),
    **kwargs: Any,
) -> tuple[Any, GraderUpstream]:
    clock = VirtualClock()
    upstream = GraderUpstream(learner.ProviderError, clock, fixed=fixed, script=script)
    local = FixedLocal(
        {
            CONFIDENT: ("Positive", 0.995),
            UNSURE: ("Neutral", 0.6),
            SURE_CHEAP: ("Neutral", 0.5),
            UNSURE_CHEAP: ("Negative", 0.55),
        }
    )
    cache = call("AnswerCache(clock=clock)", learner.AnswerCache, clock=clock)
    kwargs.setdefault("local_threshold", 0.99)
    kwargs.setdefault("cheap_threshold", 0.8)
    service = call(
        "SentimentService(upstream, local, clock=clock, cache=...)",
        learner.SentimentService,
        upstream,
        local,
        clock=clock,
        cache=cache,
        **kwargs,
    )
    return service, upstream


FIXED: dict[tuple[str, str], tuple[str, float] | str] = {
    (CHEAP, UNSURE): ("Negative", 0.85),
    (CHEAP, SURE_CHEAP): ("Neutral", 0.9),
    (CHEAP, UNSURE_CHEAP): ("Positive", 0.62),
    (STRONG, UNSURE_CHEAP): ("Negative", 0.93),
}


def answer_of(service: Any, text: str) -> dict[str, Any]:
    result = run_async(service.answer(text), f"service.answer({text!r})")
    if not isinstance(result, dict):
        raise CheckFailed(
            "answer() must return the response body, a dict.", input=text, expected="a dict", actual=result
        )
    return result


def expect(
    text: str, got: dict[str, Any], wanted: dict[str, Any], calls: list[str], wanted_calls: list[str], what: str
) -> None:
    shown = {k: got.get(k) for k in wanted}
    if shown != wanted or calls != wanted_calls:
        raise CheckFailed(
            what, input=text, expected={**wanted, "model calls": wanted_calls}, actual={**shown, "model calls": calls}
        )


@check(
    "07-cascade",
    3,
    "answer() asks the local model first, the cheap model when it is unsure, the strong one when the cheap is "
    "unsure, and serves repeats from the cache with no call",
    "Local at or above local_threshold answers alone (tier 'local', model_used 'local'); else the cheap model, "
    "whose answer stands at or above cheap_threshold; else the strong model. A cache hit returns the stored body "
    "with cached=True and source='exact'.",
)
@names_unawaited
def cascade(learner: Namespace, ref: Reference) -> None:
    service, upstream = cascade_case(learner, FIXED)
    got = answer_of(service, CONFIDENT)
    expect(
        CONFIDENT,
        got,
        {"sentiment": "Positive", "tier": LOCAL, "model_used": LOCAL, "degraded": False, "cached": False},
        upstream.made(),
        [],
        "A confident local answer (0.995 >= local_threshold 0.99) must stand, with no paid call.",
    )
    got = answer_of(service, SURE_CHEAP)
    expect(
        SURE_CHEAP,
        got,
        {"sentiment": "Neutral", "tier": "cheap", "model_used": CHEAP, "confidence": 0.9, "degraded": False},
        upstream.made(),
        [CHEAP],
        "An unsure local answer (0.5) goes to the cheap model, whose confident answer (0.9 >= 0.8) stands.",
    )
    slowest_started = upstream.clock()
    got = answer_of(service, UNSURE_CHEAP)
    slowest = upstream.clock() - slowest_started
    expect(
        UNSURE_CHEAP,
        got,
        {
            "sentiment": "Negative",
            "tier": "strong",
            "model_used": STRONG,
            "confidence": 0.93,
            "degraded": False,
            "source": None,
        },
        upstream.made(),
        [CHEAP, CHEAP, STRONG],
        "An unsure cheap answer (0.62 < 0.8) goes to the strong model, whose answer stands.",
    )
    before = len(upstream.calls)
    again = answer_of(service, "  hmm, MAYBE ")
    expect(
        "  hmm, MAYBE ",
        again,
        {"sentiment": "Negative", "tier": "strong", "cached": True, "source": "exact"},
        upstream.made()[before:],
        [],
        "A repeat (a case and whitespace variant) must come from the cache: "
        "the stored body with cached=True and source='exact', and no model call.",
    )
    metrics = parse_metrics(service.metrics.render())
    answers = {k.split("{", 1)[1].rstrip("}"): v for k, v in metrics.items() if k.startswith("sentiment_answers_total")}
    wanted = {f'tier="{tier}",degraded="false"': 1.0 for tier in ("cache", "cheap", LOCAL, "strong")}
    cost = metric_sum(metrics, "sentiment_cost_dollars_total")
    p99 = metrics.get('sentiment_latency_seconds{quantile="0.99"}')
    if (
        answers != wanted
        or not math.isclose(cost, upstream.spent, rel_tol=1e-6, abs_tol=1e-12)
        or p99 is None
        or not math.isclose(p99, slowest, abs_tol=1e-5)
    ):
        raise CheckFailed(
            "Every answer must be counted once, self.metrics.answer(tier, degraded, cost, seconds): its tier "
            "('cache' for a hit), degraded or not, the dollars of its paid calls (0 for a hit) and the seconds it "
            "took on self.clock (clock() - start).",
            input="a local, a cheap, a strong answer, then a cache hit",
            expected={"answers": wanted, "dollars": upstream.spent, "p99 seconds": round(slowest, 6)},
            actual={"answers": answers, "dollars": cost, "p99 seconds": p99},
        )
    # the threshold is the learner's setting, not a constant: at exactly the threshold the cheap answer stands
    service, upstream = cascade_case(learner, FIXED, cheap_threshold=0.62, local_threshold=0.6)
    got = answer_of(service, UNSURE_CHEAP)
    expect(
        UNSURE_CHEAP,
        got,
        {"sentiment": "Positive", "tier": "cheap"},
        upstream.made(),
        [CHEAP],
        "With cheap_threshold=0.62, a cheap answer of confidence 0.62 must stand (at or above the threshold).",
    )
    got = answer_of(service, UNSURE)
    expect(
        UNSURE,
        got,
        {"sentiment": "Neutral", "tier": LOCAL},
        upstream.made(),
        [CHEAP],
        "With local_threshold=0.6, a local answer of confidence 0.6 must stand (at or above the threshold).",
    )
    metrics = parse_metrics(service.metrics.render())
    counted = metric_sum(metrics, "sentiment_answers_total")
    if counted != 2 or not math.isclose(
        metric_sum(metrics, "sentiment_cost_dollars_total"), upstream.spent, rel_tol=1e-6, abs_tol=1e-12
    ):
        raise CheckFailed(
            "Every answer must be counted once in self.metrics.answer(tier, degraded, cost, seconds), "
            "with the dollars its paid calls cost.",
            input="two answers, one by the cheap model",
            expected={"answers": 2, "dollars": upstream.spent},
            actual={"answers": counted, "dollars": metric_sum(metrics, "sentiment_cost_dollars_total")},
        )


@check(
    "07-degraded",
    2,
    "when the paid models fail, answer() gives the best answer left marked degraded, never caches it, and counts "
    "the failures",
    "Catch ProviderError around each paid call and count it (self.metrics.error(exc.kind)). If the strong model "
    "fails after an unsure cheap answer, return the cheap answer with degraded=True, source='fallback:cheap'; if "
    "both fail, the local answer with degraded=True, source='fallback:local'. Never put a degraded answer in the "
    "cache.",
)
@names_unawaited
def degraded(learner: Namespace, ref: Reference) -> None:
    fixed: dict[tuple[str, str], tuple[str, float] | str] = {**FIXED, (STRONG, UNSURE_CHEAP): "server_error"}
    service, upstream = cascade_case(learner, fixed)
    got = answer_of(service, UNSURE_CHEAP)
    expect(
        UNSURE_CHEAP,
        got,
        {"sentiment": "Positive", "tier": "cheap", "model_used": CHEAP, "degraded": True, "source": "fallback:cheap"},
        upstream.made(),
        [CHEAP, STRONG],
        "The strong model failed after an unsure cheap answer: the cheap answer is the best left, marked degraded.",
    )
    answer_of(service, UNSURE_CHEAP)
    if upstream.made() != [CHEAP, STRONG, CHEAP, STRONG]:
        raise CheckFailed(
            "A degraded answer was cached: the next request got it again instead of trying the models.",
            input=f"{UNSURE_CHEAP!r} twice, the strong model failing",
            expected="4 calls (cheap, strong, cheap, strong)",
            actual=upstream.made(),
        )
    fixed = {(CHEAP, UNSURE): "timeout", (STRONG, UNSURE): "malformed_json"}
    service, upstream = cascade_case(learner, fixed)
    got = answer_of(service, UNSURE)
    expect(
        UNSURE,
        got,
        {"sentiment": "Neutral", "tier": LOCAL, "model_used": LOCAL, "degraded": True, "source": "fallback:local"},
        upstream.made(),
        [CHEAP, STRONG],
        "Both paid models failed: the local model's answer, marked degraded (when the cheap call fails, the strong "
        "model is still asked).",
    )
    errors = {k: v for k, v in parse_metrics(service.metrics.render()).items() if k.startswith("sentiment_model_err")}
    wanted = {
        'sentiment_model_errors_total{kind="malformed"}': 1.0,
        'sentiment_model_errors_total{kind="timeout"}': 1.0,
    }
    if errors != wanted:
        raise CheckFailed(
            "Each failed paid call must be counted by kind: self.metrics.error(exc.kind).",
            input="a timeout, then a malformed answer",
            expected=wanted,
            actual=errors,
        )
    answers = metric_sum(
        parse_metrics(service.metrics.render()), 'sentiment_answers_total{tier="local",degraded="true"}'
    )
    if answers != 1:
        raise CheckFailed(
            "A degraded answer must be counted as one: metrics.answer(tier, True, ...).",
            input="both paid models failing",
            expected=1,
            actual=answers,
        )


# --- exercise 3: the API ---------------------------------------------------------------------------------


def app_case(learner: Namespace) -> tuple[Any, Any, GraderUpstream, VirtualClock]:
    service, upstream = cascade_case(learner, FIXED)
    app = call("create_app(service)", learner.create_app, service)
    return app, service, upstream, upstream.clock


@check(
    "07-api",
    2,
    "POST /classify answers with the service's body; bad input gets 422 with lab 01's error format, never a 500; "
    "/metrics counts every request and answer",
    "Install an exception handler for RequestValidationError that returns 422 {'error': {'code', 'message', "
    "'field'}} and counts it; POST /classify takes a SentimentRequest, awaits service.answer, counts 200; GET "
    "/metrics returns service.metrics.render() as text. Catch any other exception in /classify and answer with the "
    "local model, degraded.",
)
@names_unawaited
def api(learner: Namespace, ref: Reference) -> None:
    app, service, _, _ = app_case(learner)

    async def run() -> tuple[list[httpx2.Response], list[tuple[str, httpx2.Response]], httpx2.Response]:
        async with client_for(app) as http:
            good = [await send(http, json.dumps({"text": t}).encode()) for t in (CONFIDENT, SURE_CHEAP, " I love it ")]
            bad = [(label, await send(http, raw)) for label, raw in BAD_BODIES]
            return good, bad, await http.get("/metrics")

    good, bad, metrics = run_async(run(), "POST /classify and GET /metrics")
    for text, response in zip((CONFIDENT, SURE_CHEAP, " I love it "), good, strict=True):
        body = response.json() if response.status_code == 200 else response.text[:200]
        missing = [f for f in FIELDS if not isinstance(body, dict) or f not in body]
        if response.status_code != 200 or missing:
            raise CheckFailed(
                "POST /classify must answer 200 with the response body's fields.",
                input={"text": text},
                expected=f"200 with {FIELDS}",
                actual=(response.status_code, body),
            )
    if good[2].json().get("source") != "exact":
        raise CheckFailed(
            "The API must answer through service.answer (and so its cache): the stripped repeat was "
            "not served from the cache.",
            input=[CONFIDENT, " I love it "],
            expected="source 'exact' the second time",
            actual=good[2].json(),
        )
    for label, response in bad:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if (
            response.status_code != 422
            or not isinstance(error, dict)
            or not error.get("code")
            or not error.get("message")
        ):
            raise CheckFailed(
                "Bad input must get 422 with {'error': {'code': ..., 'message': ...}}: a clear error, "
                "never a 500 or FastAPI's default 'detail' list.",
                input=label,
                expected="422 and an error object",
                actual=(response.status_code, response.text[:200]),
            )
    empty = bad[0][1].json()["error"]
    if empty.get("field") != "text" or "empty" not in str(empty.get("message", "")):
        raise CheckFailed(
            "A client must be told what is wrong: the field ('text') and the validator's own message.",
            input=bad[0][0],
            expected={"field": "text", "message": "...text must not be empty or only whitespace"},
            actual=empty,
        )
    if metrics.status_code != 200:
        raise CheckFailed(
            "GET /metrics must answer 200 with service.metrics.render().", expected=200, actual=metrics.status_code
        )
    found = parse_metrics(metrics.text)
    wanted = {'sentiment_requests_total{status="200"}': 3.0, 'sentiment_requests_total{status="422"}': float(len(bad))}
    counted = {k: v for k, v in found.items() if k.startswith("sentiment_requests_total")}
    if counted != wanted or metric_sum(found, "sentiment_answers_total") != 3:
        raise CheckFailed(
            "/metrics must count every request by status (service.metrics.request(status)) and every answer once.",
            input="3 good requests, then the bad ones",
            expected={**wanted, "answers": 3},
            actual={**counted, "answers": metric_sum(found, "sentiment_answers_total")},
        )

    class Broken:  # a service whose answer() has a bug: the client still gets an answer, never a 500
        def __init__(self) -> None:
            self.metrics = learner.Metrics()
            self.local = service.local

        async def answer(self, text: str) -> dict[str, Any]:
            raise KeyError("a bug nobody foresaw")

    async def run_broken() -> httpx2.Response:
        async with client_for(broken) as http:
            return await send(http, json.dumps({"text": UNSURE}).encode())

    broken_service = Broken()
    broken = call("create_app(service)", learner.create_app, broken_service)
    response = run_async(run_broken(), "POST /classify with a service that raises")
    body = response.json() if response.status_code == 200 else response.text[:200]
    wanted_body = {"tier": LOCAL, "model_used": LOCAL, "degraded": True, "source": "fallback:local"}
    if (
        response.status_code != 200
        or not isinstance(body, dict)
        or any(body.get(k) != v for k, v in wanted_body.items())
    ):
        raise CheckFailed(
            "When answering raises an unexpected exception, the client must get the local model's "
            "answer marked degraded, not a 500 with a traceback.",
            input="service.answer raises KeyError",
            expected=f"200 and {wanted_body}",
            actual=(response.status_code, body),
        )
    found = parse_metrics(broken_service.metrics.render())
    seen = {
        "errors": {k: v for k, v in found.items() if k.startswith("sentiment_model_errors_total")},
        "answers": {k: v for k, v in found.items() if k.startswith("sentiment_answers_total")},
        "dollars": metric_sum(found, "sentiment_cost_dollars_total"),
    }
    wanted_metrics = {
        "errors": {'sentiment_model_errors_total{kind="internal"}': 1.0},
        "answers": {'sentiment_answers_total{tier="local",degraded="true"}': 1.0},
        "dollars": 0.0,
    }
    if seen != wanted_metrics:
        raise CheckFailed(
            "The emergency answer must show in /metrics: an error of kind 'internal', and one degraded local "
            "answer that cost nothing.",
            input="service.answer raises KeyError",
            expected=wanted_metrics,
            actual=seen,
        )


# --- stretch S1: the boundary ----------------------------------------------------------------------------


def make_boundary(learner: Namespace, upstream: GraderUpstream, **kwargs: Any) -> Any:
    return call("Boundary(upstream, clock, ...)", learner.Boundary, upstream, upstream.clock, **kwargs)


def outcome(learner: Namespace, boundary: Any, model: str, text: str, deadline_at: float) -> Any:
    async def run() -> Any:
        try:
            return await boundary.call(model, text, deadline_at)
        except learner.ProviderError as exc:
            return exc

    return run_async(run(), f"Boundary.call({model!r}, {text!r}, deadline_at={deadline_at:g})")


def kind(result: Any) -> str:
    return getattr(result, "kind", None) or f"answer {getattr(result, 'label', result)!r}"


@check(
    "07-boundary",
    2,
    "Boundary.call retries a failed call once, waits retry_after on the clock, and never runs past the deadline",
    "Loop over retries + 1 attempts: the timeout is min(call_timeout, deadline_at - clock()); on ProviderError, "
    "raise after the last attempt or when clock() + (retry_after or 0) reaches the deadline; else await "
    "clock.sleep(retry_after or 0) and try again. With no time left, raise ProviderError('deadline').",
    part="stretch",
)
@names_unawaited
def boundary(learner: Namespace, ref: Reference) -> None:
    upstream = GraderUpstream(learner.ProviderError, script=["rate_limit"], fixed={(CHEAP, "t"): ("Positive", 0.9)})
    upstream.latency_rng = random.Random(1)
    b = make_boundary(learner, upstream, call_timeout=1.0, retries=1)
    got = outcome(learner, b, CHEAP, "t", 2.0)
    waits = [round(s, 3) for s in upstream.clock.sleeps]
    if getattr(got, "label", None) != "Positive" or len(upstream.calls) != 2 or 0.2 not in waits:
        raise CheckFailed(
            "A 429 with retry_after 0.2 must be retried once, after waiting 0.2 s on the clock.",
            input="a rate limit, then an answer",
            expected="the answer, 2 calls, a 0.2 s wait",
            actual={"result": kind(got), "calls": len(upstream.calls), "waits": waits},
        )
    upstream = GraderUpstream(learner.ProviderError, script=["server_error", "server_error", "server_error"])
    b = make_boundary(learner, upstream, call_timeout=1.0, retries=1)
    got = outcome(learner, b, CHEAP, "t", 2.0)
    if kind(got) != "upstream_error" or len(upstream.calls) != 2:
        raise CheckFailed(
            "With retries=1, a call that keeps failing is tried twice, then its error is raised.",
            input="500, 500, 500",
            expected={"error": "upstream_error", "calls": 2},
            actual={"result": kind(got), "calls": len(upstream.calls)},
        )
    upstream = GraderUpstream(learner.ProviderError, script=["server_error"] * 3)
    b = make_boundary(learner, upstream, call_timeout=1.0, retries=2)
    got = outcome(learner, b, CHEAP, "t", 5.0)
    if len(upstream.calls) != 3:
        raise CheckFailed(
            "retries is a setting: with retries=2 a failing call is tried 3 times.",
            input="retries=2, 500 x3",
            expected=3,
            actual=len(upstream.calls),
        )
    upstream = GraderUpstream(learner.ProviderError, script=["timeout", "timeout"])
    upstream.clock.now = 10.0
    b = make_boundary(learner, upstream, call_timeout=1.0, retries=3)
    got = outcome(learner, b, CHEAP, "t", 11.5)
    timeouts = [round(c.timeout, 3) for c in upstream.calls]
    if timeouts != [1.0, 0.5] or kind(got) not in ("timeout", "deadline") or upstream.clock() > 11.5 + 1e-9:
        raise CheckFailed(
            "Each call's timeout is min(call_timeout, time left before the deadline), and nothing "
            "runs past the deadline.",
            input="now 10, deadline 11.5, call_timeout 1, timeouts",
            expected={"timeouts": [1.0, 0.5], "ends by": 11.5},
            actual={"timeouts": timeouts, "result": kind(got), "ended at": upstream.clock()},
        )
    upstream = GraderUpstream(learner.ProviderError, script=["rate_limit", None])
    upstream.clock.now = 10.0
    b = make_boundary(learner, upstream, call_timeout=1.0, retries=1)
    got = outcome(learner, b, CHEAP, "t", 10.2)
    if len(upstream.calls) != 1 or upstream.clock() > 10.2 + 1e-9:
        raise CheckFailed(
            "A retry_after that reaches past the deadline is not waited for: raise instead.",
            input="now 10, deadline 10.2, a 429 after 0.05 s with retry_after 0.2",
            expected="one call, done by 10.2",
            actual={"calls": len(upstream.calls), "ended at": upstream.clock()},
        )
    upstream = GraderUpstream(learner.ProviderError)
    upstream.clock.now = 10.0
    b = make_boundary(learner, upstream)
    got = outcome(learner, b, CHEAP, "t", 10.0)
    if kind(got) != "deadline" or upstream.calls:
        raise CheckFailed(
            "With no time left before the deadline, no call is made: ProviderError('deadline').",
            input="now 10, deadline_at 10",
            expected="deadline, no call",
            actual={"result": kind(got), "calls": len(upstream.calls)},
        )


@check(
    "07-breaker",
    1,
    "Boundary's breaker opens after failure_threshold failures in a row, refuses calls while open, and lets them "
    "through after cooldown_seconds",
    "Count each model's consecutive failed calls (a success resets it); at failure_threshold, set "
    "open_until[model] = clock() + cooldown_seconds. While clock() < open_until[model], raise "
    "ProviderError('circuit_open') without calling.",
    part="stretch",
)
@names_unawaited
def breaker(learner: Namespace, ref: Reference) -> None:
    upstream = GraderUpstream(learner.ProviderError, script=["server_error"] * 4 + [None] + ["server_error"] * 3)
    b = make_boundary(learner, upstream, retries=0, failure_threshold=3, cooldown_seconds=5.0)
    kinds = [kind(outcome(learner, b, CHEAP, "t", upstream.clock() + 2.0)) for _ in range(2)]
    kinds.append(kind(outcome(learner, b, STRONG, "t", upstream.clock() + 2.0)))  # another model's failure
    kinds.append(kind(outcome(learner, b, CHEAP, "t", upstream.clock() + 2.0)))  # the third in a row: opens
    opened_at, calls = upstream.clock(), len(upstream.calls)
    kinds.append(kind(outcome(learner, b, CHEAP, "t", upstream.clock() + 2.0)))
    if kinds[3] != "upstream_error" or kinds[4] != "circuit_open" or len(upstream.calls) != calls:
        raise CheckFailed(
            "After failure_threshold (3) failures of one model in a row, its circuit opens: the next "
            "call raises circuit_open without calling (other models' failures do not count).",
            input="cheap fails, fails, strong fails, cheap fails, cheap again",
            expected=["upstream_error"] * 4 + ["circuit_open (no call)"],
            actual=[*kinds, f"{len(upstream.calls) - calls} calls after it opened"],
        )
    if kind(outcome(learner, b, STRONG, "t", upstream.clock() + 2.0)) == "circuit_open":
        raise CheckFailed(
            "One breaker per model: the strong model's circuit must stay closed.",
            input="the cheap model's circuit open",
            expected="a call to the strong model",
            actual="circuit_open",
        )
    upstream.clock.now = opened_at + 5.0
    after = [kind(outcome(learner, b, CHEAP, "t", upstream.clock() + 2.0)) for _ in range(4)]
    if after != ["upstream_error", "upstream_error", "upstream_error", "circuit_open"]:
        raise CheckFailed(
            "Exactly cooldown_seconds after it opened, the circuit lets calls through again, and it opens again "
            "only after failure_threshold new failures in a row (the count starts again when it opens).",
            input="5 s after it opened: cheap fails 3 times, then cheap again",
            expected=["upstream_error", "upstream_error", "upstream_error", "circuit_open"],
            actual=after,
        )
    upstream = GraderUpstream(
        learner.ProviderError, script=["server_error", "server_error", None, "server_error", "server_error"]
    )
    b = make_boundary(learner, upstream, retries=0, failure_threshold=3)
    kinds = [kind(outcome(learner, b, CHEAP, "t", upstream.clock() + 2.0)) for _ in range(6)]
    if "circuit_open" in kinds:
        raise CheckFailed(
            "A success resets the count: failures must be in a row to open the circuit.",
            input="fail, fail, success, fail, fail, success",
            expected="no circuit_open",
            actual=kinds,
        )
    upstream = GraderUpstream(learner.ProviderError, script=["server_error", None, "server_error", "server_error"])
    b = make_boundary(learner, upstream, retries=0, failure_threshold=2)
    kinds = [kind(outcome(learner, b, CHEAP, "t", upstream.clock() + 2.0)) for _ in range(5)]
    if kinds[-1] != "circuit_open":
        raise CheckFailed(
            "After a success the count starts from zero: failure_threshold new failures open the circuit.",
            input="failure_threshold=2: fail, success, fail, fail, then a call",
            expected="circuit_open on the last call",
            actual=kinds,
        )
    upstream = GraderUpstream(learner.ProviderError, script=["server_error", None])
    b = make_boundary(learner, upstream, retries=1, failure_threshold=1)
    got = outcome(learner, b, CHEAP, "t", upstream.clock() + 2.0)
    if len(upstream.calls) != 1 or kind(got) != "upstream_error":
        raise CheckFailed(
            "A failure that opens the circuit is raised at once: no retry through an open circuit.",
            input="failure_threshold=1, retries=1: one failure",
            expected={"calls": 1, "error": "upstream_error"},
            actual={"calls": len(upstream.calls), "result": kind(got)},
        )


# --- stretch S2: the semantic cache -----------------------------------------------------------------------

PARA, NEAR, OTHER, EDGE = "I love it so much", "I do not love it", "Where is my order?", "I quite like it"
# Hand-made unit vectors, so the check depends on no embedder: cosine 0.95 to CONFIDENT for PARA (a
# paraphrase), 0.80 for NEAR (a negation: close, but a different answer), 0 for OTHER.
VECTORS: dict[str, tuple[float, ...]] = {
    CONFIDENT: (1.0, 0.0, 0.0),
    PARA: (0.95, math.sqrt(1 - 0.95**2), 0.0),
    NEAR: (0.8, -0.6, 0.0),
    OTHER: (0.0, 0.0, 1.0),
    EDGE: (3.0, 4.0, 0.0),  # unit vector (0.6, 0.8, 0): cosine exactly 0.6 to CONFIDENT
    UNSURE: (0.0, 1.0, 0.0),
    SURE_CHEAP: (0.0, 0.6, 0.8),
    UNSURE_CHEAP: (0.6, 0.0, 0.8),
}


def table_embed(text: str) -> list[float]:
    """The embedding of one of the check's texts (a 3-d vector); unknown texts point away from all of them."""
    return list(VECTORS.get(text, (-0.5, -0.5, -math.sqrt(0.5))))


def semantic_store(learner: Namespace, **kwargs: Any) -> Any:
    shown = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return call(f"SemanticAnswers(embed, {shown})", learner.SemanticAnswers, table_embed, **kwargs)


def scope_of(learner: Namespace, models: tuple[str, ...], prompt: str) -> Any:
    return call(f"SemanticAnswers.scope({models!r}, {prompt[:20]!r}...)", learner.SemanticAnswers.scope, models, prompt)


@check(
    "07-semantic",
    2,
    "a paraphrase of a text answered by a paid model is served from the semantic cache without a paid call; another "
    "model or prompt never shares an entry; degraded answers are never stored",
    "scope: a string that holds every model and the whole prompt (json.dumps([list(models), prompt])). find_similar: "
    "the most similar entry of that scope, a copy of its answer when the cosine similarity reaches "
    "similarity_threshold. SemanticService.paid: look up first (a hit is the stored body with cached=True, "
    "source='semantic', cost 0); else the cascade's paid(), and add its body only when it is not degraded.",
    part="stretch",
)
@names_unawaited
def semantic(learner: Namespace, ref: Reference) -> None:
    both = scope_of(learner, (CHEAP, STRONG), SYSTEM_PROMPT)
    others = {
        "another model": scope_of(learner, (CHEAP, "gpt-4-turbo"), SYSTEM_PROMPT),
        "one model fewer": scope_of(learner, (CHEAP,), SYSTEM_PROMPT),
        "another prompt": scope_of(learner, (CHEAP, STRONG), SYSTEM_PROMPT.replace("one word", "one label")),
        "the prompt with a space more": scope_of(learner, (CHEAP, STRONG), SYSTEM_PROMPT + " "),
    }
    again = scope_of(learner, (CHEAP, STRONG), SYSTEM_PROMPT)
    if again != both or any(scope == both for scope in others.values()):
        raise CheckFailed(
            "SemanticAnswers.scope must give one scope per (models, prompt): the same for the same models and prompt, "
            "and another whenever a model or the prompt differs (an answer is only reusable for the same models and "
            "prompt, lab 01's lesson).",
            input="scope((gpt-3.5-turbo, gpt-4), SYSTEM_PROMPT) against other models and prompts",
            expected="equal to itself, different from every other",
            actual={"same inputs equal": again == both, **{k: v == both for k, v in others.items()}},
        )
    store = semantic_store(learner, similarity_threshold=0.9)
    answer = {"sentiment": "Positive", "confidence": 0.93, "tier": "strong"}
    call("add(text, answer, scope)", store.add, CONFIDENT, answer, both)
    got = call("find_similar(paraphrase, scope)", store.find_similar, PARA, both)
    if got != answer:
        raise CheckFailed(
            "A paraphrase (cosine 0.95, threshold 0.9) must get the stored answer.",
            input=f"add({CONFIDENT!r}, ...); find_similar({PARA!r}) in the same scope",
            expected=answer,
            actual=got,
        )
    got["sentiment"] = "changed"
    answer["confidence"] = 0.1
    if store.find_similar(PARA, both) != {"sentiment": "Positive", "confidence": 0.93, "tier": "strong"}:
        raise CheckFailed(
            "The semantic cache shares its dicts with the caller: store and return copies (dict(answer)).",
            input="add(t, a); a changed; find_similar(t) changed; find_similar(t)",
            expected={"sentiment": "Positive", "confidence": 0.93, "tier": "strong"},
            actual=store.find_similar(PARA, both),
        )
    near = store.find_similar(NEAR, both)
    if near is not None:
        raise CheckFailed(
            "A text only 0.8 similar (here a negation: 'I do not love it') must not get the answer at threshold 0.9: "
            "compare the best cosine similarity with similarity_threshold.",
            input=f"find_similar({NEAR!r}), cosine 0.8, similarity_threshold=0.9",
            expected=None,
            actual=near,
        )
    edge = semantic_store(learner, similarity_threshold=0.6)
    edge.add(CONFIDENT, {"sentiment": "Positive"}, both)
    if (at := edge.find_similar(EDGE, both)) != {"sentiment": "Positive"}:
        raise CheckFailed(
            "An entry whose cosine similarity reaches similarity_threshold exactly must answer (at or above it).",
            input="cosine exactly 0.6, similarity_threshold=0.6",
            expected={"sentiment": "Positive"},
            actual=at,
        )
    for what, scope in others.items():
        crossed = store.find_similar(PARA, scope)
        if crossed is not None:
            raise CheckFailed(
                f"An answer crossed scopes: stored for gpt-3.5-turbo and gpt-4 with SYSTEM_PROMPT, found for "
                f"{what}. Look up only the entries of the scope asked for.",
                input=f"add({CONFIDENT!r}, ..., scope); find_similar({PARA!r}, other scope)",
                expected=None,
                actual=crossed,
            )
    store = semantic_store(learner, similarity_threshold=0.5)
    store.add(UNSURE_CHEAP, {"sentiment": "Neutral"}, both)  # cosine 0.6 to CONFIDENT
    store.add(PARA, {"sentiment": "Positive"}, both)  # cosine 0.95
    store.add(SURE_CHEAP, {"sentiment": "Negative"}, both)  # cosine 0
    best = store.find_similar(CONFIDENT, both)
    if best != {"sentiment": "Positive"}:
        raise CheckFailed(
            "find_similar must return the most similar entry above the threshold, not the first one above it.",
            input="entries at cosine 0.6, 0.95 and 0; threshold 0.5",
            expected={"sentiment": "Positive"},
            actual=best,
        )
    store = semantic_store(learner, similarity_threshold=0.9, max_entries=2)
    for text in (CONFIDENT, UNSURE, OTHER):
        store.add(text, {"text": text}, both)
    present = {t: store.find_similar(t, both) is not None for t in (CONFIDENT, UNSURE, OTHER)}
    if present != {CONFIDENT: False, UNSURE: True, OTHER: True}:
        raise CheckFailed(
            "With max_entries=2, a third entry must drop the oldest one.",
            input="add three texts",
            expected={CONFIDENT: False, UNSURE: True, OTHER: True},
            actual=present,
        )

    # the service: paid answers remembered, paraphrases served without a call, degraded answers never stored
    clock = VirtualClock()
    fixed: dict[tuple[str, str], tuple[str, float] | str] = {
        (CHEAP, UNSURE): ("Negative", 0.9),
        (CHEAP, OTHER): "server_error",
        (STRONG, OTHER): "timeout",
    }
    upstream = GraderUpstream(learner.ProviderError, clock, fixed=fixed)
    store = semantic_store(learner, similarity_threshold=0.9)
    wrong_scope = {
        "sentiment": "Positive",
        "confidence": 0.99,
        "cached": False,
        "model_used": STRONG,
        "tier": "strong",
        "degraded": False,
        "source": None,
    }
    for scope in others.values():
        store.add(UNSURE, wrong_scope, scope)
    local = FixedLocal({UNSURE: ("Neutral", 0.6), OTHER: ("Neutral", 0.5)})
    cache = call("AnswerCache(clock=clock)", learner.AnswerCache, clock=clock)
    service = call(
        "SemanticService(upstream, local, clock=clock, cache=..., semantic=...)",
        learner.SemanticService,
        upstream,
        local,
        clock=clock,
        cache=cache,
        semantic=store,
        local_threshold=0.99,
        cheap_threshold=0.8,
    )
    got = answer_of(service, UNSURE)
    expect(
        UNSURE,
        got,
        {"sentiment": "Negative", "tier": "cheap", "model_used": CHEAP, "source": None},
        upstream.made(),
        [CHEAP],
        "Entries of other models or prompts must not answer: the service asks the cheap model.",
    )
    mine = store.find_similar(UNSURE, both)
    if mine is None or mine.get("sentiment") != "Negative":
        raise CheckFailed(
            "A paid answer must be added to the semantic cache under the service's scope (self.scope).",
            input=f"answer({UNSURE!r}): the cheap model answers",
            expected="find_similar(text, self.scope) gives the cheap model's answer",
            actual=mine,
        )
    store.add(CONFIDENT, {**got, "sentiment": "Positive", "confidence": 0.91}, both)
    before = len(upstream.calls)
    got = answer_of(service, PARA)
    expect(
        PARA,
        got,
        {
            "sentiment": "Positive",
            "confidence": 0.91,
            "tier": "cheap",
            "cached": True,
            "source": "semantic",
            "degraded": False,
        },
        upstream.made()[before:],
        [],
        "A paraphrase (cosine 0.95) of a text answered before must be served from the semantic cache: its stored "
        "body with cached=True and source='semantic', and no paid call.",
    )
    metrics = parse_metrics(service.metrics.render())
    if metric_sum(metrics, "sentiment_answers_total") != 2 or not math.isclose(
        metric_sum(metrics, "sentiment_cost_dollars_total"), upstream.spent, rel_tol=1e-6, abs_tol=1e-12
    ):
        raise CheckFailed(
            "A semantic hit is an answer that cost nothing: counted once, with 0 dollars.",
            input="a cheap answer, then a semantic hit",
            expected={"answers": 2, "dollars": upstream.spent},
            actual={
                "answers": metric_sum(metrics, "sentiment_answers_total"),
                "dollars": metric_sum(metrics, "sentiment_cost_dollars_total"),
            },
        )
    before = len(upstream.calls)
    got = answer_of(service, OTHER)
    stored = store.find_similar(OTHER, both)
    if not got.get("degraded") or stored is not None:
        raise CheckFailed(
            "A degraded answer must never be added to the semantic cache: it would be served as a normal answer to "
            "every paraphrase.",
            input=f"answer({OTHER!r}): both paid models fail",
            expected={"degraded": True, "in the semantic cache": None},
            actual={"degraded": got.get("degraded"), "in the semantic cache": stored},
        )


# --- stretch S3: the targets ------------------------------------------------------------------------------


def learner_benchmark(learner: Namespace, **kwargs: Any) -> Report:
    return benchmark(
        lambda upstream: call("build_service(upstream)", learner.build_service, upstream),
        lambda service: call("create_app(service)", learner.create_app, service),
        learner.ProviderError,
        **kwargs,
    )


def check_report(report: Report, label: str) -> None:
    figures = report.summary()
    if report.statuses != {200: report.requests} or report.invalid:
        raise CheckFailed(
            f"{label}: every request must get 200 and a valid answer (degraded ones marked).",
            input=label,
            expected="all valid",
            actual={**figures, "first problems": report.invalid[:3]},
        )
    if any(status != 422 for status in report.bad_input.values()):
        raise CheckFailed(
            f"{label}: bad input must get 422, never a 500.",
            input=label,
            expected="422 for each",
            actual=report.bad_input,
        )
    answered = metric_sum(report.metrics, "sentiment_answers_total")
    ok = metric_sum(report.metrics, "sentiment_requests_total")
    if report.metrics_status != 200 or answered != report.requests or ok != report.requests + len(BAD_BODIES):
        raise CheckFailed(
            f"{label}: /metrics must count every answer and every request.",
            input=label,
            expected={"answers": report.requests, "requests": report.requests + len(BAD_BODIES)},
            actual={"status": report.metrics_status, "answers": answered, "requests": ok},
        )


@check(
    "07-targets",
    2,
    "build_service meets the handout's targets on the scaled-down capstone benchmark: under $0.01 per 1,000 "
    "requests and p95 under 500 ms, every answer valid, bad input 422, metrics complete",
    "Run the benchmark cell and read its figures: too dear or too slow means too many paid calls, gpt-4's above "
    "all (lower local_threshold so the free model answers more; check cheap_threshold), or retries that wait long.",
    part="stretch",
)
@names_unawaited
def targets(learner: Namespace, ref: Reference) -> None:
    report = learner_benchmark(learner, n=600, seed=7)
    check_report(report, "600 requests, no faults")
    figures = report.summary()
    if report.cost_per_1000 >= TARGET_COST_PER_1000 or report.p95 >= TARGET_P95:
        raise CheckFailed(
            "The service misses a target.",
            input="600 requests of the benchmark's traffic, no faults",
            expected={"dollars_per_1000": f"< {TARGET_COST_PER_1000}", "p95_ms": f"< {TARGET_P95 * 1000:g}"},
            actual=figures,
        )
    if report.degraded > MAX_HEALTHY_DEGRADED * report.requests:
        raise CheckFailed(
            "With no faults injected, the service must answer normally: degraded answers are for failures. A "
            "deadline already past, a boundary wired wrongly or a bug answered by the local model shows here.",
            input="600 requests of the benchmark's traffic, no faults",
            expected=f"at most {MAX_HEALTHY_DEGRADED:.0%} degraded",
            actual=figures,
        )


@dataclass
class Accuracy:
    """How right a service's answers are on the labelled sample, overall and by its local tier."""

    texts: int
    right: int
    local: list[tuple[str, str, str, float]]  # (text, label, answer, confidence) of each normal local answer
    report: Report

    @property
    def local_wrong(self) -> list[tuple[str, str, str, float]]:
        return [entry for entry in self.local if entry[1] != entry[2]]

    @property
    def local_accuracy(self) -> float:
        return 1 - len(self.local_wrong) / len(self.local) if self.local else 1.0

    def summary(self) -> dict[str, Any]:
        return {
            "texts": self.texts,
            "accuracy": f"{self.right / max(1, self.texts):.1%}",
            "local answers": len(self.local),
            "local wrong": len(self.local_wrong),
            "local accuracy": f"{self.local_accuracy:.1%}",
        }


def accuracy(
    build: Callable[[Any], Any], make_app: Callable[[Any], Any], error: type[Exception], budget: float | None = None
) -> Accuracy:
    """The service of ``make_app(build(upstream))`` on every text of :func:`labelled_sample`, once, no faults."""
    rows = labelled_sample()
    clock = VirtualClock()
    upstream = GraderUpstream(error, clock)
    app = make_app(build(upstream))
    report = run_async(
        run_benchmark(app, clock, upstream, [r["text"] for r in rows], budget), f"{len(rows)} labelled texts"
    )
    right, local = 0, []
    for row in rows:
        body = report.answers.get(row["text"])
        if body is None:
            continue
        right += body["sentiment"] == row["label"]
        if body.get("tier") == LOCAL and not body["degraded"] and body.get("source") is None:
            local.append((row["text"], row["label"], body["sentiment"], float(body["confidence"])))
    return Accuracy(len(rows), right, local, report)


@check(
    "07-accuracy",
    1,
    f"build_service's local tier answers only what it is sure of: at least {MIN_LOCAL_ACCURACY:.0%} of its answers "
    "right on 475 labelled held-out texts (hand-written reviews and the templated half it never trained on)",
    "The local model's confidence is calibrated: 0.6 means about 60% right. A local_threshold that low lets it answer "
    "texts it is unsure of; raise local_threshold (0.7 or more), and meet the cost target with the caches and "
    "cheap_threshold instead.",
    part="stretch",
)
@names_unawaited
def accuracy_check(learner: Namespace, ref: Reference) -> None:
    found = accuracy(
        lambda upstream: call("build_service(upstream)", learner.build_service, upstream),
        lambda service: call("create_app(service)", learner.create_app, service),
        learner.ProviderError,
    )
    check_report(found.report, f"{found.texts} labelled texts, no faults")
    if found.local_accuracy < MIN_LOCAL_ACCURACY:
        wrong = found.local_wrong
        confidences = sorted(c for *_, c in wrong)
        raise CheckFailed(
            f"The local tier answered {len(found.local)} of the {found.texts} labelled texts and got {len(wrong)} "
            f"wrong: accuracy {found.local_accuracy:.1%} < {MIN_LOCAL_ACCURACY:.0%}. It answered texts it was unsure "
            f"of (its confidence on the wrong ones: {confidences[0]:.2f} to {confidences[-1]:.2f}): raise "
            "local_threshold.",
            input=f"{found.texts} held-out labelled texts, each sent once, no faults",
            expected=f"local accuracy >= {MIN_LOCAL_ACCURACY:.0%}",
            actual={
                **found.summary(),
                "first wrong": [f"{t[:40]!r}: {a} ({c:.2f}), label {lab}" for t, lab, a, c in wrong[:3]],
            },
        )
