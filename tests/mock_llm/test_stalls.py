"""Does the server keep answering while one client sends the heaviest requests it accepts?

Counting, decoding, answering and serialising big requests take seconds; all of it must
happen off the event loop, so that /health (and every other attendee) is answered in
milliseconds meanwhile. Each case is a valid request OpenAI would accept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx2
import numpy as np
import pytest

from mock_llm.server import BackgroundServer

pytestmark = pytest.mark.server


def _batch() -> list[str]:
    rng = np.random.default_rng(5)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, size=int(rng.integers(3, 10)))) for _ in range(20000)]
    return [" ".join(rng.choice(words, size=38)) for _ in range(2048)]


HEAVY: dict[str, Callable[[], tuple[str, dict[str, object]]]] = {
    "embeddings: 2,048 distinct inputs, ~290,000 tokens, as floats": lambda: (
        "/embeddings",
        {"model": "text-embedding-3-small", "input": _batch(), "encoding_format": "float"},
    ),
    "embeddings: 2,048 token arrays of 140 ids": lambda: (
        "/embeddings",
        {
            "model": "text-embedding-3-small",
            "input": [[(i * 7919 + j * 104729) % 100000 for j in range(140)] for i in range(2048)],
        },
    ),
    "chat: a 2,000,000-character prompt": lambda: (
        "/chat/completions",
        {"model": "claude-instant", "messages": [{"role": "user", "content": "word " * 400_000}], "max_tokens": 5},
    ),
    "chat: 2,000,000 spaces (one BPE piece)": lambda: (
        "/chat/completions",
        {"model": "claude-instant", "messages": [{"role": "user", "content": " " * 2_000_000}], "max_tokens": 5},
    ),
    "chat: 'a' x 2,000,000": lambda: (
        "/chat/completions",
        {"model": "claude-instant", "messages": [{"role": "user", "content": "a" * 2_000_000}], "max_tokens": 5},
    ),
    "completions: 64 prompts of 100,000 characters": lambda: (
        "/completions",
        {"model": "text-davinci-003", "prompt": ["word " * 20_000] * 64, "max_tokens": 5},
    ),
}


SLOW = {"embeddings: 2,048 token arrays of 140 ids"}  # ~15 s: make test-fast leaves it out


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=pytest.mark.slow) if case in SLOW else case for case in HEAVY]
)
def test_health_answers_while_a_heavy_request_runs(live: BackgroundServer, case: str) -> None:
    path, body = HEAVY[case]()
    outcome: dict[str, object] = {}

    def send_heavy() -> None:
        with httpx2.Client(base_url=live.base_url, timeout=180) as http:
            started = time.perf_counter()
            reply = http.post(path, json=body)
            outcome["status"], outcome["seconds"] = reply.status_code, time.perf_counter() - started

    worker = threading.Thread(target=send_heavy)
    health: list[float] = []
    with httpx2.Client(base_url=live.base_url.removesuffix("/v1"), timeout=30) as http:
        http.get("/health")
        worker.start()
        while worker.is_alive() and len(health) < 1000:
            started = time.perf_counter()
            assert http.get("/health").status_code == 200
            health.append(time.perf_counter() - started)
            time.sleep(0.005)
    worker.join(180)
    assert outcome.get("status") in {200, 400}, outcome  # 400: a context limit, decided after the counting
    seconds = outcome["seconds"]
    assert isinstance(seconds, float)
    if len(health) < 5:
        pytest.skip(f"the request took {seconds:.2f} s: too quick to probe /health during it")
    # Blocked, /health would wait for the whole request (seconds). Generous for a busy machine.
    median, p95 = float(np.median(health)), float(np.percentile(health, 95))
    assert median < 0.05 and p95 < 0.2, (case, median, p95, max(health), outcome)
