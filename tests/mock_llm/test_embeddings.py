"""Do embeddings have the shape, stability and neighbourhoods a semantic cache needs?"""

from __future__ import annotations

import base64
import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import openai
import pytest
import tiktoken
from hypothesis import given
from hypothesis import strategies as st

from mock_llm import InProcessMock
from mock_llm.catalogue import EMBEDDING_DIMENSIONS
from mock_llm.embeddings import embed
from mock_llm.tokens import install_tiktoken_cache

from .fresh import map_in_fresh_process

ROOT = Path(__file__).resolve().parents[2]


def cos(a: str, b: str) -> float:
    va, vb = embed(a), embed(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


@given(st.text(max_size=200))
def test_fixed_dimension_unit_norm(text: str) -> None:
    vector = embed(text)
    assert vector.shape == (EMBEDDING_DIMENSIONS,)
    assert np.all(np.isfinite(vector))
    assert abs(np.linalg.norm(vector) - 1) < 1e-9


def multilingual_texts() -> list[str]:
    with open(ROOT / "data" / "multilingual.jsonl", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def test_identical_across_processes_in_every_script() -> None:
    texts = ["What's the weather today?", "Tell me about Python", "", "Refund order 12345", *multilingual_texts()]
    there = map_in_fresh_process("mock_llm.embeddings", "embed", texts, hash_seed=999)
    assert np.array_equal(np.array(there), np.array([embed(t) for t in texts]))


def test_handout_cases_at_085() -> None:
    """The handout's semantic-cache test, with the handout's threshold."""
    cached = ["What's the weather today?", "How's the weather?"]
    for query in ["What is the weather?", "Weather today?"]:
        assert max(cos(query, c) for c in cached) >= 0.85, query
    assert cos("Tell me about Java", "Tell me about Python") < 0.85


def test_neighbourhoods_on_the_labelled_pairs() -> None:
    """Paraphrases sit above unrelated pairs, and hard negatives sit between them on average."""
    with open(ROOT / "data" / "paraphrases.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    by_label: dict[str, list[float]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(cos(row["a"], row["b"]))
    para, hard, other = (np.median(by_label[k]) for k in ("paraphrase", "hard_negative", "unrelated"))
    assert para > 0.85 > hard > 0.5 > other
    assert max(by_label["unrelated"]) < 0.6


# --- text that is not plain English (the audit's cases) ----------------------------------------


def test_other_scripts_get_their_own_vectors() -> None:
    """A semantic cache must not serve one answer to every Japanese or Russian query."""
    assert cos("今日の天気は？", "Как дела?") < 0.3
    assert cos("🔥🔥🔥", "?") < 0.3
    assert cos("今日の天気は？", "注文をキャンセルしたい") < 0.5
    assert cos("Как дела?", "Где мой заказ?") < 0.5
    assert cos("What is the weather?", "今日の天気は？") < 0.3


def test_same_question_in_one_script_lands_close() -> None:
    assert cos("今日の天気は？", "今日の天気はどうですか？") >= 0.85
    assert cos("Как дела?", "Как у тебя дела?") >= 0.85
    assert cos("¿Dónde está mi pedido?", "Mi pedido, ¿dónde está?") >= 0.85


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("When does the store open?", "When does the store close?"),
        ("How do I enable two-factor authentication?", "How do I disable two-factor authentication?"),
        ("Is the cheapest plan good?", "Is the most expensive plan good?"),
        ("Should I buy this stock?", "Should I sell this stock?"),
    ],
)
def test_antonyms_stay_apart_but_near(a: str, b: str) -> None:
    assert 0.3 < cos(a, b) < 0.85


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("procrastinating", "procrastination"),
        ("How do I stop procrastinating?", "How do I stop procrastination?"),
        ("When was my order shipped?", "When is my order shipping?"),
        ("Refunds for cancelled orders", "Refund for a cancelled order"),
        ("Проблемы с доставкой заказа", "Проблема с доставкой заказов"),
    ],
)
def test_inflections_come_close(a: str, b: str) -> None:
    assert cos(a, b) >= 0.85


def test_entity_swaps_stay_close_as_with_real_encoders() -> None:
    """Lab 02 teaches that a cache can confuse these: keep the failure mode real encoders have."""
    assert cos("flights from New York to Florida", "flights from Florida to New York") >= 0.85


def test_different_texts_of_every_script_differ() -> None:
    texts = multilingual_texts()
    vectors = np.array([embed(t) for t in texts])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0)
    assert similarity.max() < 0.85, "two different texts of the set share a vector"


