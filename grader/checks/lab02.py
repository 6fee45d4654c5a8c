"""Checks for lab 02, the semantic cache.

Each compares the learner's ``cosine_similarity`` and ``SemanticCache`` with the
reference solution on fixed cases (the handout's included) and on generated ones.
Embeddings come from the mock LLM through the official SDK (in process), or from a
controlled embedder passed as ``embed=`` where a check needs exact similarities.
"""

from __future__ import annotations

import math
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


@check(
    "02-cosine-properties",
    2,
    "cosine_similarity is symmetric, in [-1, 1] and scale invariant (generated)",
    "Compute with floats (np.asarray(x, dtype=float)); clip tiny rounding errors into [-1, 1].",
)
def cosine_properties(learner: Namespace, ref: Reference) -> None:
    cos = learner.cosine_similarity

    def expected(a: list[float], b: list[float]) -> float:
        return float(ref.call("cosine_similarity", a, b))

    def holds(ab: tuple[list[float], list[float]]) -> bool:
        a, b = ab
        value = float(cos(a, b))
        return (
            close(value, expected(a, b), 1e-6)
            and close(value, float(cos(b, a)), 1e-9)
            and -1.0 <= value <= 1.0
            and close(value, float(cos([3.5 * x for x in a], b)), 1e-6)
        )

    bad = ref.counterexample("02-cosine-properties", vectors, holds)
    if bad is not None:
        a, b = bad
        try:
            got: object = (float(cos(a, b)), float(cos(b, a)), float(cos([3.5 * x for x in a], b)))
        except Exception as exc:
            got = f"{type(exc).__name__}: {exc}"
        raise CheckFailed(
            "A property fails on this (smallest) pair: cos(a,b) must equal numpy's, equal cos(b,a), lie in "
            "[-1, 1] and not change when a is scaled by 3.5. Got (cos(a,b), cos(b,a), cos(3.5a,b)).",
            input=(a, b),
            expected=round(expected(a, b), 6),
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
    "Call client.embeddings.create(model=..., input=text) and return np.array(data[0].embedding).",
)
def embedding(learner: Namespace, ref: Reference) -> None:
    client = mock_client()
    mine = make_cache(learner, client=client)
    for text in ("What's the weather today?", "Tell me about Python"):
        got = call("get_embedding", mine.get_embedding, text)
        expected = np.asarray(ref.value(("embedding", text), partial(reference_embedding, text=text)))
        arr = np.asarray(got, dtype=float) if got is not None else None
        if arr is None or arr.shape != expected.shape or not np.allclose(arr, expected, atol=1e-6):
            raise CheckFailed(
                "The embedding differs from the mock's.",
                input=text,
                expected=f"array of shape {expected.shape}",
                actual=None if arr is None else arr.shape,
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
    "Keep the highest similarity seen (np.argmax over all entries), then compare it with the threshold.",
)
def best_match(learner: Namespace, ref: Reference) -> None:
    table = {"q": [1.0, 0.0, 0.0], "close": [0.9, 0.43589, 0.0], "closest": [0.99, 0.14107, 0.0]}
    cache = make_cache(learner, similarity_threshold=0.8, embed=table_embedder(table))
    call("add", cache.add, "close", "first added, less similar")
    call("add", cache.add, "closest", "second added, most similar")
    got = call("find_similar", cache.find_similar, "q")
    if got != "second added, most similar":
        raise CheckFailed(
            "Returned a match that is not the most similar.",
            input="two entries at 0.90 and 0.99",
            expected="second added, most similar",
            actual=got,
        )


@check(
    "02-threshold",
    1,
    "a similarity equal to the threshold is a hit; just below is a miss",
    "Compare with >= threshold, not > threshold.",
)
def threshold(learner: Namespace, ref: Reference) -> None:
    table = {"q": [1.0, 0.0], "same": [2.0, 0.0], "other": [0.6, 0.8]}
    cache = make_cache(learner, similarity_threshold=1.0, embed=table_embedder(table))
    call("add", cache.add, "same", "identical direction")
    if (got := call("find_similar", cache.find_similar, "q")) != "identical direction":
        raise CheckFailed(
            "A similarity of exactly 1.0 with threshold 1.0 must hit.",
            input="q vs same",
            expected="identical direction",
            actual=got,
        )
    for limit, expected in ((0.6 - 1e-9, "at 0.6"), (0.6 + 1e-6, None)):
        cache = make_cache(learner, similarity_threshold=limit, embed=table_embedder(table))
        call("add", cache.add, "other", "at 0.6")
        got = call("find_similar", cache.find_similar, "q")
        if got != expected:
            raise CheckFailed(
                "Wrong decision at the threshold.",
                input=f"similarity 0.6, threshold {limit!r}",
                expected=expected,
                actual=got,
            )


