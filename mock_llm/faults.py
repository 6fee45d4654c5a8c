"""Fault injection: the failures real LLM providers produce, on demand and replayable.

Two ways to ask for a fault:

- server-wide rates (``--fault rate_limit=0.1``, ``MOCK_LLM_FAULTS``, or ``PUT
  /_mock/faults``): each request draws from a seeded generator in arrival order, so a
  sequential run replays exactly;
- per request, with a header: ``x-mock-fault: rate_limit; attempts=2; retry_after=1``.
  ``attempts=N`` limits the fault to the first N attempts of a request, read from the
  ``x-stainless-retry-count`` header the official SDK sends, so that retry behaviour can
  be tested deterministically.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal, get_args

from .errors import OpenAIError

FaultKind = Literal[
    "rate_limit",  # 429 with retry-after and x-ratelimit-* headers
    "timeout",  # hang past the client's timeout (bounded), then answer
    "server_error",  # 500
    "unavailable",  # 503
    "malformed_json",  # 200 whose body is not JSON
    "truncated",  # the connection drops part-way through the body
    "corrupted",  # 200, valid JSON, mangled content
    "empty",  # 200, valid JSON, no usable content (choices empty / content null)
    "slow_stream",  # long pauses between tokens
    "stream_error",  # an error event in the middle of a stream
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
FAULT_DESCRIPTIONS = {
    "rate_limit": "429 rate_limit_exceeded with retry-after, retry-after-ms and x-ratelimit-* headers",
    "timeout": "the server hangs for `hang` seconds (default 30, at most 120), then answers normally",
    "server_error": "500 server_error",
    "unavailable": "503 service_unavailable",
    "malformed_json": "200 with a body that is not valid JSON",
    "truncated": "the connection closes part-way through the body (a cut stream for stream=true)",
    "corrupted": "200 with valid JSON whose text is half cut and mangled",
    "empty": "200 with valid JSON and no usable content; a stream ends without finish_reason or [DONE]",
    "slow_stream": "stream tokens with `delay` seconds between them (default 0.5); non-streamed: one delay",
    "stream_error": "a stream that sends an error event part-way through; non-streamed: 500",
}
MAX_HANG = 120.0
FAULT_HEADER = "x-mock-fault"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    attempts: int | None = None
    retry_after: float | None = None
    retry_after_ms: float | None = None
    should_retry: bool | None = None
    hang: float | None = None  # None: the server's --hang-seconds
    delay: float = 0.5

    def applies(self, retry_count: int) -> bool:
        return self.attempts is None or retry_count < self.attempts


def _shown(value: str) -> str:
    """A header value quoted in an error, cut short: the client sent it, it need not come back whole."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _number(name: str, value: str, low: float, high: float) -> float:
    # float() takes any length of digits (a huge number is inf) and nan/inf, all refused below.
    try:
        number = float(value)
    except ValueError:
        raise OpenAIError(
            400,
            f"Header {FAULT_HEADER}: {name} must be a number, got {_shown(value)}.",
            param=FAULT_HEADER,
            code="invalid_fault",
        ) from None
    if not low <= number <= high:  # False for nan
        raise OpenAIError(
            400,
            f"Header {FAULT_HEADER}: {name} must be between {low:g} and {high:g}, got {_shown(value)}.",
            param=FAULT_HEADER,
            code="invalid_fault",
        )
    return number


