"""Calls to the paid models, through lab 03's boundary: deadline, retries, breaker, fallbacks.

One ``classify`` call asks one model for one text. Lab 01's ``classify_sentiment`` makes
the call (its SDK error mapping and logprob confidence); lab 03's ``ErrorBoundary`` runs it
under the request's end-to-end deadline, with ``RateLimitFallback`` (waits what
``retry-after`` asks, or backs off with jitter, and never past the deadline), a retry for
5xx, cut and malformed answers, and ``TimeoutFallback`` (a cheaper model after a timeout,
marked degraded); lab 03's ``CircuitBreaker`` (one per model) stops calling a model that
keeps failing. What comes back says whether it is degraded; a call that cannot be
answered raises :class:`ProviderFailure`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from . import labs
from .settings import Settings

log = logging.getLogger("capstone.upstream")
# The dollars spent on the current request's model calls (retries included): the transport
# hook runs in the request's own task, so it adds to the right request's list.
request_costs: ContextVar[list[float] | None] = ContextVar("request_costs", default=None)


@dataclass(frozen=True)
class TierAnswer:
    label: str
    confidence: float
    model: str  # the model that answered
    degraded: bool  # not the asked model's own answer (a fallback model answered)
    source: str  # "primary", or the lab 03 fallback that produced it


class ProviderFailure(Exception):
    """Every way of asking the model failed within the deadline; ``kind`` is lab 01's error kind."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


