"""Does answer quality depend on the model's tier, measurably, as the docs state?"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_llm import InProcessMock, Settings
from mock_llm.answers import sentiment_target
from mock_llm.report import BEGIN, DOC, END, chat_accuracy, render, sentiment_accuracy

ROOT = Path(__file__).resolve().parents[2]


def rows(name: str) -> list[dict[str, Any]]:
    with open(ROOT / "data" / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_sentiment_set_is_large_and_varied() -> None:
    data = rows("sentiment.jsonl")
    assert len(data) >= 500
    assert {r["difficulty"] for r in data} == {"easy", "negated", "sarcastic"}
    assert {r["label"] for r in data} == {"Positive", "Negative", "Neutral"}
    assert len({r["text"] for r in data}) == len(data)


def test_stronger_tiers_classify_sentiment_better() -> None:
    acc = sentiment_accuracy()
    assert acc["gpt-4"]["all"] > acc["gpt-3.5-turbo"]["all"] + 0.1 > acc["claude-instant"]["all"] + 0.2
    # the gap is where the rules differ: negation for tier 2, sarcasm for tier 3
    assert acc["gpt-3.5-turbo"]["negated"] > acc["claude-instant"]["negated"] + 0.3
    assert acc["gpt-4"]["sarcastic"] > acc["gpt-3.5-turbo"]["sarcastic"] + 0.3


def test_over_http_labels_match_the_report() -> None:
    """The server's answers are the ones the report measured (sampled through the SDK)."""
    mock = InProcessMock(Settings(latency=0.0))
    client = mock.client()
    data = rows("sentiment.jsonl")[:60]
    for model in ("gpt-4", "claude-instant"):
        got = [
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": f"Classify the sentiment: {r['text']}\n\nSentiment:"}],
            )
            .choices[0]
            .message.content
            for r in data
        ]
        accuracy = np.mean([g == r["label"] for g, r in zip(got, data, strict=True)])
        from mock_llm.answers import classify_sentiment
        from mock_llm.catalogue import CATALOGUE

        expected = np.mean(
            [classify_sentiment(r["text"], model, CATALOGUE[model].quality_tier, 0).label == r["label"] for r in data]
        )
        assert accuracy == expected


def test_chat_correctness_depends_on_tier_and_difficulty() -> None:
    acc = chat_accuracy()
    assert acc["gpt-4"]["complex"] > acc["gpt-3.5-turbo"]["complex"] > acc["claude-instant"]["complex"]
    for model in ("gpt-4", "gpt-3.5-turbo", "claude-instant"):
        assert acc[model]["simple"] > acc[model]["complex"]
    # routing simple questions to a cheap model costs little; complex ones cost a lot
    assert acc["gpt-4"]["simple"] - acc["gpt-3.5-turbo"]["simple"] < 0.15
    assert acc["gpt-4"]["complex"] - acc["claude-instant"]["complex"] > 0.4


def test_chat_answers_are_references_or_the_wrong_variant() -> None:
    mock = InProcessMock(Settings(latency=0.0))
    client = mock.client()
    from mock_llm.knowledge import FAQ

    wrong = {e.wrong for e in FAQ}
    for row in rows("queries.jsonl")[:20]:
        answer = (
            client.chat.completions.create(model="claude-instant", messages=[{"role": "user", "content": row["query"]}])
            .choices[0]
            .message.content
        )
        assert answer == row["reference_answer"] or answer in wrong


def test_seed_changes_answers_but_same_seed_repeats() -> None:
    def answers(seed: int) -> list[str | None]:
        client = InProcessMock(Settings(latency=0.0, seed=seed)).client()
        return [
            client.chat.completions.create(model="claude-instant", messages=[{"role": "user", "content": r["query"]}])
            .choices[0]
            .message.content
            for r in rows("queries.jsonl")
        ]

    assert answers(1) == answers(1)
    assert answers(1) != answers(2)


@pytest.mark.parametrize(
    ("system", "user", "expected"),
    [
        ("", "Classify the sentiment: This product is amazing!\n\nSentiment:", "This product is amazing!"),
        ("", 'What is the sentiment of this review: "not bad at all"', "not bad at all"),
        ("You label sentiment.", "The kettle is flimsy.", "The kettle is flimsy."),
        ("", "Sentiment analysis please\nI hate Mondays", "I hate Mondays"),
        ("", "What are your support hours?", None),
    ],
)
def test_sentiment_prompt_forms(system: str, user: str, expected: str | None) -> None:
    assert sentiment_target(system, user) == expected


def test_docs_state_the_measured_figures() -> None:
    """docs/mock_llm.md quotes exactly what `python -m mock_llm.report` measures now."""
    doc = DOC.read_text(encoding="utf-8")
    block = doc[doc.index(BEGIN) : doc.index(END) + len(END)]
    assert block == render(), "run: make report"
    assert re.search(r"precision \d+\.\d%, recall \d+\.\d%", block)


@given(st.text(max_size=200), st.sampled_from(["stop", "length"]))
def test_plain_choices_are_serialised_as_json_would(text: str, finish: str) -> None:
    # The chat route writes the common answer (n=1, no logprobs, no tool call) by hand; it must be
    # exactly what the general path, a JSON encoder, writes.
    from mock_llm.routes import chat
    from mock_llm.routes.generation import Choice

    choice = Choice(text, finish, 1, None)
    written = chat._choices_json(choice, 1, False, 0)
    assert written == chat._choices_json_cached.__wrapped__(choice, 1, False, 0)
    assert json.loads(written)[0]["message"]["content"] == text