def test_held_out_pairs_of_other_scripts_never_match() -> None:
    """On the held-out set (not used for tuning): pairs across scripts or topics never pass 0.85."""
    with open(ROOT / "data" / "paraphrases_heldout.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    for row in rows:
        if row["kind"] in {"script_mismatch", "unrelated"}:
            assert cos(row["a"], row["b"]) < 0.5, row


# --- token arrays, limits, and a server that keeps answering ----------------------------------


@functools.cache
def langchain_encoding() -> tiktoken.Encoding:
    """What langchain-openai gets from tiktoken.encoding_for_model, with the kit's copy in tiktoken's cache."""
    install_tiktoken_cache(tempfile.mkdtemp(prefix="tiktoken-cache-"))
    return tiktoken.encoding_for_model("text-embedding-3-small")


def langchain_request(texts: list[str]) -> dict[str, object]:
    """The body langchain-openai's default OpenAIEmbeddings posts (check_embedding_ctx_length=True).

    It encodes each text with tiktoken's encoding for the model, cuts it into 8,191-token
    chunks, and sends the chunks as token arrays; the SDK adds encoding_format=base64.
    """
    encoding = langchain_encoding()
    chunks = [ids[i : i + 8191] for ids in (encoding.encode(t) for t in texts) for i in range(0, len(ids), 8191)]
    return {"input": chunks, "model": "text-embedding-3-small", "encoding_format": "base64"}


def decode_vectors(body: dict[str, object]) -> list[np.ndarray]:
    data = body["data"]
    assert isinstance(data, list)
    return [np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4").astype(float) for item in data]


def post_raw(mock: InProcessMock, body: dict[str, object]) -> dict[str, object]:
    """Send ``body`` through the SDK, as langchain does, and return the JSON the server sent."""
    raw = mock.client().embeddings.with_raw_response.create(**body)  # type: ignore[arg-type]
    reply: dict[str, object] = raw.http_response.json()
    return reply


def test_token_arrays_embed_as_the_text_they_encode(mock: InProcessMock) -> None:
    texts = ["Tell me about Java", "Tell me about Python"]
    request = langchain_request(texts)
    by_ids = post_raw(mock, request)
    by_text = post_raw(mock, {"input": texts, "model": "text-embedding-3-small", "encoding_format": "base64"})
    ids_vectors, text_vectors = decode_vectors(by_ids), decode_vectors(by_text)
    for a, b in zip(ids_vectors, text_vectors, strict=True):
        assert np.allclose(a, b, atol=1e-6)
    assert float(ids_vectors[0] @ ids_vectors[1]) < 0.85  # was 0.966 when ids became made-up words
    chunks = request["input"]
    assert isinstance(chunks, list)
    assert by_ids["usage"] == {"prompt_tokens": sum(map(len, chunks)), "total_tokens": sum(map(len, chunks))}


def test_a_5000_token_document_is_accepted(mock: InProcessMock) -> None:
    document = " ".join(f"Paragraph {i} explains how the refund process works for order {i}." for i in range(400))
    request = langchain_request([document])
    chunks = request["input"]
    assert isinstance(chunks, list) and len(chunks) == 1 and 5000 <= len(chunks[0]) <= 8191
    reply = mock.client().embeddings.create(model="text-embedding-3-small", input=chunks)
    assert reply.usage.prompt_tokens == len(chunks[0])
    assert np.allclose(reply.data[0].embedding, embed(document), atol=1e-6)


def test_openai_batch_limits(mock: InProcessMock) -> None:
    client = mock.client()
    with pytest.raises(openai.BadRequestError) as too_many:
        client.embeddings.create(model="text-embedding-3-small", input=["hi"] * 2049)
    assert too_many.value.param == "input"
    with pytest.raises(openai.BadRequestError) as per_request:
        client.embeddings.create(model="text-embedding-3-small", input=[[100] * 8000] * 40)
    assert per_request.value.body["type"] == "max_tokens_per_request"  # type: ignore[index]
    assert "Requested 320000 tokens, max 300000 tokens per request" in per_request.value.message
    with pytest.raises(openai.BadRequestError) as huge:
        client.embeddings.create(model="text-embedding-3-small", input=[1] * 1_000_000)
    assert "Requested 1000000 tokens" in huge.value.message
    with pytest.raises(openai.BadRequestError) as per_input:
        client.embeddings.create(model="text-embedding-3-small", input=[[100] * 8192])
    assert per_input.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as bad_id:
        client.embeddings.create(model="text-embedding-3-small", input=[[9906, 10**6]])
    assert "1000000" in bad_id.value.message and bad_id.value.param == "input"
    assert mock.ledger()["total"]["calls"] == 0


def test_shortened_vectors_stay_unit_length_when_their_head_is_zero(mock: InProcessMock) -> None:
    """Found by the spec fuzz: input "0" with dimensions=1 kept only zero components (NaN)."""
    client = mock.client()
    for text in ["0", "a", "?", "今日"]:
        for dims in (1, 2, 3, 8):
            vector = np.array(
                client.embeddings.create(model="text-embedding-3-small", input=text, dimensions=dims).data[0].embedding
            )
            assert vector.shape == (dims,) and np.all(np.isfinite(vector))
            assert abs(np.linalg.norm(vector) - 1) < 1e-6, (text, dims, vector)


def test_whole_numbers_written_as_floats_are_accepted(mock: InProcessMock) -> None:
    """As on chat and completions: OpenAI reads 256.0 as 256, and refuses 2.5."""
    as_floats = post_raw(
        mock,
        {
            "model": "text-embedding-3-small",
            "input": [[9906.0, 1917.0]],
            "dimensions": 8.0,
            "encoding_format": "base64",
        },
    )
    as_ints = post_raw(
        mock, {"model": "text-embedding-3-small", "input": [[9906, 1917]], "dimensions": 8, "encoding_format": "base64"}
    )
    assert as_floats["data"] == as_ints["data"]
    with pytest.raises(openai.BadRequestError) as halves:
        mock.client().embeddings.create(model="text-embedding-3-small", input=[[9906.5]])  # type: ignore[arg-type]
    assert halves.value.param == "input[0][0]"