def failure_kind(error: BaseException) -> str:
    """A bounded name for how a call failed (metrics labels and lab 01's error kinds)."""
    lab03 = labs.lab("03")
    if isinstance(error, lab03.CircuitOpen):
        return "circuit_open"
    if isinstance(error, lab03.DeadlineExceeded):
        return "deadline"
    if isinstance(error, openai.RateLimitError):
        return "rate_limited"
    if isinstance(error, openai.APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(error, openai.APIConnectionError):
        return "unavailable"
    if isinstance(error, openai.APIStatusError):
        return "upstream_error"
    if isinstance(error, lab03.InvalidResponse):
        return "malformed"
    return "other"


LAB01_KIND = {"circuit_open": "unavailable", "deadline": "timeout", "other": "upstream_error"}


def _retry_fallback_class() -> type:
    """Lab 03's RateLimitFallback, taught to retry 5xx, cut connections and malformed answers too."""
    lab03 = labs.lab("03")

    class RetryFallback(lab03.RateLimitFallback):  # type: ignore[misc, name-defined]
        name = "retry"

        def can_handle(self, error: BaseException) -> bool:
            if isinstance(error, openai.APIStatusError):
                return error.status_code == 429 or error.status_code >= 500
            return isinstance(error, openai.APIConnectionError | lab03.InvalidResponse) and not isinstance(
                error, openai.APITimeoutError
            )

    return RetryFallback


class Upstream:
    """The paid models behind the boundary. ``observe`` hears of every model call made."""

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx2.AsyncClient | None = None,
        observe: Callable[[str, float, str], None] | None = None,
        bill: Callable[[str, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.lab01, self.lab03 = labs.lab("01"), labs.lab("03")
        self.pricing: dict[str, dict[str, float]] = labs.lab("04").PRICING
        self._observe = observe or (lambda model, seconds, outcome: None)
        self._bill_to = bill or (lambda model, cost: None)
        self.http = http_client or openai.DefaultAsyncHttpxClient(
            limits=httpx2.Limits(max_connections=512, max_keepalive_connections=256),
        )
        self.http.event_hooks["response"].append(self._bill)
        self.client = openai.AsyncOpenAI(
            base_url=settings.llm_base_url, api_key=settings.llm_api_key, max_retries=0, http_client=self.http
        )
        self.breakers = {
            model: self.lab03.CircuitBreaker(
                failure_threshold=settings.breaker_failure_threshold,
                window=settings.breaker_window,
                min_calls=settings.breaker_min_calls,
                cooldown=settings.breaker_cooldown_seconds,
                clock=clock,
            )
            for model in (settings.cheap_model, settings.strong_model)
        }
        retry = _retry_fallback_class()
        self.retry = retry(max_attempts=settings.retry_attempts, base_delay=0.05, max_delay=0.5, clock=clock)
        self.timeout_fallback = self.lab03.TimeoutFallback(
            model=settings.cheap_model, timeout=settings.call_timeout_seconds, clock=clock
        )

    async def _bill(self, response: httpx2.Response) -> None:
        """The dollars a chat completion cost, from its usage and lab 04's prices (read at the transport)."""
        if not response.request.url.path.endswith("/chat/completions") or response.status_code != 200:
            return
        # Read outside the try: a cut body must fail the call as the SDK's own read would (an
        # APIConnectionError), not leave the stream half consumed for the SDK to trip over.
        await response.aread()
        try:
            body = json.loads(response.content)
            usage, model = body["usage"], body["model"]
            price = self.pricing[model]
            cost = (usage["prompt_tokens"] * price["input"] + usage["completion_tokens"] * price["output"]) / 1000
        except Exception:  # a malformed or cut answer: the boundary deals with it, and it is not billed here
            return
        self._bill_to(model, cost)
        costs = request_costs.get()
        if costs is not None:
            costs.append(cost)

    async def _call(self, request: Any) -> str:
        """One model call: lab 01's classify_sentiment, with its errors turned back into lab 03's."""
        started = self.clock()
        try:
            label, confidence = await self.lab01.classify_sentiment(
                self.client, request.prompt, model=request.model, timeout=request.timeout
            )
        except self.lab01.UpstreamError as exc:
            cause = exc.__cause__
            error: BaseException = (
                cause if isinstance(cause, openai.APIError | TimeoutError) else self.lab03.InvalidResponse(exc.message)
            )
            self._observe(request.model, self.clock() - started, failure_kind(error))
            raise error from exc
        self._observe(request.model, self.clock() - started, "ok")
        return json.dumps([label, confidence])

    def breaker_call(self, model: str) -> Callable[[Any], Any]:
        breaker = self.breakers.get(model)

        async def call(request: Any) -> str:
            if breaker is None or request.model != model:
                # a fallback asked another model: that model's own breaker guards it
                other = self.breakers.get(request.model)
                return await (other.call(self._call, request) if other else self._call(request))
            return str(await breaker.call(self._call, request))

        return call

    async def classify(self, text: str, model: str, deadline_at: float) -> TierAnswer:
        """``model``'s answer for ``text`` before ``deadline_at`` (on ``clock``), or ProviderFailure."""
        left = deadline_at - self.clock()
        if left <= 0:
            raise ProviderFailure("timeout", "The request's deadline passed before the model could be asked.")
        boundary = self.lab03.ErrorBoundary(deadline=left, clock=self.clock)
        boundary.add_fallback(self.retry)
        if model != self.settings.cheap_model:
            boundary.add_fallback(self.timeout_fallback)
        request = self.lab03.Request(text, model=model, timeout=self.settings.call_timeout_seconds)
        try:
            answer = await boundary.execute(self.breaker_call(model), request)
        except self.lab03.PROVIDER_ERRORS as exc:
            kind = failure_kind(exc)
            retry_after = self.lab03.retry_after(exc) if kind == "rate_limited" else None
            raise ProviderFailure(LAB01_KIND.get(kind, kind), f"{model}: {kind}", retry_after) from exc
        label, confidence = json.loads(answer.text)
        answered_by = self.settings.cheap_model if answer.source == "timeout" else model
        return TierAnswer(label, float(confidence), answered_by, bool(answer.degraded), answer.source)

    def breaker_states(self) -> dict[str, str]:
        return {model: str(b.state) for model, b in self.breakers.items()}

    async def close(self) -> None:
        await self.client.close()