@check(
    "02-lru",
    2,
    "with max_entries, the least recently used entry is evicted (a hit refreshes it)",
    "Keep entries in an OrderedDict: move_to_end on a hit, popitem(last=False) when full.",
    part="stretch",
)
def lru(learner: Namespace, ref: Reference) -> None:
    basis = {name: [float(i == k) for k in range(5)] for i, name in enumerate("abcde")}
    cache = make_cache(learner, similarity_threshold=0.99, max_entries=3, embed=table_embedder(basis))
    for name in "abc":
        call("add", cache.add, name, name.upper())
    call("find_similar", cache.find_similar, "a")  # a is now the most recent
    call("add", cache.add, "d", "D")
    got = {name: call("find_similar", cache.find_similar, name) for name in "abcd"}
    expected = {"a": "A", "b": None, "c": "C", "d": "D"}
    if got != expected:
        raise CheckFailed(
            "Wrong entry evicted.", input="max_entries=3; add a, b, c; hit a; add d", expected=expected, actual=got
        )
    if call("len(cache)", len, cache) != 3:
        raise CheckFailed("len(cache) must count live entries.", expected=3, actual=len(cache))


@check(
    "02-ttl",
    1,
    "entries expire after ttl_seconds on the injected clock",
    "Store the insertion time from self.clock(); treat entries older than ttl_seconds as absent.",
    part="stretch",
)
def ttl(learner: Namespace, ref: Reference) -> None:
    clock = Clock()
    table = {"a": [1.0, 0.0], "b": [0.0, 1.0]}
    cache = make_cache(learner, similarity_threshold=0.9, ttl_seconds=10.0, clock=clock, embed=table_embedder(table))
    call("add", cache.add, "a", "A")
    clock.now += 9.9
    if (got := call("find_similar", cache.find_similar, "a")) != "A":
        raise CheckFailed(
            "An entry younger than the TTL was not found.", input="age 9.9 s, ttl 10 s", expected="A", actual=got
        )
    call("add", cache.add, "b", "B")
    clock.now += 0.2
    if (got := call("find_similar", cache.find_similar, "a")) is not None:
        raise CheckFailed("An expired entry was returned.", input="age 10.1 s, ttl 10 s", expected=None, actual=got)
    if call("len(cache)", len, cache) != 1:
        raise CheckFailed("Expired entries must not count in len(cache).", expected=1, actual=len(cache))


@check(
    "02-scope",
    1,
    "entries only match queries of the same scope (model, system prompt, tenant)",
    "Store the scope with each entry and compare only entries whose scope equals the query's.",
    part="stretch",
)
def scope(learner: Namespace, ref: Reference) -> None:
    table = {"q": [1.0, 0.0]}
    cache = make_cache(learner, similarity_threshold=0.9, embed=table_embedder(table))
    call("add", cache.add, "q", "answer for gpt-4 / pirate persona", scope="gpt-4|You are a pirate.")
    for other in ("gpt-3.5-turbo|You are a pirate.", "gpt-4|You are a lawyer.", ""):
        got = call("find_similar", cache.find_similar, "q", scope=other)
        if got is not None:
            raise CheckFailed(
                "An entry leaked across scopes.",
                input=f"added in 'gpt-4|You are a pirate.', asked in {other!r}",
                expected=None,
                actual=got,
            )
    got = call("find_similar", cache.find_similar, "q", scope="gpt-4|You are a pirate.")
    if got != "answer for gpt-4 / pirate persona":
        raise CheckFailed(
            "The entry is not found in its own scope.", expected="answer for gpt-4 / pirate persona", actual=got
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
    "Keep embeddings in one 2-D numpy array and score all entries with a single matrix-vector product.",
    part="stretch",
)
def vectorised(learner: Namespace, ref: Reference) -> None:
    # Counting Python steps, not seconds: checks run in parallel on shared CPUs, and timings
    # of a sub-millisecond lookup flaked there; the step count is exact and reproducible.
    sizes, dims = (500, 5_000), 32
    vectors = np.random.default_rng(0).standard_normal((sizes[1] + 1, dims))
    table = {f"e{i}": vectors[i] for i in range(sizes[1] + 1)}

    def steps(cls) -> list[int]:  # type: ignore[no-untyped-def]
        out = []
        for n in sizes:
            cache = cls(similarity_threshold=0.99, max_entries=n, embed=table.__getitem__)
            for i in range(n):
                cache.add(f"e{i}", str(i))
            cache.find_similar(f"e{sizes[1]}")  # warm up lazy state
            out.append(python_steps(partial(cache.find_similar, f"e{sizes[1]}")))
        return out

    ref_small, ref_large = ref.value(("steps", sizes, dims), lambda r: tuple(steps(r.SemanticCache)))
    try:
        small, large = steps(learner.SemanticCache)
    except NotImplementedError:
        raise
    except Exception as exc:
        raise CheckFailed(f"SemanticCache failed with {sizes[1]:,} entries: {type(exc).__name__}: {exc}") from None
    allowed = max(100, 10 * (ref_large - ref_small))
    if large - small > allowed:
        raise CheckFailed(
            "A lookup runs Python code for every entry: it will not scale.",
            input=f"one find_similar with {sizes[0]:,} and with {sizes[1]:,} entries",
            expected=f"about the same number of Python steps (the reference: {ref_small} and {ref_large})",
            actual=f"{small} and {large} Python steps",
        )
