"""Does the ledger bill what the handout's prices say, and can labs read and reset it?"""

from __future__ import annotations

import httpx2
import pytest
from openai.types.chat import ChatCompletionMessageParam

from mock_llm import InProcessMock
from mock_llm.server import BackgroundServer

# The handout's price table, typed out independently of the catalogue.
HANDOUT_PRICES = {
    "gpt-4": (0.03, 0.06),
    "gpt-3.5-turbo": (0.001, 0.002),
    "claude-instant": (0.0008, 0.0024),
}


@pytest.mark.parametrize("model", sorted(HANDOUT_PRICES))
def test_cost_is_tokens_times_handout_price(mock: InProcessMock, model: str) -> None:
    client = mock.client()
    usage_in = usage_out = 0
    for question in ["What are your support hours?", "How do I reset my password?", "Tell me a joke"]:
        reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
        assert reply.usage is not None
        usage_in += reply.usage.prompt_tokens
        usage_out += reply.usage.completion_tokens
    price_in, price_out = HANDOUT_PRICES[model]
    entry = mock.ledger()["models"][model]
    assert entry["calls"] == 3
    assert (entry["prompt_tokens"], entry["completion_tokens"]) == (usage_in, usage_out)
    assert entry["cost_usd"] == pytest.approx(usage_in / 1000 * price_in + usage_out / 1000 * price_out, rel=1e-9)


def test_streamed_and_n_choices_are_billed(mock: InProcessMock) -> None:
    client = mock.client()
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What are your support hours?"}]
    single = client.chat.completions.create(model="gpt-4", messages=messages)
    mock.reset_ledger()
    list(client.chat.completions.create(model="gpt-4", messages=messages, stream=True))
    client.chat.completions.create(model="gpt-4", messages=messages, n=3)
    entry = mock.ledger()["models"]["gpt-4"]
    assert single.usage is not None
    assert entry["completion_tokens"] == 4 * single.usage.completion_tokens
    assert entry["calls"] == 2


def test_errors_cost_nothing(mock: InProcessMock) -> None:
    import openai

    client = mock.client()
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "x"}], extra_headers={"x-mock-fault": "rate_limit"}
        )
    ledger = mock.ledger()
    assert ledger["total"]["calls"] == 0 and ledger["rejected_requests"] == 1


def test_ledger_over_http(live: BackgroundServer) -> None:
    import openai

    with openai.OpenAI(base_url=live.base_url, api_key="k") as client:
        client.embeddings.create(model="text-embedding-3-small", input=["one", "two three"])
    with httpx2.Client(base_url=live.base_url.removesuffix("/v1")) as http:
        ledger = http.get("/_mock/ledger").json()
        assert ledger["models"]["text-embedding-3-small"]["calls"] == 1
        assert ledger["total"]["cost_usd"] == pytest.approx(ledger["total"]["prompt_tokens"] * 0.00002 / 1000)
        returned = http.delete("/_mock/ledger").json()
        assert returned == ledger
        assert http.get("/_mock/ledger").json()["total"]["calls"] == 0
