"""The mock's model catalogue: prices, context windows, latency profiles, quality tiers.

Prices are the workshop handout's, in US dollars per 1,000 tokens, so a lab's cost
calculator and the mock's ledger agree to the cent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ModelKind = Literal["chat", "completion", "embedding"]

# Quality tiers: 1 = fast/basic, 2 = standard, 3 = strong. Embedding models have none.
TIER_NAMES = {1: "basic", 2: "standard", 3: "strong"}


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """Simulated latency: time to first token plus time per output token.

    Both are multiplied by a log-normal factor with mean 1, so the mean is as stated
    and the tail is heavy: ``sigma`` 0.5 puts p99 near 2.8 x the mean.
    """

    ttft_ms: float
    per_token_ms: float
    sigma: float = 0.5

    def factor_quantile(self, q: float) -> float:
        """The latency multiplier at quantile ``q`` (0 < q < 1)."""
        from statistics import NormalDist

        mu = -(self.sigma**2) / 2
        return math.exp(mu + self.sigma * NormalDist().inv_cdf(q))


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    kind: ModelKind
    input_per_1k: float
    output_per_1k: float
    context_window: int
    latency: LatencyProfile
    quality_tier: int = 0
    owned_by: str = "mock-llm"
    created: int = 1_700_000_000
    dimensions: int = 0  # embedding models only

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollar cost of one call, from the per-1K prices."""
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000

    def describe(self) -> dict[str, object]:
        """The model object as ``/v1/models`` lists it, with the mock's extra facts."""
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
            "kind": self.kind,
            "pricing_per_1k_tokens": {"input": self.input_per_1k, "output": self.output_per_1k},
            "context_window": self.context_window,
            "quality_tier": self.quality_tier,
            "quality": TIER_NAMES.get(self.quality_tier),
            "latency_ms": {
                "ttft_mean": self.latency.ttft_ms,
                "per_output_token": self.latency.per_token_ms,
                "p99_factor": round(self.latency.factor_quantile(0.99), 2),
            },
            **({"dimensions": self.dimensions} if self.dimensions else {}),
        }


EMBEDDING_DIMENSIONS = 256

CATALOGUE: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec("gpt-4", "chat", 0.03, 0.06, 8192, LatencyProfile(450.0, 12.0), quality_tier=3, owned_by="openai"),
        ModelSpec(
            "gpt-3.5-turbo",
            "chat",
            0.001,
            0.002,
            16385,
            LatencyProfile(200.0, 4.0),
            quality_tier=2,
            owned_by="openai",
        ),
        ModelSpec(
            "claude-instant",
            "chat",
            0.0008,
            0.0024,
            100_000,
            LatencyProfile(150.0, 3.0),
            quality_tier=1,
            owned_by="anthropic",
        ),
        # Retired by OpenAI in January 2024; kept so the handout's "before" code runs.
        ModelSpec(
            "text-davinci-003",
            "completion",
            0.02,
            0.02,
            4097,
            LatencyProfile(300.0, 8.0),
            quality_tier=2,
            owned_by="openai",
        ),
        ModelSpec(
            "text-embedding-3-small",
            "embedding",
            0.00002,
            0.0,
            8191,
            LatencyProfile(40.0, 0.0, sigma=0.3),
            owned_by="openai",
            dimensions=EMBEDDING_DIMENSIONS,
        ),
    )
}