def parse_fault_header(value: str) -> Fault:
    """Parse ``kind; key=value; ...``; a bad header is the caller's 400, never a 500."""
    kind, *params = (part.strip() for part in value.split(";"))
    if kind not in FAULT_KINDS:
        raise OpenAIError(
            400,
            f"Header {FAULT_HEADER}: unknown fault {_shown(kind)}; expected one of {', '.join(FAULT_KINDS)}.",
            param=FAULT_HEADER,
            code="invalid_fault",
        )
    options: dict[str, object] = {}
    for param in filter(None, params):
        key, _, raw = (s.strip() for s in param.partition("="))
        if key == "attempts":
            options[key] = int(_number(key, raw, 0, 1000))
        elif key in {"retry_after", "hang", "delay"}:
            options[key] = _number(key, raw, 0, MAX_HANG)
        elif key == "retry_after_ms":
            options[key] = _number(key, raw, 0, MAX_HANG * 1000)
        elif key == "should_retry":
            if raw not in {"true", "false"}:
                raise OpenAIError(
                    400,
                    f"Header {FAULT_HEADER}: should_retry must be true or false.",
                    param=FAULT_HEADER,
                    code="invalid_fault",
                )
            options[key] = raw == "true"
        else:
            raise OpenAIError(
                400,
                f"Header {FAULT_HEADER}: unknown option {_shown(key)}; expected attempts, "
                "retry_after, retry_after_ms, should_retry, hang or delay.",
                param=FAULT_HEADER,
                code="invalid_fault",
            )
    return Fault(kind, **options)  # type: ignore[arg-type]


def parse_rates(spec: str | dict[str, float] | list[str]) -> dict[str, float]:
    """Rates from ``"rate_limit=0.1,server_error=0.05"``, a list of such items, or a dict."""
    if isinstance(spec, str):
        items = [item for item in spec.replace(" ", "").split(",") if item]
    elif isinstance(spec, list):
        items = spec
    else:
        items = [f"{k}={v}" for k, v in spec.items()]
    rates: dict[str, float] = {}
    for item in items:
        kind, sep, raw = item.partition("=")
        if not sep or kind not in FAULT_KINDS:
            raise ValueError(f"fault rate {item!r}: expected KIND=RATE with KIND one of {', '.join(FAULT_KINDS)}")
        try:
            rate = float(raw)
        except ValueError:
            raise ValueError(f"fault rate {item!r}: {raw!r} is not a number") from None
        if not 0 <= rate <= 1:
            raise ValueError(f"fault rate {item!r}: the rate must be between 0 and 1")
        rates[kind] = rate
    if sum(rates.values()) > 1 + 1e-9:
        raise ValueError(f"fault rates add up to {sum(rates.values()):g}, more than 1")
    return rates


@dataclass
class FaultInjector:
    """Chooses the fault (if any) for each request."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    hang: float = 30.0
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._script: deque[Fault | None] = deque()

    def configure(
        self, rates: dict[str, float] | None = None, seed: int | None = None, script: list[str | None] | None = None
    ) -> None:
        """Set rates and seed (restarting the seeded sequence) and/or a script.

        A script lists the faults of the next requests in order, in the header's syntax
        (``"rate_limit; retry_after=0.1"``), ``None`` meaning no fault; after it runs out,
        the rates apply again. Tests use it to make an app's *upstream* calls fail exactly.
        """
        parsed = None if script is None else [None if s is None else parse_fault_header(s) for s in script]
        with self._lock:
            if rates is not None:
                self.rates = dict(rates)
            if seed is not None:
                self.seed = seed
            if parsed is not None:
                self._script = deque(parsed)
            self._rng = random.Random(self.seed)

    def choose(self, header: str | None, retry_count: int) -> Fault | None:
        fault: Fault | None = None
        if header:
            fault = parse_fault_header(header)
            if not fault.applies(retry_count):
                return None
        elif self._script:
            with self._lock:
                fault = self._script.popleft() if self._script else None
        elif self.rates:
            with self._lock:
                draw = self._rng.random()
            for kind, rate in self.rates.items():
                if draw < rate:
                    fault = Fault(kind)
                    break
                draw -= rate
        if fault is not None:
            self.note(fault.kind)
        return fault

    def note(self, kind: str) -> None:
        """Count an injected fault (also those another injector chose, for a server-wide total)."""
        with self._lock:
            self.injected[kind] = self.injected.get(kind, 0) + 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "rates": dict(self.rates),
                "seed": self.seed,
                "hang_seconds": self.hang,
                "script": [f.kind if f else None for f in self._script],
                "injected": dict(self.injected),
                "kinds": FAULT_DESCRIPTIONS,
            }


def corrupt(text: str) -> str:
    """The handout's corruption: half the text, then replacement characters."""
    return text[: len(text) // 2] + "\ufffd\ufffd\ufffdCORRUPT\ufffd\ufffd\ufffd"
