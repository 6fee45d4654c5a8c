"""Everything one mock server instance holds: settings, ledger, faults, limits."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from .accounts import Accounts, ApiKey, SharedLedger, current_key
from .catalogue import CATALOGUE, ModelKind, ModelSpec
from .errors import OpenAIError
from .faults import FAULT_HEADER, MAX_HANG, Fault, FaultInjector
from .ratelimit import RateLimiter, format_reset
from .settings import Settings

FAULT_HEADER_BYTES = FAULT_HEADER.encode()
RETRY_COUNT_HEADER = b"x-stainless-retry-count"  # sent by the official SDKs on every attempt
NOMINAL_RPM = 500  # what an injected 429 reports as the limit when no real limit is set


MAX_RETRY_COUNT = 1_000_000  # a larger (or 5,000-digit) retry count is read as this


def retry_count(value: bytes) -> int:
    """The SDK's ``x-stainless-retry-count``: a small number; garbage is 0, a huge one is clamped.

    Never ``int()`` of the raw value: Python refuses strings over 4,300 digits.
    """
    if not value.isdigit():  # ASCII digits only: bytes.isdigit knows no other
        return 0
    digits = value.lstrip(b"0")
    return int(digits or b"0") if len(digits) <= 6 else MAX_RETRY_COUNT


@dataclass
class MockState:
    settings: Settings
    clock: Callable[[], float] = time.monotonic
    # Every billed call, server-wide and under its API key (see mock_llm.accounts).
    ledger: SharedLedger = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.accounts = Accounts(s.max_keys, s.key_idle_seconds, clock=self.clock)
        self.ledger = SharedLedger(self.accounts)
        self.faults = FaultInjector(rates=dict(s.faults), seed=s.seed, hang=min(s.hang_seconds, MAX_HANG))
        self.limiter = RateLimiter(rpm=s.rpm, tpm=s.tpm, clock=self.clock)
        self._latency_rng = random.Random(s.seed)
        self._ids = itertools.count(1)

    @property
    def seed(self) -> int:
        return self.settings.seed

    def next_id(self) -> str:
        return f"{next(self._ids):012x}"

    def model(self, model_id: str, kinds: tuple[ModelKind, ...], endpoint: str) -> ModelSpec:
        spec = CATALOGUE.get(model_id)
        if spec is None:
            raise OpenAIError(
                404,
                f"The model `{model_id}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        if spec.kind not in kinds:
            raise OpenAIError(
                404,
                f"`{model_id}` is a {spec.kind} model and is not supported on {endpoint}.",
                param="model",
                code="model_not_supported",
            )
        return spec

    def choose_fault(self, request: Request) -> Fault | None:
        """The fault for this request: its header's, else its key's settings', else the server's."""
        header: str | None = None
        retries = 0
        for name, value in request.scope["headers"]:  # one pass over the raw headers
            if name == FAULT_HEADER_BYTES:
                header = value.decode("latin-1")
            elif name == RETRY_COUNT_HEADER:
                retries = retry_count(value)
        key = current_key.get()
        account = self.accounts.get(key) if key is not None else None
        injector = account.faults if account is not None and account.faults is not None else self.faults
        fault = injector.choose(header, retries)
        if fault is not None and key is not None:
            if injector is not self.faults:
                self.faults.note(fault.kind)  # the server-wide count includes every key's
            self.accounts.note_fault(key, fault.kind)
        return fault

    def key_faults(self, key: ApiKey) -> FaultInjector:
        """The key's own fault settings, starting as a copy of the server-wide ones.

        A 429 when the key has no account and none can be made (see mock_llm.accounts): its
        settings would have nowhere to live.
        """
        server = self.faults
        injector = self.accounts.own_faults(
            key, lambda: FaultInjector(rates=dict(server.rates), seed=server.seed, hang=server.hang)
        )
        if injector is None:
            raise OpenAIError(
                429,
                f"The mock already keeps {self.accounts.max_keys} API keys' ledgers and faults, all in use, so "
                "this key cannot have fault settings of its own. Your calls are still served (with the "
                "server-wide faults) and counted server-wide; ask the operator to raise --max-keys.",
                type="insufficient_quota",
                code="too_many_keys",
            )
        return injector

    async def wait(self, spec: ModelSpec, output_tokens: int, *, first_token_only: bool = False) -> None:
        """Sleep (without blocking the loop) for a sampled response time of ``spec``."""
        scale = self.settings.latency
        if scale <= 0:
            return
        profile = spec.latency
        factor = self._latency_rng.lognormvariate(-(profile.sigma**2) / 2, profile.sigma)
        millis = profile.ttft_ms + (0 if first_token_only else profile.per_token_ms * output_tokens)
        await asyncio.sleep(millis * factor * scale / 1000)

    async def token_gap(self, spec: ModelSpec, tokens: int) -> None:
        scale = self.settings.latency
        if scale > 0 and spec.latency.per_token_ms > 0:
            await asyncio.sleep(spec.latency.per_token_ms * tokens * scale / 1000)

    async def before_answer(self, spec: ModelSpec, fault: Fault | None, tokens: int, stream: bool) -> dict[str, str]:
        """Apply limits and status-code faults; return the rate-limit headers for a success."""
        if fault is not None:
            await self._status_fault(fault, stream)
        headers: dict[str, str] = {}
        if self.limiter.enabled:
            verdict = self.limiter.check(spec.id, tokens)
            if not verdict.allowed:
                self.ledger.record_rejected()
                raise OpenAIError(
                    429,
                    f"Rate limit reached for {spec.id}: limit {self.limiter.rpm or '-'} requests and "
                    f"{self.limiter.tpm or '-'} tokens per minute. Please try again in "
                    f"{format_reset(verdict.retry_after)}.",
                    type="requests",
                    code="rate_limit_exceeded",
                    headers={**verdict.headers, "retry-after": str(max(1, round(verdict.retry_after)))},
                )
            headers = verdict.headers
        return headers

    async def _status_fault(self, fault: Fault, stream: bool) -> None:
        extra: dict[str, str] = {}
        if fault.should_retry is not None:
            extra["x-should-retry"] = "true" if fault.should_retry else "false"
        if fault.retry_after is not None:
            extra["retry-after"] = f"{fault.retry_after:g}"
        if fault.retry_after_ms is not None:
            extra["retry-after-ms"] = f"{fault.retry_after_ms:g}"
        kind = fault.kind
        if kind == "rate_limit":
            self.ledger.record_rejected()
            retry_after = fault.retry_after if fault.retry_after is not None else 1.0
            extra |= {
                "retry-after": f"{retry_after:g}",
                "x-ratelimit-limit-requests": str(self.limiter.rpm or NOMINAL_RPM),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": format_reset(retry_after),
            }
            raise OpenAIError(
                429,
                "Rate limit reached (injected by the mock's fault `rate_limit`).",
                type="requests",
                code="rate_limit_exceeded",
                headers=extra,
            )
        if kind == "server_error" or (kind == "stream_error" and not stream):
            raise OpenAIError(
                500,
                "The server had an error while processing your request (injected fault).",
                type="server_error",
                headers=extra,
            )
        if kind == "unavailable":
            raise OpenAIError(
                503,
                "The engine is currently overloaded, please try again later (injected fault).",
                type="service_unavailable",
                code="service_unavailable",
                headers=extra,
            )
        if kind == "timeout":
            await asyncio.sleep(min(self.faults.hang if fault.hang is None else fault.hang, MAX_HANG))
        if kind == "slow_stream" and not stream:
            await asyncio.sleep(min(fault.delay, MAX_HANG))
