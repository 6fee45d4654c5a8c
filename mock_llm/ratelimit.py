"""Per-model request and token limits over a one-minute window, as OpenAI enforces them."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW = 60.0


def format_reset(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0


@dataclass
class RateLimiter:
    rpm: int | None = None
    tpm: int | None = None
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, tuple[float, int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.rpm or self.tpm)

    def check(self, model: str, tokens: int) -> Verdict:
        """Count one request of ``tokens`` tokens against the model's window."""
        now = self.clock()
        with self._lock:
            start, requests, used = self._windows.get(model, (now, 0, 0))
            if now - start >= WINDOW:
                start, requests, used = now, 0, 0
            reset = WINDOW - (now - start)
            over_requests = self.rpm is not None and requests + 1 > self.rpm
            over_tokens = self.tpm is not None and used + tokens > self.tpm
            allowed = not (over_requests or over_tokens)
            if allowed:
                requests += 1
                used += tokens
            self._windows[model] = (start, requests, used)
        headers: dict[str, str] = {}
        if self.rpm is not None:
            headers |= {
                "x-ratelimit-limit-requests": str(self.rpm),
                "x-ratelimit-remaining-requests": str(max(0, self.rpm - requests)),
                "x-ratelimit-reset-requests": format_reset(reset),
            }
        if self.tpm is not None:
            headers |= {
                "x-ratelimit-limit-tokens": str(self.tpm),
                "x-ratelimit-remaining-tokens": str(max(0, self.tpm - used)),
                "x-ratelimit-reset-tokens": format_reset(reset),
            }
        return Verdict(allowed, headers, retry_after=0.0 if allowed else reset)
