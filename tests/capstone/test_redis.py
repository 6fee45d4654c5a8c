"""The exact cache in a real Redis: shared by processes, single-flight across them, and optional."""

from __future__ import annotations

import asyncio

import pytest

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
    assert calls > 0 and mock.calls() == calls
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
    bodies = [r.json() for r in responses]
    assert all(r.status_code == 200 for r in responses)
    assert len({(b["sentiment"], b["model_used"]) for b in bodies}) == 1
    assert sum(not b["cached"] for b in bodies) == 1
    models = {m: n["calls"] for m, n in mock.ledger()["models"].items()}
    assert models == ({"gpt-3.5-turbo": 1} if bodies[0]["tier"] == "cheap" else {"gpt-3.5-turbo": 1, "gpt-4": 1})


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
