"""Is the local classifier honest: negation, contrast, and a confidence that means what it says?"""

from __future__ import annotations

import json

import pytest

from mock_llm.local_model import (
    DATA,
    HOLDOUT,
    LABELS,
    LocalClassifier,
    features,
    fit_temperature,
    in_training_half,
    load_rows,
    trained,
)


@pytest.fixture(scope="module")
def model() -> LocalClassifier:
    return trained()


def test_negation_marks_every_word_to_the_end_of_the_clause() -> None:
    words = [f for f in features("This is not good at all, but fine") if "|" not in f]
    assert words == ["fine"], "only the clause after 'but' votes"
    words = [f for f in features("It isn't cheap or flimsy. Great value!") if "|" not in f]
    assert words == ["it", "isn't", "NOT_cheap", "NOT_or", "NOT_flimsy", "great", "value"]
    assert [f for f in features("I don't love it") if "|" not in f] == ["i", "don't", "NOT_love", "NOT_it"]


def test_numbers_are_one_token() -> None:
    assert features("Waited 247 hours") == features("Waited 3 hours")


def test_the_split_keeps_the_holdouts_apart() -> None:
    """No text of either held-out set is in the training half."""
    training = {r["text"] for r in load_rows(DATA) if in_training_half(r["id"])}
    templated = [r for r in load_rows(DATA) if not in_training_half(r["id"])]
    hand = load_rows(HOLDOUT)
    assert templated and hand
    assert not training & {r["text"] for r in templated + hand}
    assert {r["label"] for r in hand} == set(LABELS)


def test_the_hand_written_holdout_is_balanced_and_well_formed() -> None:
    rows = [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows) == len({r["text"] for r in rows})
    counts = {label: sum(r["label"] == label for r in rows) for label in LABELS}
    assert max(counts.values()) - min(counts.values()) <= 3, counts
    assert {"negation", "contrast", "short"} <= {r["kind"] for r in rows}


def test_the_issue_example_is_no_longer_a_confident_positive(model: LocalClassifier) -> None:
    prediction = model.predict("This is not good")
    assert not (prediction.label == "Positive" and prediction.confidence >= 0.8), prediction


def test_unknown_words_lower_the_confidence(model: LocalClassifier) -> None:
    known = model.predict("The kettle is terrible.")
    unknown = model.predict("The kettle is terrible, frankly abysmal and grotesque.")
    assert known.label == "Negative" and known.confidence > unknown.confidence


@pytest.mark.parametrize("path", [DATA, HOLDOUT], ids=["templated", "hand-written"])
def test_confidence_is_not_optimistic_on_held_out_texts(model: LocalClassifier, path) -> None:  # type: ignore[no-untyped-def]
    """Where it is sure (0.9 or more), it is right at least 90% of the time on both held-out sets."""
    rows = [r for r in load_rows(path) if path == HOLDOUT or not in_training_half(r["id"])]
    sure = [(model.predict(r["text"]).label == r["label"]) for r in rows if model.predict(r["text"]).confidence >= 0.9]
    assert sure, "it answers some texts"
    assert sum(sure) / len(sure) >= 0.9


def test_the_temperature_is_fitted_on_the_training_half_only() -> None:
    rows = sorted((r for r in load_rows(DATA) if in_training_half(r["id"])), key=lambda r: r["id"])
    assert trained().temperature == fit_temperature([(r["text"], r["label"]) for r in rows]) >= 1.0
