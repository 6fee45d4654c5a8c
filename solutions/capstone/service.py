"""The service's parts, built once per process, and what answering one request takes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2

from . import labs
from .caches import ExactCache, MemoryCache, RedisCache, SemanticCache, cache_key
from .cascade import LOCAL, Cascade, Degraded, answer
from .local_model import trained
from .metrics import ServiceMetrics
from .schemas import models
from .settings import Settings
from .upstream import ProviderFailure, Upstream, request_costs

log = logging.getLogger("capstone.service")


@dataclass
class Service:
    settings: Settings
    metrics: ServiceMetrics
    upstream: Upstream
    cascade: Cascade
    exact: ExactCache
    draining: bool = False
    ready: bool = False
    in_flight: int = 0
    response_model: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, http_client: httpx2.AsyncClient | None = None) -> Service:
        labs.load_all()
        metrics = ServiceMetrics(window=settings.dashboard_window)
        upstream = Upstream(settings, http_client=http_client, observe=metrics.model_call, bill=metrics.bill)
        semantic = SemanticCache(settings.semantic_threshold, settings.semantic_max_entries)
        cascade = Cascade(settings, upstream, trained(), semantic)
        exact: ExactCache
        if settings.redis_url:
            exact = RedisCache(
                settings.redis_url,
                ttl_seconds=settings.cache_ttl_seconds,
                local_ttl_seconds=settings.local_cache_ttl_seconds,
                wait_seconds=settings.singleflight_wait_seconds,
                timeout_seconds=settings.redis_timeout_seconds,
                observe=lambda event: metrics.shared_cache.labels(event=event).inc(),
            )
        else:
            exact = MemoryCache(settings.cache_max_entries, settings.cache_ttl_seconds)
        return cls(settings, metrics, upstream, cascade, exact, response_model=models()[1])

    async def classify(self, text: str) -> dict[str, Any]:
        """The response body for ``text``: a dict SentimentResponse's fields and the capstone's.

        Raises lab 01's UpstreamError when no answer at all can be given (degradation off).
        """
        started = time.perf_counter()
        costs: list[float] = []
        token = request_costs.set(costs)
        try:
            try:
                value, cached = await self.exact.get_or_compute(
                    cache_key(text, self.cascade.scope), lambda: self.cascade.classify(text)
                )
            except Degraded as exc:
                value, cached = exc.value, False
                if exc.failure is not None:
                    log.warning("degraded answer", extra={"source": value["source"], "kind": exc.failure.kind})
            except ProviderFailure as exc:
                self.metrics.failed(time.perf_counter() - started)
                raise labs.lab("01").UpstreamError(
                    exc.kind, f"The model provider could not answer in time: {exc.message}.", exc.retry_after
                ) from None
            except Exception:
                # A failure nobody foresaw (a bug of ours or a library's): logged in full for the
                # operator and counted, while the client gets the local model's answer, marked degraded.
                log.exception("unexpected failure; answered by the local model")
                self.metrics.error("internal_error")
                local = self.cascade.local.predict(text)
                value = answer(local.label, local.confidence, LOCAL, LOCAL, degraded=True, source="fallback:local")
                cached = False
        finally:
            request_costs.reset(token)
        return self._finish(value, bool(cached), started, sum(costs))

    def cached_answer(self, text: str) -> dict[str, Any] | None:
        """The answer for ``text`` if this process holds it already (no I/O, no waiting), else None."""
        started = time.perf_counter()
        value = self.exact.peek(cache_key(text, self.cascade.scope))
        return None if value is None else self._finish(value, True, started, 0.0)

    def _finish(self, value: dict[str, Any], cached: bool, started: float, cost: float) -> dict[str, Any]:
        """The response body for an answer, and the answer counted."""
        body = dict(value)
        if not cached and body.get("source") != "semantic":
            body = self.response_model.model_validate({**body, "cached": False}).model_dump()  # lab 01's rules
        if cached:
            body["source"] = "exact"
        semantic = body.get("source") == "semantic"
        body["cached"] = bool(cached or semantic)
        tier = "exact_cache" if cached else "semantic_cache" if semantic else body["tier"]
        self.metrics.cache.labels(layer="exact", result="hit" if cached else "miss").inc()
        self.metrics.answered(
            tier, bool(body["degraded"]), time.perf_counter() - started, cost, body["cached"], ok=True
        )
        return body

    def is_ready(self) -> bool:
        # Not the shared cache's health: the service answers without Redis (at the cost of
        # model calls), and a readiness tied to one shared dependency takes every pod out at once.
        return self.ready and not self.draining

    def dashboard(self) -> dict[str, Any]:
        extra = {
            "breakers": self.upstream.breaker_states(),
            "in_flight": self.in_flight,
            "semantic_entries": len(self.cascade.semantic) if self.cascade.semantic is not None else 0,
            "settings": {
                "cheap_model": self.settings.cheap_model,
                "strong_model": self.settings.strong_model,
                "local_threshold": self.settings.local_threshold,
                "cheap_threshold": self.settings.cheap_threshold,
                "deadline_seconds": self.settings.deadline_seconds,
                "shared_cache": "redis" if self.settings.redis_url else "memory",
            },
        }
        if isinstance(self.exact, MemoryCache):
            extra["exact_entries"] = len(self.exact)
        elif isinstance(self.exact, RedisCache):
            extra["redis"] = self.exact.stats()
        return self.metrics.dashboard(extra)

    async def close(self) -> None:
        await self.upstream.close()
        await self.exact.close()
