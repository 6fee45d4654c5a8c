"""Is simulated latency shaped as documented, and does it never block the event loop?"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from mock_llm import InProcessMock, Settings
from mock_llm.catalogue import CATALOGUE


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """An injected clock: asyncio.sleep records its delay and returns at once; time.sleep is forbidden."""
    recorded: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, result: object = None) -> object:
        if threading.current_thread().name.startswith("mock_llm:"):
            return await real_sleep(delay, result)  # a real server thread of another test: leave it alone
        recorded.append(delay)
        return await real_sleep(0, result)

    def no_blocking(_: float) -> None:
        raise AssertionError("time.sleep would block the event loop")

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    monkeypatch.setattr(time, "sleep", no_blocking)
    return recorded


def test_latency_matches_the_profile(sleeps: list[float]) -> None:
    """Over 400 calls, the mean wait is the profile's mean and the p99 has the documented tail."""
    mock = InProcessMock(Settings(latency=1.0, seed=3))

    async def run() -> int:
        client = mock.async_client()
        reply = None
        for _ in range(400):
            reply = await client.chat.completions.create(
                model="gpt-4", messages=[{"role": "user", "content": "What are your support hours?"}]
            )
        assert reply is not None and reply.usage is not None
        return reply.usage.completion_tokens

    tokens = asyncio.run(run())
    profile = CATALOGUE["gpt-4"].latency
    expected_mean = (profile.ttft_ms + profile.per_token_ms * tokens) / 1000
    waits = np.array(sleeps)
    assert len(waits) == 400
    assert waits.mean() == pytest.approx(expected_mean, rel=0.1)
    p99_factor = np.quantile(waits, 0.99) / expected_mean
    assert p99_factor == pytest.approx(profile.factor_quantile(0.99), rel=0.25)


def test_scale_and_off(sleeps: list[float]) -> None:
    fast = InProcessMock(Settings(latency=0.1, seed=3)).client()
    fast.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    assert 0 < sleeps[0] < 1.0
    sleeps.clear()
    off = InProcessMock(Settings(latency=0.0)).client()
    off.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    list(off.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert sleeps == []


def test_stream_paces_every_token(sleeps: list[float]) -> None:
    mock = InProcessMock(Settings(latency=1.0, seed=1))
    chunks = list(
        mock.client().chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "What are your support hours?"}], stream=True
        )
    )
    per_token = CATALOGUE["gpt-3.5-turbo"].latency.per_token_ms / 1000
    assert sum(1 for s in sleeps if s == pytest.approx(per_token)) >= len(chunks) - 3
