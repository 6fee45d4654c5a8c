"""The exact cache, in memory (lab 01's ResponseCache) or in Redis, and lab 02's semantic cache.

Both exact caches answer ``get_or_compute(key, compute) -> (value, cached)`` with one
``compute()`` per key however many callers wait: lab 01's single-flight within a process,
and with Redis a lock per key (``SET NX PX``) so that identical requests in different
processes share one model call too. Values are JSON-ready dicts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from . import labs

Compute = Callable[[], Awaitable[dict[str, Any]]]
POLL_SECONDS = 0.005
# Delete the lock only if it is still ours: a lock that expired and was taken by another
# process must not be released by us.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class ExactCache(Protocol):
    async def get_or_compute(self, key: str, compute: Compute) -> tuple[dict[str, Any], bool]: ...

    def peek(self, key: str) -> dict[str, Any] | None:
        """The value if this process holds it now: no I/O, no waiting, no computing."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def cache_key(text: str, scope: str) -> str:
    """Lab 01's key (normalised text and model, hashed), with the cascade's scope as the model."""
    return str(labs.lab("01").ResponseCache.key(text, scope))


class MemoryCache:
    """Lab 01's bounded LRU cache with a TTL and single-flight, for one process."""

    def __init__(self, max_entries: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache = labs.lab("01").ResponseCache(max_entries=max_entries, ttl_seconds=ttl_seconds, clock=clock)

    async def get_or_compute(self, key: str, compute: Compute) -> tuple[dict[str, Any], bool]:
        value, cached = await self._cache.get_or_compute(key, compute)
        return value, bool(cached)

    def peek(self, key: str) -> dict[str, Any] | None:
        value = self._cache.get(key)
        return None if value is None else dict(value)

    def __len__(self) -> int:
        return len(self._cache)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisCache:
    """Answers shared by every process through Redis, with a short-lived copy in each process.

    The per-process layer is lab 01's ResponseCache, which also collapses identical requests
    within the process; behind it, one Redis lock per key collapses them across processes: the
    holder computes and stores, the others poll for the answer until the lock goes away.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float,
        local_ttl_seconds: float,
        local_max_entries: int = 10_000,
        wait_seconds: float = 2.5,
        timeout_seconds: float = 1.0,
        prefix: str = "capstone:",
        observe: Callable[[str], None] = lambda event: None,
    ) -> None:
        import redis.asyncio as aioredis  # only with REDIS_URL: the in-memory service needs no Redis client

        self.redis = aioredis.from_url(url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)
        self.ttl_ms = int(ttl_seconds * 1000)
        self.wait_seconds = wait_seconds
        self.prefix = prefix
        self._local = labs.lab("01").ResponseCache(max_entries=local_max_entries, ttl_seconds=local_ttl_seconds)
        self._release = self.redis.register_script(_RELEASE)
        self.observe = observe  # each event, for the service's /metrics
        # answers read in Redis (another process's, waited for or not), polls, failed round trips
        self.events = {"hit": 0, "wait": 0, "error": 0}

    async def get_or_compute(self, key: str, compute: Compute) -> tuple[dict[str, Any], bool]:
        async def shared() -> dict[str, Any]:
            value, cached = await self._shared(key, compute)
            return {"value": value, "cached": cached}

        entry, cached_here = await self._local.get_or_compute(key, shared)
        return entry["value"], bool(cached_here or entry["cached"])

    def peek(self, key: str) -> dict[str, Any] | None:
        entry = self._local.get(key)
        return None if entry is None else dict(entry["value"])

    async def _shared(self, key: str, compute: Compute) -> tuple[dict[str, Any], bool]:
        from redis.exceptions import RedisError

        paid: list[dict[str, Any]] = []  # what compute() returned: a paid answer is never paid twice

        async def compute_once() -> dict[str, Any]:
            paid.append(await compute())
            return paid[0]

        try:
            return await self._through_redis(key, compute_once)
        except RedisError:
            # Redis is down or slow: answer without the shared cache rather than fail the request,
            # with the answer already computed if the error came after it (storing or unlocking).
            self._event("error")
            return (paid[0] if paid else await compute()), False

    async def _through_redis(self, key: str, compute: Compute) -> tuple[dict[str, Any], bool]:
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as RedisTimeout

        name = self.prefix + hashlib.sha256(key.encode()).hexdigest()
        lock = name + ":lock"
        found = await self._stored(name)
        if found is not None:
            return found, True
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                if await self.redis.set(lock, token, nx=True, px=int(self.wait_seconds * 1000)):
                    break  # ours: compute and store
                found = await self._stored(name)
            except RedisTimeout:
                # A slow round trip (a busy machine) is no reason to pay for the answer another
                # process is computing: keep waiting until the deadline. Redis down fails fast.
                self._event("error")
                found = None
            if found is not None:
                return found, True
            if time.monotonic() > deadline:
                return await compute(), False  # the holder is slow or gone: answer ourselves, uncached
            self._event("wait")  # another process is computing this answer: wait for it
            await asyncio.sleep(POLL_SECONDS)
        try:
            # The holder before us may have stored the answer and unlocked since our last look.
            found = await self._stored(name)
            if found is not None:
                return found, True
            value = await compute()
            await self.redis.set(name, json.dumps(value), px=self.ttl_ms)
            return value, False
        finally:
            try:
                await self._release(keys=[lock], args=[token])
            except RedisError:
                self._event("error")  # the lock expires by itself; the answer (or error) stands

    async def _stored(self, name: str) -> dict[str, Any] | None:
        """The answer stored under ``name``, counted as a hit, or None."""
        found = await self.redis.get(name)
        if found is None:
            return None
        self._event("hit")
        return json.loads(found)  # type: ignore[no-any-return]

    def _event(self, event: str) -> None:
        self.events[event] += 1
        self.observe(event)

    def stats(self) -> dict[str, int]:
        """What the shared layer did in this process: the operator's view of Redis's health."""
        return dict(self.events)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:  # readiness: any failure to reach Redis means not ready
            return False

    async def close(self) -> None:
        await self.redis.aclose()


class SemanticCache:
    """Lab 02's SemanticCache with a local embedder, scoped by model and prompt.

    The embedder is the kit's own (``mock_llm.embeddings``), computed in this process: no call,
    no cost, identical in every process. A lookup costs one embedding and one matrix product.
    """

    def __init__(self, threshold: float, max_entries: int) -> None:
        from mock_llm.embeddings import embed

        self._cache = labs.lab("02").SemanticCache(threshold, max_entries=max_entries, embed=embed)

    def find(self, text: str, scope: str) -> dict[str, Any] | None:
        found = self._cache.find_similar(text, scope=scope)
        return None if found is None else dict(json.loads(found))

    def add(self, text: str, value: dict[str, Any], scope: str) -> None:
        self._cache.add(text, json.dumps(value), scope=scope)

    def __len__(self) -> int:
        return len(self._cache)
