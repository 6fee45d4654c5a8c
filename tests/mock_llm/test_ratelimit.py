"""Do real rate limits behave like OpenAI's, on an injected clock?"""

from __future__ import annotations

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from mock_llm import Settings, create_app
from mock_llm.ratelimit import RateLimiter, format_reset


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_resets_after_a_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=2, clock=clock)
    assert limiter.check("m", 1).allowed
    assert limiter.check("m", 1).allowed
    verdict = limiter.check("m", 1)
    assert not verdict.allowed
    assert verdict.retry_after == pytest.approx(60)
    clock.now += 45
    assert limiter.check("m", 1).retry_after == pytest.approx(15)
    clock.now += 15
    assert limiter.check("m", 1).allowed
    assert limiter.check("other", 1).allowed, "limits are per model"


def test_token_limit() -> None:
    limiter = RateLimiter(tpm=100, clock=Clock())
    assert limiter.check("m", 60).allowed
    assert not limiter.check("m", 60).allowed
    assert limiter.check("m", 40).headers["x-ratelimit-remaining-tokens"] == "0"


def test_reset_format_matches_openai() -> None:
    assert [format_reset(s) for s in (0.02, 1, 59.2, 360)] == ["20ms", "1s", "1m0s", "6m0s"]


def test_headers_and_429_through_the_sdk() -> None:
    import httpx2

    clock = Clock()
    app = create_app(Settings(latency=0.0, rpm=3), clock=clock)
    transport = httpx2.ASGITransport(app=app)

    async def run() -> None:
        client = openai.AsyncOpenAI(
            base_url="http://mock/v1", api_key="k", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
        )
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
        for remaining in ("2", "1", "0"):
            raw = await client.chat.completions.with_raw_response.create(model="gpt-4", messages=messages)
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            assert raw.headers["x-ratelimit-remaining-requests"] == remaining
        clock.now += 20
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-4", messages=messages)
        assert info.value.response.headers["retry-after"] == "40"
        clock.now += 40
        assert (await client.chat.completions.create(model="gpt-4", messages=messages)).choices

    import asyncio

    asyncio.run(run())
