# ruff: noqa: E501 (the entries are code: their exact text matters more than the line length)
"""Lab 06: plausible learner mistakes, and correct designs other than the reference's."""

from __future__ import annotations

from . import Submission

MONKEY_RNG = """        ]
        ### BEGIN SOLUTION
        self.rng = random.Random(seed)
"""
MONKEY_DRAW = """        if self.rng.random() < self.failure_rate:
            failure = self.rng.choice(self.failure_modes)
"""
MONKEY_RECORD = """            kind = failure.__name__.removeprefix("inject_")
            self.injected[kind] = self.injected.get(kind, 0) + 1
            self.log.append(kind)
            return await failure(func, *args)
"""
TIMEOUT_BODY = """        await self.sleep(self.timeout_delay)
        raise TimeoutError(f"chaos: no answer within {self.timeout_delay:g} s")
"""
RATE_LIMIT_BODY = "        raise rate_limit_error(self.retry_after)\n"

READ_LOOP = """    async for chunk in stream:
        for choice in chunk.choices:
            if choice.delta is not None and choice.delta.content:
                parts.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish_reason = choice.finish_reason
"""
CUT_CHECK = """    if finish_reason is None:
        raise InvalidResponse("the stream ended without a finish_reason: it was cut before its end")
"""
STOP_CHECK = """    if finish_reason != "stop":
        raise InvalidResponse(f"finish_reason is {finish_reason!r}: the answer is not complete")
"""
EMPTY_CHECK = """    if not text.strip():
        raise InvalidResponse("the answer is empty")
"""
FFFD_CHECK = """    if "\\ufffd" in text:
        raise InvalidResponse("the answer contains U+FFFD replacement characters: it is corrupted")
"""

NEAREST = "        return latencies[max(1, math.ceil(q * n)) - 1]\n"
SUMMARY_LOOP = """    for outcome in outcomes:
        if not outcome.ok:
            failures[outcome.error] = failures.get(outcome.error, 0) + 1
        if outcome.ok and not outcome.degraded:
            continue
        for kind in set(outcome.faults):
            cascaded[kind] = cascaded.get(kind, 0) + 1
"""

TRANSPORT_DRAW = """        if self.rng.random() < self.failure_rate:
            kind = self.rng.choice(self.faults)
            self.injected[kind] = self.injected.get(kind, 0) + 1
        self.log.append(kind)
"""
TRANSPORT_TIMEOUT = """        timeout = (request.extensions.get("timeout") or {}).get("read") or self.hang
        if kind == "timeout" or (kind == "slow_first_token" and self.ttft_delay >= timeout):
            await self.sleep(timeout)
            raise httpx2.ReadTimeout(f"chaos: no first byte within {timeout:g} s", request=request)
"""
TRANSPORT_HEADERS = """        if kind == "slow_first_token":
            await self.sleep(self.ttft_delay)
        elif kind == "rate_limit":
            request.headers["x-mock-fault"] = f"rate_limit; retry_after={self.retry_after:g}"
        elif kind in MOCK_FAULTS:
            request.headers["x-mock-fault"] = MOCK_FAULTS[kind]
"""
TRANSPORT_FORWARD = """        response = await self.inner.handle_async_request(request)
        if kind == "stream_cut":
            return await cut_in_half(response)
        return response
"""

DELAY_BODY = """    response = getattr(error, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    if header is not None:
        try:
            return min(max(float(header), 0.0), max_delay)
        except ValueError:
            pass
    return min(base_delay * 2**attempt, max_delay)
"""
RESILIENT_BODY = """    for attempt in range(attempts):
        try:
            text = await ask(client, prompt, timeout=timeout if attempt == 0 else retry_timeout)
        except Exception as exc:
            if not is_retryable(exc):
                raise
            if attempt + 1 < attempts:
                await sleep(retry_delay(exc, attempt))
        else:
            return Answer(text)
    return Answer(FALLBACK_TEXT, source="fallback", degraded=True)
"""


