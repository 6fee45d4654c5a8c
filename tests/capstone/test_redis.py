"""The exact cache in a real Redis: shared by processes, single-flight across them, and optional."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import MockControl, RedisServer, free_port, service_client, settings_for

pytest.importorskip(
    "redis", reason="the redis client is not installed (pip install 'redis>=5'): the service needs it with REDIS_URL"
)
pytestmark = pytest.mark.anyio


async def test_an_answer_is_shared_between_processes(
    mock: MockControl, redis_url: str, redis_server: RedisServer
) -> None:
    """Does a second service (another process's caches) answer from Redis what the first paid for?"""
    settings = settings_for(mock, redis_url=redis_url)
    async with service_client(settings) as first, service_client(settings) as second:
        one = (await first.post("/classify", json={"text": "What a day, meh"})).json()
        calls = mock.calls()
        two = (await second.post("/classify", json={"text": "what a day,  meh"})).json()
        exposition = (await second.get("/metrics")).text
    assert calls > 0 and mock.calls() == calls
    events = {
        sample.labels["event"]: sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "capstone_shared_cache_events"
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert events == {"hit": 1.0}, f"the second process's /metrics should count one answer read in Redis: {events}"
    assert two["cached"] is True and (two["sentiment"], two["model_used"]) == (one["sentiment"], one["model_used"])
    assert int(redis_server.command("DBSIZE").split(b":")[1]) >= 1  # the answer lives in Redis


async def test_identical_requests_in_two_processes_share_one_call(mock: MockControl, redis_url: str) -> None:
    """Do identical requests in flight in two services at once make one cascade's calls between them?"""
    mock.latency(0.5)
    # a generous wait for the other process's call: on a busy machine the lock holder may be slow
    settings = settings_for(mock, redis_url=redis_url, singleflight_wait_seconds=30.0)
    async with service_client(settings) as first, service_client(settings) as second:
        responses = await asyncio.gather(
            *(client.post("/classify", json={"text": "Ticket 7, meh"}) for client in (first, second) for _ in range(5))
        )
        stats = [client.app.state.service.exact.stats() for client in (first, second)]  # type: ignore[attr-defined]
    bodies = [r.json() for r in responses]
    assert all(r.status_code == 200 for r in responses)
    assert [s["error"] for s in stats] == [0, 0], f"Redis round trips failed, so a process paid alone: {stats}"
    assert len({(b["sentiment"], b["model_used"]) for b in bodies}) == 1
    assert sum(not b["cached"] for b in bodies) == 1
    models = {m: n["calls"] for m, n in mock.ledger()["models"].items()}
    assert models == ({"gpt-3.5-turbo": 1} if bodies[0]["tier"] == "cheap" else {"gpt-3.5-turbo": 1, "gpt-4": 1})


async def test_an_answer_paid_for_is_returned_when_redis_fails_to_store_it(
    redis_url: str, redis_server: RedisServer
) -> None:
    """When Redis stalls after the model call (storing, unlocking), is that answer returned, not paid for again?"""
    from solutions.capstone.caches import RedisCache

    cache = RedisCache(redis_url, ttl_seconds=60, local_ttl_seconds=5, wait_seconds=5, timeout_seconds=0.2)
    calls = 0

    async def compute() -> dict[str, str]:
        nonlocal calls
        calls += 1
        redis_server.command("CLIENT", "PAUSE", "1000", "WRITE")  # the SET of the answer now times out
        return {"sentiment": "neutral"}

    try:
        value, cached = await cache.get_or_compute("Ticket 8, meh", compute)
    finally:
        redis_server.command("CLIENT", "UNPAUSE")
        await cache.close()
    assert (value, cached, calls) == ({"sentiment": "neutral"}, False, 1)
    assert cache.stats()["error"] >= 1


async def test_a_waiter_that_wins_the_lock_late_reads_the_answer_stored_before(
    redis_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process stores the answer and unlocks while we sleep between polls: do we read it, not pay again?"""
    import hashlib
    import json
    import types

    from solutions.capstone import caches

    cache = caches.RedisCache(redis_url, ttl_seconds=60, local_ttl_seconds=5, wait_seconds=5, timeout_seconds=5)
    name = cache.prefix + hashlib.sha256(b"Ticket 6, meh").hexdigest()
    redis_server.command("SET", name + ":lock", "the-other-process")

    async def other_process_finishes(seconds: float) -> None:  # during our poll's sleep
        redis_server.command("SET", name, json.dumps({"sentiment": "negative"}))
        redis_server.command("DEL", name + ":lock")

    monkeypatch.setattr(caches, "asyncio", types.SimpleNamespace(sleep=other_process_finishes))
    calls = 0

    async def compute() -> dict[str, str]:
        nonlocal calls
        calls += 1
        return {"sentiment": "neutral"}

    try:
        value, cached = await cache.get_or_compute("Ticket 6, meh", compute)
    finally:
        await cache.close()
    assert (value, cached, calls) == ({"sentiment": "negative"}, True, 0)


async def test_degraded_answers_are_not_cached(mock: MockControl, redis_url: str, redis_server: RedisServer) -> None:
    """Is a degraded answer kept out of Redis, so the next request tries the models again?"""
    mock.faults({"server_error": 1.0})
    async with service_client(settings_for(mock, redis_url=redis_url)) as client:
        first = (await client.post("/classify", json={"text": "Ticket 9, meh"})).json()
        mock.faults({})
        second = (await client.post("/classify", json={"text": "Ticket 9, meh"})).json()
    assert first["degraded"] is True
    assert second["degraded"] is False and second["cached"] is False


async def test_unreachable_redis_is_reported_and_the_service_still_answers(mock: MockControl) -> None:
    """With Redis gone, does the service stay ready (saying the cache is unreachable) and answer every request?"""
    settings = settings_for(mock, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with service_client(settings) as client:
        ready = await client.get("/ready")
        response = await client.post("/classify", json={"text": "What a day, meh"})
    assert ready.status_code == 200 and ready.json()["cache"] == "unreachable"
    assert response.status_code == 200 and response.json()["degraded"] is False
