"""Server settings: one place, read from flags or the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .faults import parse_rates

DEFAULT_PORT = 8000


def parse_latency(value: str | float) -> float:
    """``off``/``0`` switches simulated latency off; a number scales every model's profile."""
    if isinstance(value, str) and value.strip().lower() in {"off", "none", "false", "no"}:
        return 0.0
    scale = float(value)
    if not 0 <= scale <= 100:
        raise ValueError(f"latency scale must be between 0 and 100, got {value}")
    return scale


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    seed: int = 0
    latency: float = 1.0  # scale of every model's latency profile; 0 = off
    faults: dict[str, float] = field(default_factory=dict)
    hang_seconds: float = 30.0  # how long a "timeout" fault hangs (bounded by faults.MAX_HANG)
    rpm: int | None = None  # requests per minute per model; None = no limit
    tpm: int | None = None  # tokens per minute per model; None = no limit
    max_body_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``MOCK_LLM_*`` variables; keyword arguments win over them."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if "MOCK_LLM_HOST" in env:
            values["host"] = env["MOCK_LLM_HOST"]
        if "MOCK_LLM_PORT" in env:
            values["port"] = int(env["MOCK_LLM_PORT"])
        if "MOCK_LLM_SEED" in env:
            values["seed"] = int(env["MOCK_LLM_SEED"])
        if "MOCK_LLM_LATENCY" in env:
            values["latency"] = parse_latency(env["MOCK_LLM_LATENCY"])
        if env.get("MOCK_LLM_FAULTS"):
            values["faults"] = parse_rates(env["MOCK_LLM_FAULTS"])
        if "MOCK_LLM_HANG_SECONDS" in env:
            values["hang_seconds"] = float(env["MOCK_LLM_HANG_SECONDS"])
        if env.get("MOCK_LLM_RPM"):
            values["rpm"] = int(env["MOCK_LLM_RPM"])
        if env.get("MOCK_LLM_TPM"):
            values["tpm"] = int(env["MOCK_LLM_TPM"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
