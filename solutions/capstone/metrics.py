"""What the service measures: Prometheus metrics with bounded labels, and lab 05's monitor.

Lab 05's ``PrometheusMetrics`` counts the model calls (by model, outcome, latency and
dollars, its ``model_label`` keeping the label set fixed); the service adds request rate,
latency, errors by kind, answers by tier, cache lookups and the breakers' states to the
same registry. Every label value comes from a fixed set, whatever the clients send.
Lab 05's ``MLMonitor`` keeps the recent window the live dashboard shows, with its alerts.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from . import labs

ROUTES = ("/classify", "/health", "/ready", "/metrics", "/dashboard", "/dashboard.json", "/docs", "/openapi.json")
STATUSES = ("200", "404", "405", "413", "422", "429", "500", "502", "503", "504")
ERROR_KINDS = (
    "invalid_request",
    "not_found",
    "too_large",
    "rate_limited",
    "timeout",
    "unavailable",
    "upstream_error",
    "malformed",
    "circuit_open",
    "deadline",
    "internal_error",
    "other",
)
TIERS = ("local", "cheap", "strong", "exact_cache", "semantic_cache")
BREAKER_VALUE = {"closed": 0, "half_open": 1, "open": 2}
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


def bounded(value: str, allowed: tuple[str, ...], other: str = "other") -> str:
    return value if value in allowed else other


class ServiceMetrics:
    def __init__(self, window: int = 5000) -> None:
        lab05 = labs.lab("05")
        self.lab05 = lab05
        self.registry = CollectorRegistry()
        self.llm = lab05.PrometheusMetrics(self.registry)
        r = self.registry
        self.requests = Counter("capstone_http_requests", "HTTP requests served", ["route", "status"], registry=r)
        self.latency = Histogram(
            "capstone_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "capstone_errors", "Failures by kind (client errors, upstream failures)", ["kind"], registry=r
        )
        self.answers = Counter(
            "capstone_answers", "Answers to /classify by the tier that gave them", ["tier", "degraded"], registry=r
        )
        self.cache = Counter("capstone_cache_lookups", "Cache lookups", ["layer", "result"], registry=r)
        self.shared_cache = Counter(
            "capstone_shared_cache_events",
            "Redis: answers read there (hit), polls for another process's call (wait), failed round trips (error)",
            ["event"],
            registry=r,
        )
        self.breaker = Gauge(
            "capstone_circuit_state", "Circuit breaker per model: 0 closed, 1 half-open, 2 open", ["model"], registry=r
        )
        self.in_flight = Gauge("capstone_in_flight_requests", "Requests being answered now", registry=r)
        self.cost_total = Counter("capstone_cost_dollars", "Dollars spent on model calls", registry=r)
        self.monitor = lab05.MLMonitor(window_size=window)
        self.monitor.add_alert(
            lab05.ERROR,
            lambda rate: rate > 0.05,
            "Error rate above 5% over the last 100 requests",
            cooldown=60.0,
            window=100,
        )
        self.monitor.add_alert(
            lab05.LATENCY,
            lambda ms: ms > 500.0,
            "Mean latency above 500 ms over the last 100 requests",
            cooldown=60.0,
            window=100,
        )
        self.started = time.time()
        self.tier_counts: dict[str, int] = dict.fromkeys(TIERS, 0)
        self.degraded_count = 0

    def http(self, route: str, status: int, seconds: float) -> None:
        label = bounded(route, ROUTES)
        self.requests.labels(route=label, status=bounded(str(status), STATUSES)).inc()
        self.latency.labels(route=label).observe(seconds)

    def error(self, kind: str) -> None:
        self.errors.labels(kind=bounded(kind, ERROR_KINDS)).inc()

    def model_call(self, model: str, seconds: float, outcome: str) -> None:
        label = self.lab05.model_label(model)
        self.llm.requests.labels(model=label, outcome="ok" if outcome == "ok" else "error").inc()
        self.llm.latency.labels(model=label).observe(seconds)
        if outcome != "ok":
            self.error(outcome)

    def bill(self, model: str, cost: float) -> None:
        self.llm.cost.labels(model=self.lab05.model_label(model)).inc(cost)
        self.cost_total.inc(cost)

    def answered(self, tier: str, degraded: bool, seconds: float, cost: float, cached: bool, ok: bool) -> None:
        tier = bounded(tier, TIERS, "local")
        self.answers.labels(tier=tier, degraded=str(degraded).lower()).inc()
        self.tier_counts[tier] += 1
        self.degraded_count += degraded
        at = time.time()
        self.monitor.record(self.lab05.LATENCY, seconds * 1000, at)
        self.monitor.record(self.lab05.ERROR, 0.0 if ok else 1.0, at)
        self.monitor.record(self.lab05.COST, cost, at)
        self.monitor.record(self.lab05.CACHE_HIT, 1.0 if cached else 0.0, at)

    def failed(self, seconds: float) -> None:
        at = time.time()
        self.monitor.record(self.lab05.LATENCY, seconds * 1000, at)
        self.monitor.record(self.lab05.ERROR, 1.0, at)

    def exposition(self, breakers: dict[str, str]) -> bytes:
        for model, state in breakers.items():
            self.breaker.labels(model=self.lab05.model_label(model)).set(BREAKER_VALUE.get(state, 2))
        return bytes(generate_latest(self.registry))

    def dashboard(self, extra: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self.monitor.export_dashboard(requests_per_day=100_000)
        answered = sum(self.tier_counts.values())
        data["tiers"] = {
            t: {"count": n, "share": n / answered if answered else None} for t, n in self.tier_counts.items()
        }
        data["degraded"] = self.degraded_count
        data["uptime_seconds"] = time.time() - self.started
        data.update(extra)
        return data