MISTAKES = [
    # --- exercise 1: the monkey ----------------------------------------------------------------
    Submission(
        "monkey-global-random",
        {
            MONKEY_DRAW: "        if random.random() < self.failure_rate:\n            failure = random.choice(self.failure_modes)\n"
        },
        ("06-monkey-seeded",),
        "random module's shared generator",
        "the handout's random.random(): every run injects different faults",
    ),
    Submission(
        "monkey-random-seed",
        {
            MONKEY_RNG: MONKEY_RNG.replace(
                "self.rng = random.Random(seed)", "random.seed(seed)\n        self.rng = random"
            )
        },
        ("06-monkey-seeded",),
        "same seed",
        "random.seed(seed) on the shared generator: one monkey replays, two in turn do not",
    ),
    Submission(
        "monkey-unseeded",
        {MONKEY_RNG: MONKEY_RNG.replace("random.Random(seed)", "random.Random()")},
        ("06-monkey-seeded",),
        "seed",
        "a private generator, but seeded from the OS: nothing replays",
    ),
    Submission(
        "monkey-choice-first",
        {
            MONKEY_DRAW: "        failure = self.rng.choice(self.failure_modes)\n        if self.rng.random() < self.failure_rate:\n"
        },
        ("06-monkey-seeded",),
        "draw exactly once",
        "picks the fault before deciding whether to fail: two draws per call",
    ),
    Submission(
        "monkey-rate-inverted",
        {
            "        if self.rng.random() < self.failure_rate:\n            failure = self.rng.choice(self.failure_modes)\n": "        if self.rng.random() > self.failure_rate:\n            failure = self.rng.choice(self.failure_modes)\n"
        },
        ("06-monkey-seeded",),
        "does not do what the seed draws",
        "fails with probability 1 - failure_rate",
    ),
    Submission(
        "monkey-count-after-fault",
        {
            MONKEY_RECORD: """            result = await failure(func, *args)
            kind = failure.__name__.removeprefix("inject_")
            self.injected[kind] = self.injected.get(kind, 0) + 1
            self.log.append(kind)
            return result
"""
        },
        ("06-monkey-seeded",),
        "before it runs",
        "records a fault after it ran: the faults that raise are never counted",
    ),
    Submission(
        "monkey-no-log-for-untouched",
        {"        self.log.append(None)\n        return await func(*args)\n": "        return await func(*args)\n"},
        ("06-monkey-seeded",),
        "None when the call ran untouched",
        "logs only the faults, so the log no longer lines up with the calls",
    ),
    Submission(
        "monkey-kind-with-prefix",
        {'            kind = failure.__name__.removeprefix("inject_")\n': "            kind = failure.__name__\n"},
        ("06-monkey-seeded",),
        "without 'inject_'",
        "logs 'inject_timeout' instead of the kind 'timeout'",
    ),
    Submission(
        "timeout-real-sleep",
        {
            TIMEOUT_BODY: """        await asyncio.sleep(self.timeout_delay)
        raise TimeoutError(f"chaos: no answer within {self.timeout_delay:g} s")
"""
        },
        ("06-monkey-faults",),
        "real time",
        "asyncio.sleep instead of the injected sleep: tests wait for real",
    ),
    Submission(
        "timeout-no-wait",
        {TIMEOUT_BODY: '        raise TimeoutError(f"chaos: no answer within {self.timeout_delay:g} s")\n'},
        ("06-monkey-faults",),
        "wait timeout_delay seconds on self.sleep",
        "a timeout that costs no time: the experiment's latency never sees it",
    ),
    Submission(
        "timeout-calls-func",
        {
            TIMEOUT_BODY: """        await self.sleep(self.timeout_delay)
        await func(*args)
        raise TimeoutError(f"chaos: no answer within {self.timeout_delay:g} s")
"""
        },
        ("06-monkey-seeded", "06-monkey-faults"),
        "called the function",
        "a timed-out call that still reached the model (and was billed)",
    ),
    Submission(
        "rate-limit-bare-exception",
        {RATE_LIMIT_BODY: '        raise Exception("Rate limit exceeded (chaos)")\n'},
        ("06-monkey-faults", "06-monkey-seeded"),
        "RateLimitError",
        "the handout's bare Exception: no type to catch, no retry-after",
    ),
    Submission(
        "rate-limit-fixed-retry-after",
        {RATE_LIMIT_BODY: "        raise rate_limit_error(1.0)\n"},
        ("06-monkey-faults",),
        "retry-after",
        "ignores the monkey's retry_after",
    ),
    Submission(
        "rate-limit-waits",
        {
            RATE_LIMIT_BODY: "        await self.sleep(self.retry_after)\n        raise rate_limit_error(self.retry_after)\n"
        },
        ("06-monkey-faults",),
        "nor wait",
        "the monkey sleeps out the retry-after itself: the caller's retry policy is never tested",
    ),
    # --- exercise 2: read_answer -----------------------------------------------------------------
    Submission(
        "stream-only-length-checked",
        {
            CUT_CHECK
            + STOP_CHECK: '    if finish_reason == "length":\n        raise InvalidResponse("cut by max_tokens")\n'
        },
        ("06-stream-invalid",),
        "passed as valid",
        "knows only 'length': a stream that just stops (Portkey #1797) or a filtered answer is taken as complete",
    ),
    Submission(
        "stream-length-accepted",
        {STOP_CHECK: ""},
        ("06-stream-invalid",),
        "passed as valid",
        "an answer cut by max_tokens or withheld by a filter is returned",
    ),
    Submission(
        "stream-no-fffd-check",
        {FFFD_CHECK: ""},
        ("06-stream-invalid",),
        "passed as valid",
        "mangled text with replacement characters is returned",
    ),
    Submission(
        "stream-fffd-cleaned",
        {FFFD_CHECK: '    text = text.replace("\\ufffd", "")\n'},
        ("06-stream-invalid",),
        "passed as valid",
        "strips the replacement characters and returns the rest as if it were whole",
    ),
    Submission(
        "stream-empty-without-strip",
        {EMPTY_CHECK: '    if not text:\n        raise InvalidResponse("the answer is empty")\n'},
        ("06-stream-invalid",),
        "passed as valid",
        "whitespace counts as an answer",
    ),
    Submission(
        "stream-last-chunk-text-dropped",
        {
            READ_LOOP: """    async for chunk in stream:
        for choice in chunk.choices:
            if choice.finish_reason is not None:
                finish_reason = choice.finish_reason
            elif choice.delta is not None and choice.delta.content:
                parts.append(choice.delta.content)
"""
        },
        ("06-stream-valid",),
        "whole",
        "ignores the text of the chunk that carries the finish_reason",
    ),
    Submission(
        "stream-first-choice-index",
        {
            READ_LOOP: """    async for chunk in stream:
        choice = chunk.choices[0]
        if choice.delta is not None and choice.delta.content:
            parts.append(choice.delta.content)
        if choice.finish_reason is not None:
            finish_reason = choice.finish_reason
"""
        },
        ("06-stream-valid",),
        "IndexError",
        "chunk.choices[0] fails on the usage chunk, which has no choices",
    ),
    Submission(
        "stream-value-error",
        {
            CUT_CHECK: '    if finish_reason is None:\n        raise ValueError("the stream ended without a finish_reason")\n'
        },
        ("06-stream-invalid",),
        "InvalidResponse",
        "raises a ValueError that no retry policy knows to retry",
    ),
    # --- S1: the report ----------------------------------------------------------------------------
    Submission(
        "report-index-int",
        {NEAREST: "        return latencies[min(int(q * n), n - 1)]\n"},
        ("06-report",),
        "wrong report",
        "int(q * n) as a 0-based index: one rank too high (the 20th of 20 for p95)",
    ),
    Submission(
        "report-fallbacks-not-successes",
        {
            '        "success_rate": sum(o.ok for o in outcomes) / n,\n': '        "success_rate": sum(o.ok and not o.degraded for o in outcomes) / n,\n'
        },
        ("06-report",),
        "wrong report",
        "a degraded answer is not counted as answered",
    ),
    Submission(
        "report-latency-of-successes",
        {
            "    latencies = sorted(o.latency for o in outcomes)\n": "    latencies = sorted(o.latency for o in outcomes if o.ok) or [0.0]\n",
            NEAREST: "        return latencies[max(1, math.ceil(q * len(latencies))) - 1]\n",
        },
        ("06-report",),
        "wrong report",
        "failed requests left out of the latency percentiles: the slowest users disappear",
    ),
    Submission(
        "report-cascaded-duplicates",
        {"        for kind in set(outcome.faults):\n": "        for kind in outcome.faults:\n"},
        ("06-report",),
        "wrong report",
        "a fault met on two attempts of one request counts twice",
    ),
    Submission(
        "report-cascaded-ignores-degraded",
        {
            SUMMARY_LOOP: """    for outcome in outcomes:
        if outcome.ok:
            continue
        failures[outcome.error] = failures.get(outcome.error, 0) + 1
        for kind in set(outcome.faults):
            cascaded[kind] = cascaded.get(kind, 0) + 1
"""
        },
        ("06-report",),
        "wrong report",
        "a fault that forced a fallback is not counted as cascaded",
    ),
    Submission(
        "report-cascaded-includes-absorbed",
        {"        if outcome.ok and not outcome.degraded:\n            continue\n": ""},
        ("06-report",),
        "wrong report",
        "faults that retries absorbed are counted as cascaded",
    ),
    Submission(
        "report-empty-divides",
        {
            """    if n == 0:
        return {"requests": 0, "success_rate": 0.0, "fallback_rate": 0.0, "p50": 0.0, "p95": 0.0,
                "failures": {}, "cascaded": {}}
""": ""
        },
        ("06-report",),
        "ZeroDivisionError",
        "no guard for an experiment with no requests",
    ),
    # --- S2: the transport -------------------------------------------------------------------------
    Submission(
        "transport-global-random",
        {
            TRANSPORT_DRAW: TRANSPORT_DRAW.replace("self.rng.random()", "random.random()").replace(
                "self.rng.choice", "random.choice"
            )
        },
        ("06-transport-seeded",),
        "random.Random(seed)",
        "the shared generator: faults differ on every run",
    ),
    Submission(
        "transport-log-faults-only",
        {
            TRANSPORT_DRAW: """        if self.rng.random() < self.failure_rate:
            kind = self.rng.choice(self.faults)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            self.log.append(kind)
"""
        },
        ("06-transport-seeded",),
        "None without a fault",
        "logs only the faults, so an experiment cannot tell which request met which",
    ),
    Submission(
        "transport-rate-limit-no-retry-after",
        {
            '            request.headers["x-mock-fault"] = f"rate_limit; retry_after={self.retry_after:g}"\n': '            request.headers["x-mock-fault"] = "rate_limit"\n'
        },
        ("06-transport-faults",),
        "did not reach the sdk",
        "asks for a 429 without the configured retry-after",
    ),
    Submission(
        "transport-ttft-at-timeout-answers",
        {"self.ttft_delay >= timeout": "self.ttft_delay > timeout"},
        ("06-transport-faults",),
        "did not reach the sdk",
        "a first token exactly at the read timeout still arrives",
    ),
    Submission(
        "transport-ttft-real-sleep",
        {"            await self.sleep(self.ttft_delay)\n": "            await asyncio.sleep(self.ttft_delay)\n"},
        ("06-transport-faults",),
        "injected clock",
        "waits in real time: the experiment's clock never sees the slow first token",
    ),
    Submission(
        "transport-timeout-forwards",
        {
            "            await self.sleep(timeout)\n": "            await self.sleep(timeout)\n            await self.inner.handle_async_request(request)\n"
        },
        ("06-transport-faults",),
        "must not reach the server",
        "a timed-out request still reaches (and is billed by) the server",
    ),
    Submission(
        "transport-timeout-fixed-hang",
        {
            '        timeout = (request.extensions.get("timeout") or {}).get("read") or self.hang\n': "        timeout = self.hang\n"
        },
        ("06-transport-faults",),
        "injected clock",
        "ignores the client's read timeout: every injected timeout lasts a minute",
    ),
    Submission(
        "transport-timeout-builtin-error",
        {
            '            raise httpx2.ReadTimeout(f"chaos: no first byte within {timeout:g} s", request=request)\n': '            raise TimeoutError(f"chaos: no first byte within {timeout:g} s")\n'
        },
        ("06-transport-faults",),
        "did not reach the sdk",
        "a builtin TimeoutError, which the SDK reports as a connection error, not a timeout",
    ),
    Submission(
        "transport-stream-not-cut",
        {TRANSPORT_FORWARD: "        return await self.inner.handle_async_request(request)\n"},
        ("06-transport-faults",),
        "did not reach the sdk",
        "stream_cut counted as injected but never applied",
    ),
    # --- S3: the resilient call ----------------------------------------------------------------------
    Submission(
        "delay-ignores-retry-after",
        {DELAY_BODY: "    return min(base_delay * 2**attempt, max_delay)\n"},
        ("06-resilient",),
        "wrong delay",
        "backs off blindly: sooner than the server allows, or later than needed",
    ),
    Submission(
        "delay-int-header",
        {
            "            return min(max(float(header), 0.0), max_delay)\n": "            return min(max(int(header), 0), max_delay)\n"
        },
        ("06-resilient",),
        "wrong delay",
        "int('2.5') fails, so a fractional retry-after falls back to the backoff",
    ),
    Submission(
        "delay-uncapped",
        {"    return min(base_delay * 2**attempt, max_delay)\n": "    return base_delay * 2**attempt\n"},
        ("06-resilient",),
        "wrong delay",
        "exponential backoff without a cap (Portkey caps at 60 s; tenacity waits forever)",
    ),
    Submission(
        "delay-header-uncapped",
        {"            return min(max(float(header), 0.0), max_delay)\n": "            return float(header)\n"},
        ("06-resilient",),
        "wrong delay",
        "trusts any retry-after: 100 s, or a negative one",
    ),
    Submission(
        "delay-off-by-one",
        {
            "    return min(base_delay * 2**attempt, max_delay)\n": "    return min(base_delay * 2 ** (attempt + 1), max_delay)\n"
        },
        ("06-resilient",),
        "wrong delay",
        "the first retry already waits twice the base delay",
    ),
    Submission(
        "resilient-sleeps-after-last",
        {
            "            if attempt + 1 < attempts:\n                await sleep(retry_delay(exc, attempt))\n": "            await sleep(retry_delay(exc, attempt))\n"
        },
        ("06-resilient",),
        "wrong waits",
        "waits after the last attempt too: the user waits for nothing",
    ),
    Submission(
        "resilient-retries-everything",
        {"            if not is_retryable(exc):\n                raise\n": ""},
        ("06-resilient",),
        "not worth retrying",
        "a 400 (or a bug) is retried and then hidden behind the fallback",
    ),
    Submission(
        "resilient-raises-when-exhausted",
        {
            '    return Answer(FALLBACK_TEXT, source="fallback", degraded=True)\n': '    raise RuntimeError("every attempt failed")\n'
        },
        ("06-resilient", "06-hypothesis"),
        "raised instead",
        "no fallback: every exhausted request fails",
    ),
    Submission(
        "resilient-fallback-not-degraded",
        {'    return Answer(FALLBACK_TEXT, source="fallback", degraded=True)\n': "    return Answer(FALLBACK_TEXT)\n"},
        ("06-resilient",),
        "wrong answer",
        "a fallback that passes for the model's answer",
    ),
    Submission(
        "resilient-same-timeout",
        {
            "            text = await ask(client, prompt, timeout=timeout if attempt == 0 else retry_timeout)\n": "            text = await ask(client, prompt, timeout=timeout)\n"
        },
        ("06-resilient",),
        "wrong attempts",
        "retries wait the full timeout again",
    ),
    Submission(
        "resilient-real-sleep",
        {
            "                await sleep(retry_delay(exc, attempt))\n": "                await asyncio.sleep(retry_delay(exc, attempt))\n"
        },
        ("06-resilient",),
        "waits in real time",
        "sleeps in real time, ignoring the injected sleep",
    ),
    Submission(
        "resilient-one-attempt-less",
        {
            "    for attempt in range(attempts):\n        try:\n            text = await ask(": "    for attempt in range(attempts - 1):\n        try:\n            text = await ask("
        },
        ("06-resilient",),
        "wrong",
        "off by one: attempts=3 makes two calls",
    ),
    Submission(
        "resilient-api-errors-only",
        {
            "        except Exception as exc:\n            if not is_retryable(exc):\n                raise\n": "        except openai.APIError as exc:\n"
        },
        ("06-resilient", "06-hypothesis"),
        "raised instead",
        "retries the SDK's errors but not InvalidResponse: every silent failure reaches the user as an error",
    ),
]


