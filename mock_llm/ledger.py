"""What each model was asked and what it cost, readable and resettable."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .catalogue import ModelSpec


@dataclass
class ModelUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost_usd": round(self.cost_usd, 10),
        }


@dataclass
class Ledger:
    """Billable calls per model. Only answered calls are billed: errors cost nothing."""

    models: dict[str, ModelUsage] = field(default_factory=dict)
    rejected: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def record(self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
        cost = spec.cost(prompt_tokens, completion_tokens)
        with self._lock:
            usage = self.models.setdefault(spec.id, ModelUsage())
            usage.calls += 1
            usage.prompt_tokens += prompt_tokens
            usage.completion_tokens += completion_tokens
            usage.cost_usd += cost
        return cost

    def record_rejected(self) -> None:
        with self._lock:
            self.rejected += 1

    def reset(self) -> None:
        with self._lock:
            self.models.clear()
            self.rejected = 0

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            models = {name: usage.as_dict() for name, usage in sorted(self.models.items())}
            rejected = self.rejected
        return {
            "models": models,
            "total": {
                "calls": sum(int(m["calls"]) for m in models.values()),
                "prompt_tokens": sum(int(m["prompt_tokens"]) for m in models.values()),
                "completion_tokens": sum(int(m["completion_tokens"]) for m in models.values()),
                "cost_usd": round(sum(float(m["cost_usd"]) for m in models.values()), 10),
            },
            "rejected_requests": rejected,
        }
