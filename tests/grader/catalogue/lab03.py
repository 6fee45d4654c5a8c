# ruff: noqa: E501 (the entries are code: their exact text matters more than the line length)
"""Lab 03: plausible learner mistakes, and correct designs other than the reference's."""

from __future__ import annotations

from . import Submission

# --- the reference's texts that several entries edit ---------------------------------------------

OUTER = """        try:
            return await self._execute(primary, request, start)
        except BaseException:
            self.metrics["unhandled"] += 1
            raise
        finally:
            self.metrics["latency_seconds"].append(self.clock() - start)
"""

PRIMARY_TRY = """        try:
            return Answer(await primary(within(request, self.clock)))
        except Exception as exc:  # not BaseException: cancellation and Ctrl-C are not failures to hide
            error = exc
        self.metrics["errors"] += 1
"""

DEADLINE_GATE = """            if request.deadline is not None and self.clock() >= request.deadline:
                raise DeadlineExceeded("the request's deadline passed before a fallback could answer") from error
"""

LOOP = (
    """        for fallback in self.fallbacks:
            if not fallback.can_handle(error):
                continue
"""
    + DEADLINE_GATE
    + """            try:
                answer = await fallback.execute(request, error, primary)
            except Exception:
                self.metrics["fallback_failure"][fallback.name] += 1
                continue
            self.metrics["fallback_success"][fallback.name] += 1
            return answer
        raise error
"""
)

JITTER = "        return cap / 2 + self.rng.uniform(0, cap / 2)\n"
CAP = "        cap = min(self.max_delay, self.base_delay * 2**attempt)\n"
HONOUR = "        asked = retry_after(error)\n        if asked is not None:\n            return asked\n"

RETRY_LOOP = """        for attempt in range(self.max_attempts):
            wait = self.delay(attempt, error)
            if request.deadline is not None and self.clock() + wait >= request.deadline:
                raise DeadlineExceeded(f"waiting {wait:g} s would pass the deadline") from error
            await self.sleep(wait)
            try:
                return Answer(await call(within(request, self.clock)), source=self.name, degraded=False)
            except Exception as exc:
                if not self.can_handle(exc):
                    raise
                error = exc
        raise error
"""
RATE_DEADLINE = """            if request.deadline is not None and self.clock() + wait >= request.deadline:
                raise DeadlineExceeded(f"waiting {wait:g} s would pass the deadline") from error
"""
RATE_CAN_HANDLE = (
    '        return isinstance(error, openai.RateLimitError) or getattr(error, "status_code", None) == 429\n'
)

QUICKER = "        quicker = replace(request, model=self.model, timeout=min(self.timeout, request.timeout))\n"
TIMEOUT_ANSWER = "        return Answer(await call(within(quicker, self.clock)), source=self.name, degraded=True)\n"
TIMEOUT_CAN_HANDLE = "        return isinstance(error, openai.APITimeoutError | TimeoutError)\n"

INTENT = """    words = re.findall(r"[a-z]+", prompt.lower())
    text = " ".join(words)
    if len(words) <= 4 and any(text == g or text.startswith(g + " ") for g in GREETINGS):
        return "greeting"
    if len(words) < 3:
        return "unclear"
    return "error"
"""
TEMPLATE_ANSWER = "        return Answer(self.templates[intent(request.prompt)], source=self.name, degraded=True)\n"

HALF_OPEN_RECORD = """        if self.state == "half_open":
            self._release()
            if failed:
                self._trip(error)
            else:
                self._outcomes.clear()
                self._move("closed")
            return
"""
CLOSED_RECORD = """        self._outcomes.append(failed)
        failures = sum(self._outcomes)
"""
TRIP_CLEAR = '        self._outcomes.clear()\n        self._move("open")\n'
CLOSE_CLEAR = '                self._outcomes.clear()\n                self._move("closed")\n'
PROBE_LIMIT = "            if self._probes >= self.half_open_probes:\n                raise CircuitOpen(0.0)\n"
BUG_RELEASE = "        except BaseException:\n            self._release()\n            raise\n"
THRESHOLD = (
    "        if len(self._outcomes) >= self.min_calls and failures / len(self._outcomes) >= self.failure_threshold:\n"
)


