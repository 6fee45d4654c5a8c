"""The cost-aware cascade: the free local classifier, then the cheap model, then the strong one.

Each tier answers only when it is confident enough (or, for the cheap model, when its
unsure answer agrees with the local classifier's); the next tier is asked only when not.
Paid answers are remembered in lab 02's semantic cache, scoped by the cascade's models
and prompt, so a near-identical text is not paid for twice. When the paid tiers
fail, the answer is the best one left (the cheap model's unsure answer, else the local
classifier's), raised as :class:`Degraded` so that no cache keeps it and the client is told.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from . import labs
from .caches import SemanticCache
from .local_model import LocalClassifier
from .settings import Settings
from .upstream import ProviderFailure, TierAnswer, Upstream

LOCAL = "local"


class Degraded(Exception):
    """An answer that is not what the cascade would give when healthy; ``value`` is the response."""

    def __init__(self, value: dict[str, Any], failure: ProviderFailure | None) -> None:
        super().__init__(value.get("source", "degraded"))
        self.value = value
        self.failure = failure


def answer(
    label: str, confidence: float, model: str, tier: str, *, degraded: bool = False, source: str | None = None
) -> dict[str, Any]:
    return {
        "sentiment": label,
        "confidence": round(float(confidence), 4),
        "model_used": model,
        "tier": tier,
        "degraded": degraded,
        "source": source,
    }


class Cascade:
    def __init__(
        self,
        settings: Settings,
        upstream: Upstream,
        local: LocalClassifier,
        semantic: SemanticCache | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.local = local
        self.semantic = semantic
        self.clock = clock
        prompt = hashlib.sha256(labs.lab("01").SYSTEM_PROMPT.encode()).hexdigest()[:12]
        # Lab 02's lesson: an answer is only reusable for the same models and the same prompt.
        self.scope = (
            f"{settings.cheap_model}>{settings.strong_model}@{settings.cheap_threshold}"
            f"{'+agree' if settings.accept_agreement else ''}|{prompt}"
        )

    async def classify(self, text: str) -> dict[str, Any]:
        """The cascade's answer for ``text``; Degraded or ProviderFailure when the paid tiers fail."""
        local = self.local.predict(text)
        if local.confidence >= self.settings.local_threshold:
            return answer(local.label, local.confidence, LOCAL, LOCAL)
        if self.semantic is not None:
            found = self.semantic.find(text, self.scope)
            if found is not None:
                return {**found, "source": "semantic"}
        deadline_at = self.clock() + self.settings.deadline_seconds
        unsure: TierAnswer | None = None
        failure: ProviderFailure | None = None
        try:
            cheap = await self.upstream.classify(text, self.settings.cheap_model, deadline_at)
        except ProviderFailure as exc:
            failure = exc
        else:
            if cheap.confidence >= self.settings.cheap_threshold or (
                self.settings.accept_agreement and cheap.label == local.label
            ):
                return self._remember(text, answer(cheap.label, cheap.confidence, cheap.model, "cheap"))
            unsure = cheap
        try:
            strong = await self.upstream.classify(text, self.settings.strong_model, deadline_at)
        except ProviderFailure as exc:
            failure = exc
        else:
            if not strong.degraded:
                return self._remember(text, answer(strong.label, strong.confidence, strong.model, "strong"))
            # lab 03's TimeoutFallback answered with the cheap model: usable, but not the strong answer
            raise Degraded(
                answer(
                    strong.label,
                    strong.confidence,
                    strong.model,
                    "cheap",
                    degraded=True,
                    source=f"fallback:{strong.source}",
                ),
                None,
            )
        if unsure is not None:
            raise Degraded(
                answer(
                    unsure.label,
                    unsure.confidence,
                    unsure.model,
                    "cheap",
                    degraded=True,
                    source="fallback:unsure_cheap",
                ),
                failure,
            )
        if self.settings.degrade_to_local:
            raise Degraded(
                answer(local.label, local.confidence, LOCAL, LOCAL, degraded=True, source="fallback:local"), failure
            )
        assert failure is not None
        raise failure

    def _remember(self, text: str, value: dict[str, Any]) -> dict[str, Any]:
        if self.semantic is not None:
            self.semantic.add(text, value, self.scope)
        return value
