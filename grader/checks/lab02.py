"""Checks for lab 02, the semantic cache.

Each compares the learner's ``cosine_similarity`` and ``SemanticCache`` with the
reference solution on fixed cases (the handout's included) and on generated ones.
Embeddings come from the mock LLM through the official SDK (in process), or from a
controlled embedder passed as ``embed=`` where a check needs exact similarities.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import Any

import numpy as np
import openai
from hypothesis import strategies as st

from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import Clock, call, close

_MOCK = None


def mock_client() -> openai.OpenAI:
    """A synchronous SDK client on an in-process mock (no socket, no server thread)."""
    global _MOCK
    from mock_llm import InProcessMock, Settings

    if _MOCK is None:
        _MOCK = InProcessMock(Settings(latency=0.0))
    return _MOCK.client()


def table_embedder(table: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    def embed(text: str) -> np.ndarray:
        return np.asarray(table[text], dtype=float)

    return embed


def make_cache(ns: Namespace, **kwargs):  # type: ignore[no-untyped-def]
    return call("SemanticCache(...)", ns.SemanticCache, **kwargs)


# --- cosine similarity ---------------------------------------------------------------------

HANDOUT_VECTORS = [
    ([1.0, 0.0], [0.0, 1.0]),
    ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
    ([1.0, 1.0], [-1.0, -1.0]),
    ([0.3, -0.2, 0.9], [0.3, -0.2, 0.9]),
]


@check(
    "02-cosine-fixed",
    1,
    "cosine_similarity matches numpy on fixed vectors",
    "Divide the dot product by the product of the two norms: a @ b / (|a| |b|).",
)
def cosine_fixed(learner: Namespace, ref: Reference) -> None:
    for a, b in HANDOUT_VECTORS:
        expected = ref.call("cosine_similarity", a, b)
        got = call("cosine_similarity", learner.cosine_similarity, a, b)
        if not isinstance(got, int | float | np.floating) or not close(float(got), expected):
            raise CheckFailed("Wrong similarity.", input=(a, b), expected=round(expected, 6), actual=got)


vectors = (
    st.integers(1, 8)
    .flatmap(
        lambda n: st.tuples(*[st.lists(st.floats(-100, 100, allow_nan=False, width=32), min_size=n, max_size=n)] * 2)
    )
    .filter(lambda ab: np.linalg.norm(ab[0]) > 1e-3 and np.linalg.norm(ab[1]) > 1e-3)
)


EDGE_VECTORS = [
    (
        "identical vectors whose unrounded cosine is 1.0000000000000002: clip into [-1, 1]",
        [0.7, -0.9, 0.5],
        [0.7, -0.9, 0.5],
    ),
    ("opposite vectors whose unrounded cosine is below -1: clip into [-1, 1]", [0.7, -0.9, 0.5], [-0.7, 0.9, -0.5]),
    (
        "a tiny vector (norm 5e-10) still has a direction: only a norm of exactly 0 is the zero vector, "
        "and an epsilon added to the norms changes the result",
        [3e-10, -4e-10, 1e-10],
        [1.0, 2.0, 0.5],
    ),
    ("two tiny vectors (norms 5e-10 and 4e-10)", [3e-10, -4e-10, 1e-10], [2e-10, 1e-10, -3e-10]),
]


def _cos(cos: Callable[..., Any], a: list[float], b: list[float]) -> float:
    return float(cos(a, b))


def _broken_property(cos: Callable[..., Any], a: list[float], b: list[float], expected: float) -> str | None:
    """The first property that fails on (a, b), in words; None when all hold."""
    value = _cos(cos, a, b)
    if not close(value, expected, 1e-6):
        return "cos(a, b) differs from the reference's value"
    if not -1.0 <= value <= 1.0:
        return "cos(a, b) lies outside [-1, 1] (clip rounding errors)"
    if not close(value, _cos(cos, b, a), 1e-9):
        return "cos(b, a) differs from cos(a, b): the similarity must be symmetric"
    if not close(value, _cos(cos, [3.5 * x for x in a], b), 1e-6):
        return "cos(3.5 a, b) differs from cos(a, b): scaling a vector must not change the similarity"
    if not close(value, _cos(cos, [1e-6 * x for x in a], b), 1e-6):
        return (
            "cos(a / 1,000,000, b) differs from cos(a, b): a short vector keeps its direction (no epsilon in the "
            "denominator, no 'small norm means zero' cut-off)"
        )
    return None


@check(
    "02-cosine-properties",
    2,
    "cosine_similarity is symmetric, in [-1, 1] and scale invariant (generated)",
    "Compute with floats (np.asarray(x, dtype=float)); return 0.0 only when a norm is exactly 0, add no "
    "epsilon, and clip tiny rounding errors into [-1, 1].",
)
def cosine_properties(learner: Namespace, ref: Reference) -> None:
    cos = learner.cosine_similarity

    def expected(a: list[float], b: list[float]) -> float:
        return float(ref.call("cosine_similarity", a, b))

    for what, a, b in EDGE_VECTORS:
        want = expected(a, b)
        answer = call("cosine_similarity", cos, a, b)
        try:
            value = float(answer)
        except (TypeError, ValueError):
            value = math.nan
        if not (close(value, want, 1e-6) and -1.0 <= value <= 1.0):
            raise CheckFailed(f"Wrong similarity for {what}.", input=f"a = {a}, b = {b}", expected=want, actual=answer)

    def holds(ab: tuple[list[float], list[float]]) -> bool:
        a, b = ab
        return _broken_property(cos, a, b, expected(a, b)) is None

    bad = ref.counterexample("02-cosine-properties", vectors, holds)
    if bad is not None:
        a, b = bad
        try:
            broken: str | None = _broken_property(cos, a, b, expected(a, b))
            got: object = {
                "cos(a, b)": _cos(cos, a, b),
                "cos(b, a)": _cos(cos, b, a),
                "cos(3.5 a, b)": _cos(cos, [3.5 * x for x in a], b),
                "cos(a / 1e6, b)": _cos(cos, [1e-6 * x for x in a], b),
            }
        except Exception as exc:
            broken, got = "cosine_similarity raised an exception", f"{type(exc).__name__}: {exc}"
        raise CheckFailed(
            f"A property fails on this (smallest) pair of vectors: {broken}.",
            input=f"a = {a}, b = {b}",
            expected=f"cos(a, b) = {round(expected(a, b), 6)} for all four",
            actual=got,
        )


@check(
    "02-cosine-zero",
    1,
    "cosine_similarity of a zero vector is 0.0, not NaN or an error",
    "A zero vector has no direction: return 0.0 when either norm is 0, before dividing.",
)
def cosine_zero(learner: Namespace, ref: Reference) -> None:
    for a, b in (([0.0, 0.0], [1.0, 2.0]), ([1.0, 2.0], [0.0, 0.0]), ([0.0, 0.0], [0.0, 0.0])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                got = learner.cosine_similarity(a, b)
            except NotImplementedError:
                raise
            except Exception as exc:
                raise CheckFailed(
                    "cosine_similarity failed on a zero vector.",
                    input=(a, b),
                    expected=0.0,
                    actual=f"{type(exc).__name__}: {exc}",
                ) from None
        if got is None or math.isnan(float(got)) or float(got) != 0.0:
            raise CheckFailed("Wrong value for a zero vector.", input=(a, b), expected=0.0, actual=got)


# --- embeddings and the handout's cases ------------------------------------------------------


@check(
    "02-embedding",
    1,
    "get_embedding returns the mock's embedding as a fixed-size float vector",
    "Use the client the cache was given (or, with none, mock_llm.openai_client() created once, on first use): "
    "client.embeddings.create(model=self.model, input=text); return np.asarray(data[0].embedding, dtype=float).",
)
def embedding(learner: Namespace, ref: Reference) -> None:
    from mock_llm import InProcessMock, Settings

    texts = ("What's the weather today?", "Tell me about Python")
    given = InProcessMock(Settings(latency=0.0))
    mine = make_cache(learner, client=given.client())
    wanted = {}
    for text in texts:
        got = call("get_embedding", mine.get_embedding, text)
        expected = wanted[text] = np.asarray(ref.value(("embedding", text), partial(reference_embedding, text=text)))
        if not isinstance(got, np.ndarray) or got.ndim != 1 or got.dtype.kind != "f":
            raise CheckFailed(
                "get_embedding must return a 1-D numpy array of floats (np.asarray(..., dtype=float)).",
                input=text,
                expected=f"np.ndarray of shape {expected.shape}, dtype float64",
                actual=type(got).__name__
                + (f" of shape {got.shape}, dtype {got.dtype}" if isinstance(got, np.ndarray) else ""),
            )
        if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-6):
            raise CheckFailed(
                "The embedding differs from the mock's.",
                input=text,
                expected=f"shape {expected.shape}, starting {np.round(expected[:3], 4).tolist()}",
                actual=f"shape {got.shape}, starting {np.round(got[:3], 4).tolist()}",
            )
    calls = given.ledger()["total"]["calls"]
    if calls != len(texts):
        raise CheckFailed(
            "get_embedding must use the client the cache was given (and call it once per text).",
            input=f"SemanticCache(client=...); {len(texts)} texts",
            expected=f"{len(texts)} embedding calls on that client",
            actual=f"{calls} calls",
        )

    # no client given: create one with mock_llm.openai_client() on first use, then keep it
    import mock_llm

    created: list[dict[str, Any]] = []
    fallback = InProcessMock(Settings(latency=0.0))

    def openai_client(**kwargs: Any) -> Any:
        created.append(kwargs)
        return fallback.client()

    original, url = mock_llm.openai_client, os.environ.get("OPENAI_BASE_URL")
    mock_llm.openai_client = openai_client
    os.environ["OPENAI_BASE_URL"] = "http://no-mock-here.invalid/v1"  # any other client fails at once, no server starts
    try:
        default = make_cache(learner)
        answers = [call("get_embedding without a client", default.get_embedding, text) for text in texts]
    finally:
        mock_llm.openai_client = original
        if url is None:
            os.environ.pop("OPENAI_BASE_URL", None)
        else:
            os.environ["OPENAI_BASE_URL"] = url
    try:
        same = all(
            np.allclose(np.asarray(a, dtype=float), wanted[t], atol=1e-6) for a, t in zip(answers, texts, strict=True)
        )
    except (TypeError, ValueError):
        same = False
    if len(created) != 1 or fallback.ledger()["total"]["calls"] != len(texts) or not same:
        raise CheckFailed(
            "Without a client, get_embedding creates one with mock_llm.openai_client() on first use, and keeps it.",
            input=f"SemanticCache() with no client and no embed; get_embedding of {len(texts)} texts",
            expected=f"1 client created, {len(texts)} embedding calls on it",
            actual=f"{len(created)} clients created, {fallback.ledger()['total']['calls']} embedding calls on them",
        )


def reference_embedding(reference: Namespace, text: str) -> Any:
    return reference.SemanticCache(client=mock_client()).get_embedding(text)


HANDOUT_ENTRIES = [
    ("What's the weather today?", "Sunny, 72°F"),
    ("How's the weather?", "Sunny, 72°F"),
    ("Tell me about Python", "Python is a programming language"),
]
HANDOUT_QUERIES = [
    ("What is the weather?", "Sunny, 72°F"),
    ("Weather today?", "Sunny, 72°F"),
    ("Tell me about Java", None),
]


@check(
    "02-handout",
    2,
    "the handout's test passes: weather paraphrases hit, Java does not match Python",
    "find_similar embeds the query, compares it with every entry and returns the best response at or above "
    "the threshold, else None.",
)
def handout(learner: Namespace, ref: Reference) -> None:
    cache = make_cache(learner, similarity_threshold=0.85, client=mock_client())
    for query, response in HANDOUT_ENTRIES:
        call("add", cache.add, query, response)
    for query, expected in HANDOUT_QUERIES:
        got = call("find_similar", cache.find_similar, query)
        if got != expected:
            raise CheckFailed("Wrong cache answer.", input=query, expected=expected, actual=got)


# --- matching rules, with an embedder whose similarities are exact -----------------------------


@check(
    "02-best_match",
    1,
    "find_similar returns the best match, not the first one above the threshold",
    "Score every entry by cosine similarity (unit vectors, so lengths do not count), take np.argmax, then "
    "compare that best score with the threshold.",
)
def best_match(learner: Namespace, ref: Reference) -> None:
    table = {
        "q": [1.0, 0.0, 0.0],
        "close": [0.9, 0.43589, 0.0],
        "closest": [0.99, 0.14107, 0.0],
        "long but less similar": [2.7, 1.30767, 0.0],  # 3 x close: similarity 0.90, dot product 2.7
    }
    cases = [
        (["close", "closest"], "closest", "the most similar entry added last: returned the first one above 0.8"),
        (["closest", "close"], "closest", "the most similar entry added first: returned the last one above 0.8"),
        (
            ["long but less similar", "closest"],
            "closest",
            "a longer, less similar vector won: rank by cosine similarity (normalise), not by the dot product",
        ),
    ]
    for order, best, why in cases:
        cache = make_cache(learner, similarity_threshold=0.8, embed=table_embedder(table))
        for name in order:
            call("add", cache.add, name, f"answer of {name!r}")
        got = call("find_similar", cache.find_similar, "q")
        if got != f"answer of {best!r}":
            scores = ", ".join(f"{name!r} at {cosine(table['q'], table[name]):.2f}" for name in order)
            raise CheckFailed(
                f"Returned a match that is not the most similar ({why})." if got is not None else "No match found.",
                input=f"threshold 0.8; entries added in this order: {scores}",
                expected=f"answer of {best!r}",
                actual=got,
            )


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@check(
    "02-threshold",
    1,
    "a similarity equal to the threshold is a hit; just below is a miss",
    "Compare with >= threshold, not > threshold; a query whose embedding is the zero vector matches nothing.",
)
def threshold(learner: Namespace, ref: Reference) -> None:
    table = {"q": [3.0, 0.0], "same": [2.0, 0.0], "other": [0.3, 0.4], "zero": [0.0, 0.0], "near q": [1.0, 0.1]}
    cache = make_cache(learner, similarity_threshold=1.0, embed=table_embedder(table))
    call("add", cache.add, "same", "identical direction")
    if (got := call("find_similar", cache.find_similar, "q")) != "identical direction":
        raise CheckFailed(
            "A similarity of exactly 1.0 with threshold 1.0 must hit (>=, not >).",
            input="query [3, 0], entry [2, 0]: same direction, similarity 1.0",
            expected="identical direction",
            actual=got,
        )
    for limit, expected in ((0.6 - 1e-9, "at 0.6"), (0.6 + 1e-6, None)):
        cache = make_cache(learner, similarity_threshold=limit, embed=table_embedder(table))
        call("add", cache.add, "other", "at 0.6")
        got = call("find_similar", cache.find_similar, "q")
        if got != expected:
            raise CheckFailed(
                "Wrong decision at the threshold: a hit needs a cosine similarity (query and entries both "
                "normalised) of at least the threshold.",
                input=f"query [3, 0], entry [0.3, 0.4]: similarity 0.6; threshold {limit!r}",
                expected=expected,
                actual=got,
            )
    cache = make_cache(learner, similarity_threshold=0.5, embed=table_embedder(table))
    call("add", cache.add, "zero", "an entry whose embedding is zero")
    call("add", cache.add, "same", "identical direction")
    got = call("find_similar", cache.find_similar, "near q")
    if got != "identical direction":
        raise CheckFailed(
            "An entry whose embedding is the zero vector has no similarity to anything, but it matched (dividing "
            "by its zero norm gives nan, and np.argmax picks nan): store it as it is, or skip it.",
            input="threshold 0.5; entries [0, 0] and [2, 0]; query [1, 0.1]",
            expected="identical direction",
            actual=got,
        )
    got = call("find_similar with a zero-vector query", cache.find_similar, "zero")
    if got is not None:
        raise CheckFailed(
            "A query whose embedding is the zero vector has no similarity to anything, but it matched "
            "(dividing by its zero norm gives nan, and nan < threshold is False).",
            input="threshold 0.5; the query's embedding is [0, 0]",
            expected=None,
            actual=got,
        )


def _lookups(cache: Any, names: str) -> dict[str, Any]:
    return {name: call(f"find_similar({name!r})", cache.find_similar, name) for name in names}


@check(
    "02-lru",
    2,
    "with max_entries, the least recently used entry is evicted (a hit refreshes it)",
    "Keep entries in an OrderedDict: move_to_end on a hit (not on a miss) and on a re-add, popitem(last=False) "
    "when a new entry would go over max_entries; re-adding a query replaces its entry.",
    part="stretch",
)
def lru(learner: Namespace, ref: Reference) -> None:
    basis: dict[str, list[float]] = {name: [float(i == k) for k in range(6)] for i, name in enumerate("abcde")}
    basis["near_a"] = [0.5, 0.0, 0.0, 0.0, 0.0, 0.75**0.5]  # similarity 0.5 with a, 0 with the rest

    def fresh() -> Any:
        cache = make_cache(learner, similarity_threshold=0.99, max_entries=3, embed=table_embedder(basis))
        for name in "abc":
            call("add", cache.add, name, name.upper())
        return cache

    def evicted(got: dict[str, Any], oldest: str, what: str) -> str:
        missing = [name for name, answer in got.items() if answer is None]
        if not missing:
            return (
                "Every entry is still served: adding a 4th entry with max_entries=3 must evict the least recently "
                "used one, which must then no longer be found."
            )
        if len(missing) > 1:
            return f"Too many entries are gone ({', '.join(missing)}): max_entries=3 keeps three."
        if missing == ["d"]:
            return "The entry just added is not there: evict an old entry, not the new one."
        return f"'{missing[0]}' was evicted, but '{oldest}' was the least recently used {what}."

    cache = fresh()
    call("add", cache.add, "d", "D")
    got = _lookups(cache, "abcd")
    expected = {"a": None, "b": "B", "c": "C", "d": "D"}
    if got != expected:
        raise CheckFailed(
            evicted(got, "a", "(the first added, never used since)"),
            input="max_entries=3; add a, b, c, d",
            expected=expected,
            actual=got,
        )
    if (size := call("len(cache)", len, cache)) != 3:
        raise CheckFailed(
            "len(cache) must count the entries kept.", input="the same cache", expected="len 3", actual=f"len {size}"
        )

    cache = fresh()
    call("find_similar('a')", cache.find_similar, "a")  # a hit: a is now the most recently used
    call("add", cache.add, "d", "D")
    got = _lookups(cache, "abcd")
    expected = {"a": "A", "b": None, "c": "C", "d": "D"}
    if got != expected:
        why = (
            "'a' was evicted although a lookup had just used it: a hit must make an entry most recently used."
            if [n for n, answer in got.items() if answer is None] == ["a"]
            else evicted(got, "b", "(a hit had refreshed a)")
        )
        raise CheckFailed(why, input="max_entries=3; add a, b, c; find a (a hit); add d", expected=expected, actual=got)

    cache = fresh()
    call("find_similar('near_a')", cache.find_similar, "near_a")  # a miss: similarity 0.5 < 0.99
    call("add", cache.add, "d", "D")
    got = _lookups(cache, "abcd")
    expected = {"a": None, "b": "B", "c": "C", "d": "D"}
    if got != expected:
        why = (
            "A miss counted as a use: a lookup whose best similarity (0.5, to 'a') is below the threshold must not "
            "refresh 'a'; only a hit is a use."
            if got["a"] == "A" and got["b"] is None
            else evicted(got, "a", "(a miss is not a use)")
        )
        raise CheckFailed(
            why, input="max_entries=3; add a, b, c; find near_a (a miss); add d", expected=expected, actual=got
        )

    cache = make_cache(learner, similarity_threshold=0.99, max_entries=2, embed=table_embedder(basis))
    steps = [("a", "A", "x"), ("b", "B", "y"), ("c", "C", "y"), ("d", "D", "x")]
    for name, response, where in steps:
        call("add", cache.add, name, response, scope=where)
    stages: list[str] = []
    for when in ("after the 2nd eviction", "after re-adding c -> 'C2'"):
        if stages:
            call("add", cache.add, "c", "C2", scope="y")
        got = {
            f"{name} in {where}": call("find_similar", cache.find_similar, name, scope=where)
            for name, _, where in steps
        }
        size = call("len(cache)", len, cache)
        expected = {"a in x": None, "b in y": None, "c in y": "C2" if stages else "C", "d in x": "D"}
        stages.append(when)
        if got != expected or size != 2:
            raise CheckFailed(
                "After evictions the cache lost track of its entries: when an entry is removed, whatever takes its "
                "place (a moved row, its scope, its index) must follow, and the evicted key must leave the LRU order.",
                input=f"max_entries=2; add a (scope x), b (y), c (y), d (x); {when}: find each",
                expected=f"{expected}, len 2",
                actual=f"{got}, len {size}",
            )

    cache = make_cache(learner, similarity_threshold=0.99, max_entries=3, embed=table_embedder(basis))
    for name, response in (("a", "A"), ("b", "B"), ("a", "A2")):
        call("add", cache.add, name, response)
    size = call("len(cache)", len, cache)
    got = _lookups(cache, "ab")
    if got != {"a": "A2", "b": "B"} or size != 2:
        raise CheckFailed(
            "Adding the same query again must replace its entry (its response), not add a second one.",
            input="max_entries=3; add a -> 'A', b -> 'B', a -> 'A2'; len; find a, b",
            expected="len 2, {'a': 'A2', 'b': 'B'}",
            actual=f"len {size}, {got}",
        )
    cache = fresh()
    call("add", cache.add, "a", "A2")
    call("add", cache.add, "d", "D")
    got = _lookups(cache, "abcd")
    expected = {"a": "A2", "b": None, "c": "C", "d": "D"}
    if got != expected:
        raise CheckFailed(
            "Re-adding a query is a use: after it, 'b' is the least recently used."
            if got["a"] is None and got["b"] is not None
            else evicted(got, "b", "(re-adding a is a use)"),
            input="max_entries=3; add a, b, c; add a again -> 'A2'; add d",
            expected=expected,
            actual=got,
        )


@check(
    "02-ttl",
    1,
    "entries expire after ttl_seconds on the injected clock",
    "Store each entry's time from self.clock() when it is added (again); an entry older than ttl_seconds "
    "(clock() - added_at > ttl_seconds) is gone: drop expired entries before counting or evicting.",
    part="stretch",
)
def ttl(learner: Namespace, ref: Reference) -> None:
    table = {name: [float(i == k) for k in range(4)] for i, name in enumerate("abcd")}

    def fresh(**kwargs: Any) -> tuple[Any, Clock]:
        clock = Clock()
        kwargs.setdefault("similarity_threshold", 0.9)
        cache = make_cache(learner, ttl_seconds=10.0, clock=clock, embed=table_embedder(table), **kwargs)
        return cache, clock

    cache, clock = fresh()
    call("add", cache.add, "a", "A")
    clock.now += 9.9
    if (got := call("find_similar", cache.find_similar, "a")) != "A":
        raise CheckFailed(
            "An entry younger than the TTL was not found.", input="age 9.9 s, ttl 10 s", expected="A", actual=got
        )
    call("add", cache.add, "b", "B")
    clock.now += 0.2
    if (got := call("find_similar", cache.find_similar, "a")) is not None:
        raise CheckFailed(
            "An expired entry was returned: its age counts on self.clock() (the injected clock) from when it was "
            "added, and a hit does not renew it.",
            input="age 10.1 s, ttl 10 s (a hit at 9.9 s)",
            expected=None,
            actual=got,
        )
    if (size := call("len(cache)", len, cache)) != 1:
        raise CheckFailed(
            "Expired entries must not count in len(cache).",
            input="one entry 10.1 s old, one 0.2 s old; ttl 10 s",
            expected="len 1",
            actual=f"len {size}",
        )

    cache, clock = fresh()
    call("add", cache.add, "a", "A")
    clock.now += 10.0
    if (got := call("find_similar", cache.find_similar, "a")) != "A":
        raise CheckFailed(
            "An entry exactly ttl_seconds old is not older than the TTL: it is still live (expire when "
            "clock() - added_at > ttl_seconds).",
            input="age exactly 10 s, ttl 10 s",
            expected="A",
            actual=got,
        )

    cache, clock = fresh()
    call("add", cache.add, "a", "A")
    call("add", cache.add, "b", "B")
    clock.now += 20.0
    try:
        outcome = (
            f"len {len(cache)}, find a -> {cache.find_similar('a')!r}, "
            + f"find c after adding it -> {(cache.add('c', 'C'), cache.find_similar('c'))[1]!r}, len {len(cache)}"
        )
    except NotImplementedError:
        raise
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"[:300]
    wanted = "len 0, find a -> None, find c after adding it -> 'C', len 1"
    if outcome != wanted:
        raise CheckFailed(
            "When every entry has expired the cache is empty, and it must keep working.",
            input="add a, b; 20 s later (ttl 10 s): len; find a; add c; find c; len",
            expected=wanted,
            actual=outcome,
        )

    cache, clock = fresh(max_entries=2)
    call("add", cache.add, "a", "A")
    clock.now += 5.0
    call("add", cache.add, "b", "B")
    clock.now += 1.0
    call("find_similar", cache.find_similar, "a")  # a is now the most recently used, and still the oldest
    clock.now += 5.0  # a is 11 s old: expired; b is 6 s old
    call("add", cache.add, "c", "C")
    got = _lookups(cache, "abc")
    if got != {"a": None, "b": "B", "c": "C"}:
        raise CheckFailed(
            "An expired entry held a slot and a live one was evicted for it: drop expired entries before evicting."
            if got["b"] is None
            else "Wrong entries after expiry and eviction.",
            input="max_entries=2, ttl 10 s; add a; 5 s: add b; 6 s: find a; 11 s: add c",
            expected={"a": None, "b": "B", "c": "C"},
            actual=got,
        )

    cache, clock = fresh()
    call("add", cache.add, "a", "A")
    clock.now += 8.0
    call("add", cache.add, "a", "A2")
    clock.now += 7.0
    if (got := call("find_similar", cache.find_similar, "a")) != "A2":
        raise CheckFailed(
            "Adding a query again gives it a new response and a new age (now 7 s, under the 10 s TTL).",
            input="add a -> 'A'; 8 s later add a -> 'A2'; 7 s later find a",
            expected="A2",
            actual=got,
        )


@check(
    "02-scope",
    1,
    "entries only match queries of the same scope (model, system prompt, tenant)",
    "Key entries by (scope, query); compare a query only with the entries of its scope (mask the others out "
    "before np.argmax).",
    part="stretch",
)
def scope(learner: Namespace, ref: Reference) -> None:
    table = {"q": [1.0, 0.0], "near": [0.95, 0.31225]}
    pirate = "gpt-4|You are a pirate."
    cache = make_cache(learner, similarity_threshold=0.99, embed=table_embedder(table))
    call("add", cache.add, "q", "answer for gpt-4 / pirate persona", scope=pirate)
    call("add", cache.add, "near", "a lawyer's answer to a similar question", scope="gpt-4|You are a lawyer.")
    for other in ("gpt-3.5-turbo|You are a pirate.", "gpt-4|You are a lawyer.", ""):
        got = call("find_similar", cache.find_similar, "q", scope=other)
        if got is not None:
            raise CheckFailed(
                "An entry leaked across scopes.",
                input=f"q added in {pirate!r} (and a less similar entry in 'gpt-4|You are a lawyer.'); "
                f"q asked in {other!r}; threshold 0.99",
                expected=None,
                actual=got,
            )
    got = call("find_similar", cache.find_similar, "q", scope=pirate)
    if got != "answer for gpt-4 / pirate persona":
        raise CheckFailed(
            "The entry is not found in its own scope.",
            input=f"added and asked in {pirate!r}",
            expected="answer for gpt-4 / pirate persona",
            actual=got,
        )

    cache = make_cache(learner, similarity_threshold=0.9, embed=table_embedder(table))
    call("add", cache.add, "near", "A's answer (similarity 0.95)", scope="A")
    call("add", cache.add, "q", "B's answer (similarity 1.0)", scope="B")
    got = call("find_similar", cache.find_similar, "q", scope="A")
    if got != "A's answer (similarity 0.95)":
        raise CheckFailed(
            "A better match in another scope hid the query's own match: leave other scopes out before choosing "
            "the best, not after.",
            input="scope A has an entry at 0.95, scope B one at 1.0; find in A, threshold 0.9",
            expected="A's answer (similarity 0.95)",
            actual=got,
        )

    cache = make_cache(learner, similarity_threshold=0.9, embed=table_embedder(table))
    call("add", cache.add, "q", "for tenant A", scope="A")
    call("add", cache.add, "q", "for tenant B", scope="B")
    got = {name: call("find_similar", cache.find_similar, "q", scope=name) for name in "AB"}
    size = call("len(cache)", len, cache)
    if got != {"A": "for tenant A", "B": "for tenant B"} or size != 2:
        raise CheckFailed(
            "The same query in two scopes is two entries: key them by (scope, query).",
            input="add q in scope A; add q in scope B; find q in A and in B",
            expected="{'A': 'for tenant A', 'B': 'for tenant B'}, len 2",
            actual=f"{got}, len {size}",
        )


# --- scale ---------------------------------------------------------------------------------------


def python_steps(action: Callable[[], object]) -> int:
    """How many Python lines run during ``action()`` (loop iterations included; numpy's C code is not)."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        action()
    finally:
        sys.settrace(None)
    return count


@check(
    "02-vectorised",
    1,
    "lookups stay vectorised: the Python work of a lookup does not grow with the number of entries",
    "Keep embeddings in one 2-D numpy array and score all entries with a single matrix-vector product; when the "
    "array grows, copy every filled row into the new one.",
    part="stretch",
)
def vectorised(learner: Namespace, ref: Reference) -> None:
    # Counting Python steps, not seconds: checks run in parallel on shared CPUs, and timings
    # of a sub-millisecond lookup flaked there; the step count is exact and reproducible.
    sizes, dims = (500, 5_000), 32
    vectors = np.random.default_rng(0).standard_normal((sizes[1] + 1, dims))
    table = {f"e{i}": vectors[i] for i in range(sizes[1] + 1)}

    def steps(cls, answers: dict[str, Any] | None = None) -> list[int]:  # type: ignore[no-untyped-def]
        out = []
        for n in sizes:
            cache = cls(similarity_threshold=0.99, max_entries=n, embed=table.__getitem__)
            for i in range(n):
                cache.add(f"e{i}", str(i))
            cache.find_similar(f"e{sizes[1]}")  # warm up lazy state
            out.append(python_steps(partial(cache.find_similar, f"e{sizes[1]}")))
            if answers is not None:  # every entry is still there, in the right row
                for i in (0, 63, 64, n // 2, n - 1):
                    answers[f"e{i} of {n:,}"] = (str(i), cache.find_similar(f"e{i}"))
        return out

    ref_small, ref_large = ref.value(("steps", sizes, dims), lambda r: tuple(steps(r.SemanticCache)))
    answers: dict[str, Any] = {}
    try:
        small, large = steps(learner.SemanticCache, answers)
    except NotImplementedError:
        raise
    except Exception as exc:
        raise CheckFailed(
            f"SemanticCache failed with {sizes[1]:,} entries.",
            input=f"{sizes[1]:,} adds of random {dims}-dimensional vectors, then find_similar",
            expected="no error",
            actual=f"{type(exc).__name__}: {exc}"[:300],
        ) from None
    wrong = {name: got for name, (want, got) in answers.items() if got != want}
    if wrong:
        name = next(iter(wrong))
        raise CheckFailed(
            "After many adds, an entry's own query no longer finds it: rows were lost or mixed up when the "
            "array grew (copy the filled rows into the bigger array, keep every row's response).",
            input=f"add e0 ... e{sizes[1] - 1} (max_entries equal to the count); find {name.split()[0]}",
            expected=answers[name][0],
            actual=wrong[name],
        )
    allowed = max(100, 10 * (ref_large - ref_small))
    if large - small > allowed:
        raise CheckFailed(
            "A lookup runs Python code for every entry: it will not scale.",
            input=f"one find_similar with {sizes[0]:,} and with {sizes[1]:,} entries",
            expected=f"about the same number of Python steps (the reference: {ref_small} and {ref_large})",
            actual=f"{small} and {large} Python steps",
        )