MISTAKES = [
    # --- exercise 1: the boundary --------------------------------------------------------------------
    Submission(
        "catches-base-exception",
        {
            "        except Exception as exc:  # not BaseException: cancellation and Ctrl-C are not failures to hide\n": (
                "        except BaseException as exc:\n"
            )
        },
        ("03-fallback-order",),
        "BaseException",
        "catches BaseException: a cancelled task is handed to the fallbacks as if the provider had failed",
    ),
    Submission(
        "fallback-not-awaited",
        {
            "                answer = await fallback.execute(request, error, primary)\n": "                answer = fallback.execute(request, error, primary)\n"
        },
        ("03-fallback-order", "03-metrics"),
        "never awaited",
        "calls the async execute without await: the 'answer' is a coroutine that never runs",
    ),
    Submission(
        "returns-none-when-unhandled",
        {"            return answer\n        raise error\n": "            return answer\n        return None\n"},
        ("03-unhandled", "03-metrics"),
        "does not reach the caller",
        "returns None when no fallback answers: the caller gets nothing and no error",
    ),
    Submission(
        "apology-instead-of-the-error",
        {
            "            return answer\n        raise error\n": (
                "            return answer\n"
                '        return Answer("Sorry, something went wrong. Please try again.", source="boundary", degraded=True)\n'
            )
        },
        ("03-unhandled",),
        "must reach the caller",
        "answers every unhandled error, bugs included, with an apology",
    ),
    Submission(
        "raises-a-new-exception",
        {
            "            return answer\n        raise error\n": '            return answer\n        raise RuntimeError("no fallback could answer") from error\n'
        },
        ("03-unhandled",),
        "primary's own error",
        "raises a new RuntimeError instead of the primary's error",
    ),
    Submission(
        "raise-from-none",
        {
            "            return answer\n        raise error\n": "            return answer\n        raise error from None\n"
        },
        ("03-unhandled",),
        "cause",
        "the same exception, but `from None` erases its cause (the JSON error behind an InvalidResponse)",
    ),
    Submission(
        "fallback-error-passed-on",
        {
            '            except Exception:\n                self.metrics["fallback_failure"][fallback.name] += 1\n                continue\n': (
                "            except Exception as failure:\n"
                '                self.metrics["fallback_failure"][fallback.name] += 1\n'
                "                error = failure\n"
                "                continue\n"
            )
        },
        ("03-fallback-order",),
        "primary",
        "hands the next fallback the previous fallback's error instead of the primary's",
    ),
    Submission(
        "stops-at-the-first-failing-fallback",
        {
            '                self.metrics["fallback_failure"][fallback.name] += 1\n                continue\n': (
                '                self.metrics["fallback_failure"][fallback.name] += 1\n                raise\n'
            )
        },
        ("03-fallback-order",),
        "wrong fallbacks",
        "a fallback that raises ends the request instead of passing to the next one",
    ),
    Submission(
        "can-handle-ignored",
        {"            if not fallback.can_handle(error):\n                continue\n": ""},
        ("03-fallback-order",),
        "wrong fallbacks",
        "tries every fallback, whatever its can_handle says",
    ),
    Submission(
        "bare-text-returned",
        {
            "            return Answer(await primary(within(request, self.clock)))\n": (
                "            return await primary(within(request, self.clock))\n"
            )
        },
        ("03-primary",),
        "wrong outcome",
        "returns the primary's text, not an Answer",
    ),
    Submission(
        "success-counted-under-the-class-name",
        {
            '            self.metrics["fallback_success"][fallback.name] += 1\n': (
                '            self.metrics["fallback_success"][type(fallback).__name__] += 1\n'
            )
        },
        ("03-metrics",),
        "fallback_success",
        "counts successes under the class name (RateLimitFallback), not the fallback's name (rate_limit)",
    ),
    Submission(
        "latency-only-on-success",
        {
            OUTER: """        try:
            answer = await self._execute(primary, request, start)
        except BaseException:
            self.metrics["unhandled"] += 1
            raise
        self.metrics["latency_seconds"].append(self.clock() - start)
        return answer
"""
        },
        ("03-metrics",),
        "latency_seconds",
        "records the latency of answered requests only",
    ),
    Submission(
        "latency-of-the-primary-only",
        {
            "            return Answer(await primary(within(request, self.clock)))\n": (
                "            return Answer(await primary(within(request, self.clock)))\n"
                "        except Exception as exc:  # not BaseException: cancellation and Ctrl-C are not failures to hide\n"
                "            error = exc\n"
                "        finally:\n"
                '            self.metrics["latency_seconds"].append(self.clock() - start)\n'
                "        try:\n"
                "            pass\n"
            ),
            '        finally:\n            self.metrics["latency_seconds"].append(self.clock() - start)\n\n    async def _execute': (
                "\n    async def _execute"
            ),
        },
        ("03-metrics",),
        "latency_seconds",
        "measures the primary call, not the request: the rate limit's waits and the fallbacks are left out",
    ),
    Submission(
        "errors-counted-per-fallback-failure",
        {
            '                self.metrics["fallback_failure"][fallback.name] += 1\n': (
                '                self.metrics["fallback_failure"][fallback.name] += 1\n'
                '                self.metrics["errors"] += 1\n'
            )
        },
        ("03-metrics",),
        "errors",
        "counts every failed fallback as one more error",
    ),
    Submission(
        "unhandled-not-counted",
        {
            '        except BaseException:\n            self.metrics["unhandled"] += 1\n            raise\n': "        except BaseException:\n            raise\n"
        },
        ("03-metrics",),
        "unhandled",
        "never counts the requests that end in an exception",
    ),
    Submission(
        "fallback-failure-not-counted",
        {
            '                self.metrics["fallback_failure"][fallback.name] += 1\n                continue\n': "                continue\n"
        },
        ("03-metrics",),
        "fallback_failure",
        "counts the fallbacks' successes only",
    ),
    # --- exercise 2: rate limits ---------------------------------------------------------------------
    Submission(
        "time-sleep-in-async-code",
        {"            await self.sleep(wait)\n": "            time.sleep(wait)\n"},
        ("03-backoff-concurrent", "03-backoff"),
        "time.sleep",
        "time.sleep blocks the event loop: every other request waits too",
    ),
    Submission(
        "retry-after-ignored",
        {HONOUR: ""},
        ("03-backoff",),
        "retry-after",
        "always backs off, whatever the provider asked",
    ),
    Submission(
        "retry-after-ms-read-as-seconds",
        {
            HONOUR: """        headers = getattr(getattr(error, "response", None), "headers", None) or {}
        asked = headers.get("retry-after-ms") or headers.get("retry-after")
        if asked is not None:
            return float(asked)
"""
        },
        ("03-backoff",),
        "retry-after",
        "reads the headers itself and takes retry-after-ms: 1500 as 1500 seconds",
    ),
    Submission(
        "first-error-for-every-wait",
        {"                    raise\n                error = exc\n": "                    raise\n"},
        ("03-backoff",),
        "retry-after",
        "computes every wait from the first 429, ignoring the new 429's retry-after",
    ),
    Submission(
        "no-wait-before-the-first-retry",
        {"            await self.sleep(wait)\n": "            if attempt:\n                await self.sleep(wait)\n"},
        ("03-backoff",),
        "retry-after",
        "retries at once, waiting only between its own retries",
    ),
    Submission(
        "no-jitter",
        {JITTER: "        return cap\n"},
        ("03-backoff",),
        "no jitter",
        "waits the whole cap: clients refused together retry together",
    ),
    Submission(
        "full-jitter",
        {JITTER: "        return self.rng.uniform(0, cap)\n"},
        ("03-backoff",),
        "between cap / 2 and cap",
        "full jitter, uniform(0, cap), where the lab asks for equal jitter",
    ),
    Submission(
        "jitter-beyond-the-cap",
        {JITTER: "        return cap / 2 + self.rng.uniform(0, cap)\n"},
        ("03-backoff",),
        "between cap / 2 and cap",
        "adds up to a whole cap to half the cap: waits reach 1.5 times the cap",
    ),
    Submission(
        "jitter-from-the-global-random",
        {JITTER: "        return cap / 2 + random.uniform(0, cap / 2)\n"},
        ("03-backoff",),
        "self.rng",
        "draws from the global random instead of self.rng: a seeded run no longer replays",
    ),
    Submission(
        "no-max-delay",
        {CAP: "        cap = self.base_delay * 2**attempt\n"},
        ("03-backoff",),
        "between cap / 2 and cap",
        "the backoff grows without the max_delay cap",
    ),
    Submission(
        "backoff-starts-one-step-late",
        {CAP: "        cap = min(self.max_delay, self.base_delay * 2 ** (attempt + 1))\n"},
        ("03-backoff",),
        "between cap / 2 and cap",
        "the first retry already waits up to twice base_delay",
    ),
    Submission(
        "one-attempt-too-many",
        {
            "        for attempt in range(self.max_attempts):\n": "        for attempt in range(self.max_attempts + 1):\n"
        },
        ("03-backoff",),
        "max_attempts",
        "max_attempts retries after the first call, one call too many",
    ),
    Submission(
        "one-attempt-too-few",
        {"        for attempt in range(self.max_attempts):\n": "        for attempt in range(1, self.max_attempts):\n"},
        ("03-backoff",),
        "max_attempts",
        "counts the failed primary call as the first attempt",
    ),
    Submission(
        "unbounded-retries",
        {
            RETRY_LOOP: """        attempt = 0
        while True:
            wait = self.delay(attempt, error)
            if request.deadline is not None and self.clock() + wait >= request.deadline:
                raise DeadlineExceeded(f"waiting {wait:g} s would pass the deadline") from error
            await self.sleep(wait)
            try:
                return Answer(await call(within(request, self.clock)), source=self.name, degraded=False)
            except Exception as exc:
                if not self.can_handle(exc):
                    raise
                error = exc
            attempt += 1
"""
        },
        ("03-backoff",),
        "max_attempts",
        "retries for as long as the provider says 429",
    ),
    Submission(
        "retries-every-error",
        {
            "                if not self.can_handle(exc):\n                    raise\n                error = exc\n": "                error = exc\n"
        },
        ("03-backoff",),
        "not this fallback's business",
        "a 500 on the retry is waited on and retried like a 429",
    ),
    Submission(
        "rate-limit-matched-by-message",
        {RATE_CAN_HANDLE: '        return "rate limit" in str(error).lower()\n'},
        ("03-rate-limit-detect",),
        "can_handle is wrong",
        "matches the words 'rate limit' in the message, as the handout's flaky call invites",
    ),
    Submission(
        "rate-limit-sdk-class-only",
        {RATE_CAN_HANDLE: "        return isinstance(error, openai.RateLimitError)\n"},
        ("03-rate-limit-detect",),
        "can_handle is wrong",
        "misses a 429 from another HTTP library (status_code 429)",
    ),
    Submission(
        "rate-limit-any-status-error",
        {RATE_CAN_HANDLE: "        return isinstance(error, openai.APIStatusError)\n"},
        ("03-rate-limit-detect",),
        "can_handle is wrong",
        "handles every HTTP error status, 500s included",
    ),
    Submission(
        "rate-limit-answer-degraded",
        {
            "                return Answer(await call(within(request, self.clock)), source=self.name, degraded=False)\n": (
                "                return Answer(await call(within(request, self.clock)), source=self.name, degraded=True)\n"
            )
        },
        ("03-backoff",),
        "degraded=False",
        "marks the same model's answer, only later, as degraded",
    ),
    # --- exercise 3: timeouts and templates -----------------------------------------------------------
    Submission(
        "timeout-max-of-timeouts",
        {QUICKER: "        quicker = replace(request, model=self.model, timeout=max(self.timeout, request.timeout))\n"},
        ("03-timeout",),
        "shorter",
        "max instead of min: the retry may wait longer than the call that timed out",
    ),
    Submission(
        "timeout-own-timeout-only",
        {QUICKER: "        quicker = replace(request, model=self.model, timeout=self.timeout)\n"},
        ("03-timeout",),
        "shorter",
        "takes the fallback's timeout even when the request's is shorter",
    ),
    Submission(
        "timeout-same-model",
        {QUICKER: "        quicker = replace(request, timeout=min(self.timeout, request.timeout))\n"},
        ("03-timeout",),
        "cheaper model",
        "retries the model that just timed out",
    ),
    Submission(
        "timeout-answer-not-degraded",
        {
            TIMEOUT_ANSWER: "        return Answer(await call(within(quicker, self.clock)), source=self.name, degraded=False)\n"
        },
        ("03-timeout",),
        "degraded",
        "passes the cheaper model's answer off as the one asked for",
    ),
    Submission(
        "timeout-answer-from-primary",
        {TIMEOUT_ANSWER: "        return Answer(await call(within(quicker, self.clock)), degraded=True)\n"},
        ("03-timeout",),
        "should come from",
        "the answer says source='primary'",
    ),
    Submission(
        "timeout-sdk-class-only",
        {TIMEOUT_CAN_HANDLE: "        return isinstance(error, openai.APITimeoutError)\n"},
        ("03-timeout",),
        "can_handle is wrong",
        "misses Python's TimeoutError (asyncio.timeout, asyncio.wait_for)",
    ),
    Submission(
        "timeout-catches-connection-errors",
        {TIMEOUT_CAN_HANDLE: "        return isinstance(error, openai.APIConnectionError | TimeoutError)\n"},
        ("03-timeout",),
        "can_handle is wrong",
        "APITimeoutError subclasses APIConnectionError: a refused connection is no timeout",
    ),
    Submission(
        "template-catch-all",
        {"        return isinstance(error, PROVIDER_ERRORS)\n": "        return True\n"},
        ("03-template", "03-generated"),
        "bug must reach the caller",
        "the handout's can_handle: a TypeError in our code becomes 'Please try again'",
    ),
    Submission(
        "template-api-errors-only",
        {"        return isinstance(error, PROVIDER_ERRORS)\n": "        return isinstance(error, openai.APIError)\n"},
        ("03-template",),
        "can_handle is wrong",
        "no template for a TimeoutError or an InvalidResponse",
    ),
    Submission(
        "template-not-degraded",
        {TEMPLATE_ANSWER: "        return Answer(self.templates[intent(request.prompt)], source=self.name)\n"},
        ("03-template",),
        "marked degraded",
        "a canned answer passes for a real one",
    ),
    Submission(
        "template-execute-not-async",
        {
            "    async def execute(self, request: Request, error: BaseException, call: Call) -> Answer:\n        ### BEGIN SOLUTION\n"
            + TEMPLATE_ANSWER: "    def execute(self, request: Request, error: BaseException, call: Call) -> Answer:\n        ### BEGIN SOLUTION\n"
            + TEMPLATE_ANSWER
        },
        ("03-template",),
        "not async",
        "a synchronous execute, as in the handout: the boundary cannot await its answer",
    ),
    Submission(
        "intent-greeting-prefix-without-space",
        {INTENT: INTENT.replace('text.startswith(g + " ")', "text.startswith(g)")},
        ("03-template",),
        "intent",
        "'hint' starts with 'hi'",
    ),
    Submission(
        "intent-greeting-substring",
        {
            INTENT: INTENT.replace(
                'any(text == g or text.startswith(g + " ") for g in GREETINGS)', "any(g in text for g in GREETINGS)"
            )
        },
        ("03-template",),
        "intent",
        "finds 'hi' anywhere in the prompt",
    ),
    Submission(
        "intent-greeting-five-words",
        {INTENT: INTENT.replace("len(words) <= 4", "len(words) <= 5")},
        ("03-template",),
        "intent",
        "a greeting of up to 5 words",
    ),
    Submission(
        "intent-unclear-at-three-words",
        {INTENT: INTENT.replace("len(words) < 3", "len(words) <= 3")},
        ("03-template",),
        "intent",
        "a 3-word question is called unclear",
    ),
    Submission(
        "intent-split-on-spaces",
        {INTENT: INTENT.replace('re.findall(r"[a-z]+", prompt.lower())', "prompt.lower().split()")},
        ("03-template",),
        "intent",
        "'hey,' is not 'hey': punctuation sticks to the words",
    ),
    Submission(
        "intent-case-sensitive",
        {INTENT: INTENT.replace("prompt.lower()", "prompt")},
        ("03-template",),
        "intent",
        "'HELLO' has no lower-case words",
    ),
    # --- S1: the deadline ----------------------------------------------------------------------------
    Submission(
        "deadline-not-stamped",
        {
            "        if self.deadline is not None:\n            request = replace(request, deadline=start + self.deadline)\n": ""
        },
        ("03-deadline",),
        "past its deadline",
        "ErrorBoundary(deadline=...) is stored and never used",
    ),
    Submission(
        "primary-without-within",
        {
            "            return Answer(await primary(within(request, self.clock)))\n": (
                "            return Answer(await primary(request))\n"
            )
        },
        ("03-deadline",),
        "past its deadline",
        "the primary keeps its full timeout, past the deadline",
    ),
    Submission(
        "no-deadline-check-before-fallbacks",
        {DEADLINE_GATE: ""},
        ("03-deadline",),
        "deadline has passed",
        "goes on to the template after the deadline",
    ),
    Submission(
        "deadline-check-strict",
        {DEADLINE_GATE: DEADLINE_GATE.replace("self.clock() >= request.deadline", "self.clock() > request.deadline")},
        ("03-deadline",),
        "deadline has passed",
        "> instead of >=: at the deadline itself a fallback still runs",
    ),
    Submission(
        "rate-limit-waits-past-the-deadline",
        {RATE_DEADLINE: ""},
        ("03-deadline",),
        "deadline",
        "ignores the deadline in the rate-limit fallback: a wait ends after it",
    ),
    Submission(
        "rate-limit-waits-until-the-deadline",
        {
            RATE_DEADLINE: RATE_DEADLINE.replace(
                "self.clock() + wait >= request.deadline", "self.clock() + wait > request.deadline"
            )
        },
        ("03-deadline",),
        "must not start",
        "> instead of >=: a wait that ends exactly at the deadline leaves no time for the call, nor for the template",
    ),
    Submission(
        "rate-limit-retry-without-within",
        {
            "                return Answer(await call(within(request, self.clock)), source=self.name, degraded=False)\n": (
                "                return Answer(await call(request), source=self.name, degraded=False)\n"
            )
        },
        ("03-deadline",),
        "within",
        "the retry keeps the request's full timeout",
    ),
    Submission(
        "timeout-retry-without-within",
        {TIMEOUT_ANSWER: "        return Answer(await call(quicker), source=self.name, degraded=True)\n"},
        ("03-deadline",),
        "within",
        "the cheaper model's call keeps its 3-second timeout, past the deadline",
    ),
    # --- S2: the circuit breaker -----------------------------------------------------------------------
    Submission(
        "breaker-all-time-counts",
        {"        self._outcomes: deque[bool] = deque(maxlen=window)": "        self._outcomes: deque[bool] = deque()"},
        ("03-breaker-trip",),
        "last 4 outcomes",
        "counts every outcome since the last change of state, not the window",
    ),
    Submission(
        "breaker-strict-threshold",
        {
            THRESHOLD: THRESHOLD.replace(
                "failures / len(self._outcomes) >= self.failure_threshold",
                "failures / len(self._outcomes) > self.failure_threshold",
            )
        },
        ("03-breaker-trip",),
        "50% threshold",
        "> instead of >=: a failure rate equal to the threshold does not open",
    ),
    Submission(
        "breaker-min-calls-ignored",
        {THRESHOLD: "        if failures / len(self._outcomes) >= self.failure_threshold:\n"},
        ("03-breaker-trip",),
        "went wrong",
        "opens on the first failure of a fresh window (1 of 2 calls)",
    ),
    Submission(
        "breaker-counts-bugs",
        {
            "        except PROVIDER_ERRORS as exc:\n            self._record(failed=True, error=exc)\n": "        except Exception as exc:\n            self._record(failed=True, error=exc)\n"
        },
        ("03-breaker-trip",),
        "bug",
        "a TypeError in our code counts as a provider failure",
    ),
    Submission(
        "breaker-ignores-retry-after",
        {
            "        self._open_until = self.clock() + max(self.cooldown, asked or 0.0)\n": "        self._open_until = self.clock() + self.cooldown\n"
        },
        ("03-breaker-recover",),
        "30 s",
        "the cooldown ignores a 429's retry-after",
    ),
    Submission(
        "breaker-no-probe-limit",
        {PROBE_LIMIT: ""},
        ("03-breaker-recover",),
        "half_open_probes",
        "every call after the cooldown is a probe",
    ),
    Submission(
        "breaker-window-kept-after-recovery",
        {TRIP_CLEAR: '        self._move("open")\n', CLOSE_CLEAR: '                self._move("closed")\n'},
        ("03-breaker-recover",),
        "went wrong",
        "never resets the window: the failures before the outage reopen the circuit at once",
    ),
    Submission(
        "breaker-any-probe-closes",
        {
            HALF_OPEN_RECORD: """        if self.state == "half_open":
            self._release()
            self._outcomes.clear()
            self._move("closed")
"""
        },
        ("03-breaker-recover",),
        "went wrong",
        "a probe closes the circuit whatever its outcome; a failed probe is one failure in a fresh window",
    ),
    Submission(
        "breaker-refusal-says-the-whole-cooldown",
        {
            "                raise CircuitOpen(self._open_until - now)\n": "                raise CircuitOpen(self.cooldown)\n"
        },
        ("03-breaker-trip",),
        "went wrong",
        "CircuitOpen's retry_after is the whole cooldown, not the time left",
    ),
    Submission(
        "breaker-open-until-inclusive",
        {"            if now < self._open_until:\n": "            if now <= self._open_until:\n"},
        ("03-breaker-recover",),
        "went wrong",
        "<= instead of <: still open at the end of the cooldown",
    ),
    Submission(
        "breaker-transitions-not-recorded",
        {"            self.transitions.append((self.clock(), state))\n": ""},
        ("03-breaker-trip",),
        "transitions",
        "changes self.state and forgets self.transitions",
    ),
    Submission(
        "breaker-transition-on-every-call",
        {
            "        self._record(failed=False)\n        return result\n": (
                "        self._record(failed=False)\n"
                "        self.transitions.append((self.clock(), self.state))\n"
                "        return result\n"
            )
        },
        ("03-breaker-trip",),
        "transitions",
        "appends the state after every successful call, changed or not",
    ),
    Submission(
        "breaker-result-not-returned",
        {"        self._record(failed=False)\n        return result\n": "        self._record(failed=False)\n"},
        ("03-breaker-trip",),
        "not the call's result",
        "records the success and forgets to return the answer: every caller gets None",
    ),
    Submission(
        "breaker-probe-count-not-reset",
        {
            '            self._move("half_open")\n            self._probes = 0\n': '            self._move("half_open")\n'
        },
        ("03-breaker-recover",),
        "every slot free",
        "a probe still in flight when the circuit reopened holds its slot in the next half-open period",
    ),
    Submission(
        "breaker-records-while-open",
        {
            '        if self.state == "open":\n            return  # a call admitted before the circuit opened: its outcome is old news\n': ""
        },
        ("03-breaker-recover",),
        "old news",
        "a call that began before the circuit opened and fails after it opens it again: the cooldown starts over",
    ),
    Submission(
        "breaker-probe-count-below-zero",
        {"            self._probes = max(0, self._probes - 1)\n": "            self._probes -= 1\n"},
        ("03-breaker-recover",),
        "old news",
        "a call that began before the circuit opened frees a probe slot it never took: two probes get through",
    ),
    Submission(
        "breaker-bug-keeps-the-probe-slot",
        {BUG_RELEASE: "        except BaseException:\n            raise\n"},
        ("03-breaker-recover", "03-breaker-generated"),
        "frees its slot",
        "a bug during a probe never frees its slot: the circuit refuses every call from then on",
    ),
]


