"""Does the official openai SDK, sync and async, work against the mock unchanged?"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from mock_llm import InProcessMock
from mock_llm.catalogue import CATALOGUE
from mock_llm.server import BackgroundServer

HOURS = "Chat support is open 24/7; phone support runs 8am-8pm ET, Monday to Friday."


_CLIENTS: list[openai.OpenAI] = []


def sdk(live: BackgroundServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    client = openai.OpenAI(base_url=live.base_url, api_key="any-key", **kwargs)
    _CLIENTS.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def test_chat_over_http(live: BackgroundServer) -> None:
    """A plain chat completion parses into the SDK's types with usage and an id."""
    reply = sdk(live).chat.completions.create(
        model="gpt-4", messages=[{"role": "user", "content": "What are your support hours?"}]
    )
    assert reply.object == "chat.completion"
    assert reply.model == "gpt-4"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == HOURS
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.id.startswith("chatcmpl-")


def test_stream_matches_non_stream_and_reports_usage(live: BackgroundServer) -> None:
    """Streamed deltas join to the same text; include_usage adds a final chunk with usage only."""
    client = sdk(live)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What are your support hours?"}]
    whole = client.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
    chunks = list(
        client.chat.completions.create(
            model="gpt-3.5-turbo", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage == whole.usage
    assert all(c.usage is None for c in chunks[:-1])
    assert len(chunks) > 5, "tokens should arrive as separate chunks"


def test_stream_without_usage_has_no_usage_chunk(live: BackgroundServer) -> None:
    chunks = list(
        sdk(live).chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_legacy_completion_runs_the_handout_code(live: BackgroundServer) -> None:
    """The handout's text-davinci-003 prompt gets ' Positive', which .strip() turns into the label."""
    reply = sdk(live).completions.create(
        model="text-davinci-003",
        prompt="Classify the sentiment: This product is amazing!\n\nSentiment:",
        max_tokens=10,
    )
    assert reply.object == "text_completion"
    assert reply.choices[0].text.strip() == "Positive"


def test_legacy_completion_default_max_tokens_is_16(live: BackgroundServer) -> None:
    reply = sdk(live).completions.create(model="text-davinci-003", prompt="Write a long story about a dragon")
    assert reply.usage is not None and reply.usage.completion_tokens == 16
    assert reply.choices[0].finish_reason == "length"


def test_max_tokens_cuts_and_says_length(live: BackgroundServer) -> None:
    reply = sdk(live).chat.completions.create(
        model="gpt-4", messages=[{"role": "user", "content": "What are your support hours?"}], max_tokens=3
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    assert HOURS.startswith(reply.choices[0].message.content or "-")


def test_embeddings_base64_default_and_float(live: BackgroundServer) -> None:
    """The SDK asks for base64 by default and decodes it; float lists agree with it."""
    client = sdk(live)
    texts = ["What's the weather today?", "Tell me about Python", "x"]
    default = client.embeddings.create(model="text-embedding-3-small", input=texts)
    floats = client.embeddings.create(model="text-embedding-3-small", input=texts, encoding_format="float")
    assert [d.index for d in default.data] == [0, 1, 2]
    for a, b in zip(default.data, floats.data, strict=True):
        va, vb = np.array(a.embedding), np.array(b.embedding)
        assert va.shape == (CATALOGUE["text-embedding-3-small"].dimensions,)
        assert np.allclose(va, vb, atol=1e-6)
        assert abs(np.linalg.norm(vb) - 1) < 1e-9
    assert default.usage.prompt_tokens > 0


def test_embeddings_raw_base64_is_little_endian_float32(live: BackgroundServer) -> None:
    raw = sdk(live).embeddings.with_raw_response.create(
        model="text-embedding-3-small", input="hello", encoding_format="base64"
    )
    body = raw.http_response.json()
    vector = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    assert vector.shape == (256,)
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def test_embeddings_dimensions_shorten_and_renormalise(live: BackgroundServer) -> None:
    full = sdk(live).embeddings.create(model="text-embedding-3-small", input="hello", encoding_format="float")
    short = sdk(live).embeddings.create(
        model="text-embedding-3-small", input="hello", dimensions=64, encoding_format="float"
    )
    head = np.array(full.data[0].embedding[:64])
    assert np.allclose(np.array(short.data[0].embedding), head / np.linalg.norm(head))


def test_models_list_and_retrieve(live: BackgroundServer) -> None:
    client = sdk(live)
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4", "gpt-3.5-turbo", "claude-instant", "text-davinci-003", "text-embedding-3-small"} <= ids
    assert client.models.retrieve("gpt-4").owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-17")


def test_sentiment_confidence_in_logprobs(live: BackgroundServer) -> None:
    """The label token's logprob is the confidence; top_logprobs rank the three labels."""
    reply = sdk(live).chat.completions.create(
        model="gpt-4",
        messages=[
            {"role": "system", "content": "Classify the sentiment of the user's text."},
            {"role": "user", "content": "I love this keyboard, it is excellent."},
        ],
        logprobs=True,
        top_logprobs=3,
    )
    choice = reply.choices[0]
    assert choice.message.content == "Positive"
    assert choice.logprobs is not None and choice.logprobs.content
    first = choice.logprobs.content[0]
    assert first.token == "Positive"
    assert next(t.token for t in first.top_logprobs) == "Positive"
    assert {t.token for t in first.top_logprobs} == {"Positive", "Negative", "Neutral"}
    probabilities = np.exp([t.logprob for t in first.top_logprobs])
    assert abs(probabilities.sum() - 1) < 1e-6
    assert 0.5 < np.exp(first.logprob) < 1


def test_json_sentiment_answer(live: BackgroundServer) -> None:
    reply = sdk(live).chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": "Reply in JSON. Classify the sentiment: The blender is terrible."}],
        response_format={"type": "json_object"},
    )
    import json

    parsed = json.loads(reply.choices[0].message.content or "")
    assert parsed["sentiment"] == "Negative"
    assert 0 < parsed["confidence"] <= 1


@pytest.mark.anyio
async def test_async_client_in_process(mock: InProcessMock) -> None:
    """The async SDK over the ASGI transport: chat, stream and embeddings, no socket."""
    client = mock.async_client()
    reply = await client.chat.completions.create(
        model="claude-instant", messages=[{"role": "user", "content": "What are your support hours?"}]
    )
    assert reply.choices[0].message.content
    stream = await client.chat.completions.create(
        model="claude-instant", messages=[{"role": "user", "content": "What are your support hours?"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == reply.choices[0].message.content
    emb = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(emb.data) == 2


@pytest.mark.anyio
async def test_async_client_over_http(live: BackgroundServer) -> None:
    client = openai.AsyncOpenAI(base_url=live.base_url, api_key="k", max_retries=0)
    reply = await client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content
    await client.close()


def test_sync_client_in_process(mock: InProcessMock) -> None:
    reply = mock.client().chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content


def test_request_id_header_reaches_the_sdk(live: BackgroundServer) -> None:
    reply = sdk(live).chat.completions.with_raw_response.create(
        model="gpt-4", messages=[{"role": "user", "content": "hello"}]
    )
    assert reply.request_id and reply.request_id.startswith("req_")