ALTERNATIVES = [
    Submission(
        "monkey-asyncio-timeout-error",
        {
            '        raise TimeoutError(f"chaos: no answer within {self.timeout_delay:g} s")\n': '        raise asyncio.TimeoutError("chaos: injected timeout")\n'
        },
        why="asyncio.TimeoutError is TimeoutError since Python 3.11",
    ),
    Submission(
        "monkey-kind-table",
        {
            MONKEY_RECORD: """            kind = {
                self.inject_timeout: "timeout",
                self.inject_rate_limit: "rate_limit",
                self.inject_malformed_response: "malformed_response",
                self.inject_partial_response: "partial_response",
            }[failure]
            self.injected[kind] = self.injected.get(kind, 0) + 1
            self.log.append(kind)
            return await failure(func, *args)
"""
        },
        why="the kinds from a table of bound methods instead of their names",
    ),
    Submission(
        "monkey-counter",
        {
            "        self.injected: dict[str, int] = {}\n        self.log: list[str | None] = []\n        ### END SOLUTION\n\n    async def inject_timeout": "        from collections import Counter\n\n        self.injected = Counter()\n        self.log: list[str | None] = []\n        ### END SOLUTION\n\n    async def inject_timeout",
            "            self.injected[kind] = self.injected.get(kind, 0) + 1\n            self.log.append(kind)\n            return await failure(func, *args)\n": "            self.injected[kind] += 1\n            self.log.append(kind)\n            return await failure(func, *args)\n",
        },
        why="a collections.Counter is a dict",
    ),
    Submission(
        "stream-loud-errors-wrapped",
        {
            READ_LOOP: """    try:
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    parts.append(choice.delta.content)
                if choice.finish_reason is not None:
                    finish_reason = choice.finish_reason
    except (openai.APIError, json.JSONDecodeError) as exc:
        raise InvalidResponse(f"the stream failed: {exc}") from exc
"""
        },
        why="errors raised mid-stream become InvalidResponse too: any exception is a failure",
    ),
    Submission(
        "stream-concatenation-and-reordered-checks",
        {
            "    parts: list[str] = []\n    finish_reason = None\n": '    text = ""\n    finish_reason = None\n',
            "                parts.append(choice.delta.content)\n": "                text += choice.delta.content\n",
            '    text = "".join(parts)\n' + CUT_CHECK + STOP_CHECK + EMPTY_CHECK + FFFD_CHECK: FFFD_CHECK
            + EMPTY_CHECK
            + CUT_CHECK
            + STOP_CHECK,
        },
        why="text built by concatenation, the four checks in another order",
    ),
    Submission(
        "report-counters-and-statistics",
        {
            SUMMARY_LOOP: """    from collections import Counter

    failures = Counter(o.error for o in outcomes if not o.ok)
    cascaded = Counter(kind for o in outcomes if not o.ok or o.degraded for kind in set(o.faults))
""",
            NEAREST: "        rank = -(-int(round(q * 100)) * n // 100)  # ceil(q * n) in integers\n        return latencies[max(rank, 1) - 1]\n",
        },
        why="Counters, and the nearest rank computed in integer arithmetic",
    ),
    Submission(
        "transport-headers-update",
        {
            TRANSPORT_HEADERS: """        headers = {}
        if kind == "rate_limit":
            headers["x-mock-fault"] = f"rate_limit; retry_after={self.retry_after:g}"
        elif kind in MOCK_FAULTS:
            headers["x-mock-fault"] = MOCK_FAULTS[kind]
        elif kind == "slow_first_token":
            await self.sleep(self.ttft_delay)
        request.headers.update(headers)
"""
        },
        why="the header set with update(), branches in another order",
    ),
    Submission(
        "resilient-while-loop",
        {
            RESILIENT_BODY: """    attempt = 0
    while True:
        try:
            return Answer(await ask(client, prompt, timeout=retry_timeout if attempt else timeout))
        except Exception as exc:
            if not is_retryable(exc):
                raise
            attempt += 1
            if attempt >= attempts:
                return Answer(FALLBACK_TEXT, source="fallback", degraded=True)
            await sleep(retry_delay(exc, attempt - 1))
"""
        },
        why="a while loop that counts failures",
    ),
    Submission(
        "delay-eafp",
        {
            DELAY_BODY: """    try:
        seconds = float(error.response.headers["retry-after"])
    except (AttributeError, KeyError, ValueError):
        seconds = base_delay * 2**attempt
    return min(max(seconds, 0.0), max_delay)
"""
        },
        why="ask forgiveness: a missing response, header or number all fall back to the backoff",
    ),
]