ALTERNATIVES = [
    Submission(
        "handling-fallbacks-precomputed",
        {
            LOOP: """        handling = [fallback for fallback in self.fallbacks if fallback.can_handle(error)]
        for fallback in handling:
"""
            + DEADLINE_GATE
            + """            try:
                answer = await fallback.execute(request, error, primary)
            except Exception:
                self.metrics["fallback_failure"][fallback.name] += 1
                continue
            self.metrics["fallback_success"][fallback.name] += 1
            return answer
        raise error
"""
        },
        why="a list of the fallbacks that can handle the error, computed once, then a loop over it",
    ),
    Submission(
        "fallbacks-inside-except-bare-raise",
        {
            PRIMARY_TRY + LOOP: """        try:
            return Answer(await primary(within(request, self.clock)))
        except Exception as error:
            self.metrics["errors"] += 1
            for fallback in self.fallbacks:
                if not fallback.can_handle(error):
                    continue
                if request.deadline is not None and self.clock() >= request.deadline:
                    raise DeadlineExceeded("the request's deadline passed before a fallback could answer") from error
                try:
                    answer = await fallback.execute(request, error, primary)
                except Exception:
                    self.metrics["fallback_failure"][fallback.name] += 1
                    continue
                self.metrics["fallback_success"][fallback.name] += 1
                return answer
            raise
"""
        },
        why="the fallbacks run inside the except block, and a bare raise re-raises the primary's error",
    ),
    Submission(
        "latency-in-except-and-after",
        {
            OUTER: """        try:
            answer = await self._execute(primary, request, start)
        except BaseException:
            self.metrics["unhandled"] += 1
            self.metrics["latency_seconds"].append(self.clock() - start)
            raise
        self.metrics["latency_seconds"].append(self.clock() - start)
        return answer
"""
        },
        why="no finally: the latency is appended on both ways out, the answer and the exception",
    ),
    Submission(
        "unhandled-counted-where-raised",
        {
            OUTER: """        try:
            return await self._execute(primary, request, start)
        finally:
            self.metrics["latency_seconds"].append(self.clock() - start)
""",
            DEADLINE_GATE: """            if request.deadline is not None and self.clock() >= request.deadline:
                self.metrics["unhandled"] += 1
                raise DeadlineExceeded("the request's deadline passed before a fallback could answer") from error
""",
            "            return answer\n        raise error\n": '            return answer\n        self.metrics["unhandled"] += 1\n        raise error\n',
        },
        why="unhandled is counted where the boundary raises, as the hint does, not in an outer except",
    ),
    Submission(
        "deadline-checked-with-within",
        {DEADLINE_GATE: "            within(request, self.clock)  # raises DeadlineExceeded once no time is left\n"},
        why="before each fallback, within() itself raises DeadlineExceeded when the deadline has passed",
    ),
    Submission(
        "equal-jitter-from-random",
        {JITTER: "        return cap / 2 + self.rng.random() * cap / 2\n"},
        why="equal jitter written with rng.random() instead of rng.uniform",
    ),
    Submission(
        "equal-jitter-uniform-half-to-cap",
        {JITTER: "        return self.rng.uniform(cap / 2, cap)\n"},
        why="equal jitter as one uniform draw between half the cap and the cap",
    ),
    Submission(
        "attempts-in-a-while-loop",
        {
            RETRY_LOOP: """        attempt = 0
        while attempt < self.max_attempts:
            wait = self.delay(attempt, error)
            attempt += 1
            if request.deadline is not None and self.clock() + wait >= request.deadline:
                raise DeadlineExceeded(f"waiting {wait:g} s would pass the deadline") from error
            await self.sleep(wait)
            try:
                return Answer(await call(within(request, self.clock)), source=self.name, degraded=False)
            except Exception as exc:
                if not self.can_handle(exc):
                    raise
                error = exc
        raise error
"""
        },
        why="a while loop with an explicit attempt counter",
    ),
    Submission(
        "timeout-request-built-anew",
        {
            QUICKER: "        quicker = Request(request.prompt, model=self.model, timeout=min(self.timeout, request.timeout), deadline=request.deadline)\n"
        },
        why="a new Request with every field spelled out instead of dataclasses.replace",
    ),
    Submission(
        "intent-by-regex",
        {
            INTENT: """    words = re.findall(r"[a-z]+", prompt.lower())
    greeting = re.compile(r"(hi|hello|hey|good morning|good afternoon|good evening)( [a-z]+)*")
    if len(words) <= 4 and greeting.fullmatch(" ".join(words)):
        return "greeting"
    return "unclear" if len(words) < 3 else "error"
"""
        },
        why="one regular expression for 'a greeting, then whole words'",
    ),
    Submission(
        "breaker-window-as-a-list",
        {
            "        self._outcomes: deque[bool] = deque(maxlen=window)": "        self._outcomes: list[bool] = []",
            CLOSED_RECORD: """        self._outcomes.append(failed)
        del self._outcomes[: -self.window]
        failures = sum(self._outcomes)
""",
        },
        why="a plain list trimmed to the last `window` outcomes instead of a deque(maxlen=window)",
    ),
    Submission(
        "breaker-running-failure-count",
        {
            "        self._probes = 0  # probes in flight while half-open\n        ### END SOLUTION": (
                "        self._probes = 0  # probes in flight while half-open\n"
                "        self._failures = 0  # failures among self._outcomes\n"
                "        ### END SOLUTION"
            ),
            CLOSED_RECORD: """        if len(self._outcomes) == self.window:
            self._failures -= self._outcomes[0]
        self._outcomes.append(failed)
        self._failures += failed
        failures = self._failures
""",
            TRIP_CLEAR: '        self._outcomes.clear()\n        self._failures = 0\n        self._move("open")\n',
            CLOSE_CLEAR: '                self._outcomes.clear()\n                self._failures = 0\n                self._move("closed")\n',
        },
        why="a running count of the window's failures, updated as outcomes enter and leave, instead of sum()",
    ),
]
