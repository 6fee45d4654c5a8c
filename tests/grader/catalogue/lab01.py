# ruff: noqa: E501 (the entries are code: their exact text matters more than the line length)
"""Lab 01: plausible learner mistakes, and correct designs other than the reference's."""

from __future__ import annotations

from . import Submission

# --- pieces of the reference that several entries edit ----------------------------------------

GET_OR_COMPUTE = """        value = self.get(key)
        if value is not None:
            return value, True
        if key in self._in_flight:
            return await asyncio.shield(self._in_flight[key]), True
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            self.put(key, value)
            future.set_result(value)
            return value, False
        finally:
            del self._in_flight[key]
"""

SDK_EXCEPTS = """    except openai.APITimeoutError as exc:
        raise UpstreamError("timeout", f"The model did not answer within {timeout:g} s.") from exc
    except openai.APIConnectionError as exc:
        raise UpstreamError("unavailable", "The connection to the model provider failed.") from exc
"""

VALIDATOR = """        value = value.strip()
        if not value:
            raise ValueError("text must not be empty or only whitespace")
"""

UPSTREAM_HANDLER = """    @app.exception_handler(UpstreamError)
    async def upstream_failed(request: Request, exc: UpstreamError) -> JSONResponse:
        headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after else {}
        return JSONResponse(error_body(exc.kind, exc.message), status_code=ERROR_STATUS.get(exc.kind, 502),
                            headers=headers)
"""

CLASSIFY_ENDPOINT = """        (label, confidence), cached = await through_cache(
            cache, body.text, model, lambda: classify_sentiment(llm, body.text, model=model, timeout=timeout)
        )
"""

CACHE_GET = """        stored_at, value = found
        if self.clock() - stored_at > self.ttl_seconds:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value
"""

CACHE_PUT = """        self._entries[key] = (self.clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
"""

CACHE_LEN = """        now = self.clock()
        return sum(1 for stored_at, _ in self._entries.values() if now - stored_at <= self.ttl_seconds)
"""


MISTAKES = [
    # --- exercise 1: the models -----------------------------------------------------------
    Submission(
        "no-strip",
        {VALIDATOR: '        if not value.strip():\n            raise ValueError("text must not be empty")\n'},
        ("01-request-valid",),
        "not stripped",
        "checks for blank text but returns it unstripped",
    ),
    Submission(
        "length-before-strip",
        {VALIDATOR: '        if len(value) > MAX_TEXT_CHARS:\n            raise ValueError("too long")\n' + VALIDATOR},
        ("01-request-valid",),
        "after stripping",
        "measures the length before stripping",
    ),
    Submission(
        "limit-off-by-one",
        {"        if len(value) > MAX_TEXT_CHARS:": "        if len(value) >= MAX_TEXT_CHARS:"},
        ("01-request-valid",),
        "1,000 characters is the limit",
        ">= instead of >",
    ),
    Submission(
        "blank-check-before-strip",
        {
            VALIDATOR: '        if not value:\n            raise ValueError("text must not be empty")\n'
            "        value = value.strip()\n"
        },
        ("01-request-invalid", "01-api-validation"),
        "whitespace only",
        "tests for emptiness before stripping, so blank text passes",
    ),
    Submission(
        "coerce-to-str",
        {
            '    @field_validator("text")\n': '    @field_validator("text", mode="before")\n',
            "        value = value.strip()\n": "        value = str(value).strip()\n",
        },
        ("01-request-invalid",),
        "text is a number",
        "a 'before' validator that turns anything into a string",
    ),
    Submission(
        "user-id-required",
        {"    user_id: str | None = None\n": "    user_id: str\n"},
        ("01-request-valid",),
        "user_id",
        "makes the optional user_id required",
    ),
    Submission(
        "confidence-unbounded",
        {
            "        if not 0.0 <= value <= 1.0:\n"
            '            raise ValueError(f"confidence is a probability, from 0 to 1, not {value}")\n': ""
        },
        ("01-response-schema",),
        "confidence above 1",
        "no bounds on the confidence",
    ),
    Submission(
        "confidence-exclusive",
        {"        if not 0.0 <= value <= 1.0:": "        if not 0.0 < value < 1.0:"},
        ("01-response-schema",),
        "bounds are inclusive",
        "excludes 0 and 1",
    ),
    Submission(
        "any-label",
        {
            "        if value not in LABELS:\n"
            "            raise ValueError(f\"sentiment must be one of {', '.join(LABELS)}, not {value!r}\")\n": ""
        },
        ("01-response-schema",),
        "label outside",
        "accepts any sentiment string",
    ),
    # --- exercise 2: calling the model -------------------------------------------------------
    Submission(
        "no-logprobs",
        {"            logprobs=True,\n": ""},
        ("01-classify",),
        "math.exp",
        "does not ask for logprobs, so the confidence is a constant",
    ),
    Submission(
        "logprob-not-exp",
        {"confidence = math.exp(logprobs.content[0].logprob)": "confidence = logprobs.content[0].logprob"},
        ("01-classify",),
        "math.exp",
        "uses the log-probability itself as the confidence",
    ),
    Submission(
        "hardcoded-model",
        {"            model=model,\n": "            model=DEFAULT_MODEL,\n"},
        ("01-classify", "01-api-ok"),
        "model it is given",
        "calls DEFAULT_MODEL whatever model it is given",
    ),
    Submission(
        "not-awaiting-the-sdk",
        {
            "        response = await client.chat.completions.create(": "        response = client.chat.completions.create("
        },
        ("01-classify",),
        "never awaited",
        "forgets await on the SDK call",
    ),
    Submission(
        "no-timeout",
        {"            timeout=timeout,\n        )\n": "        )\n"},
        ("01-classify-errors", "01-errors-timeout"),
        "pass timeout=",
        "does not pass the timeout to the SDK call",
    ),
    Submission(
        "connection-error-first",
        {
            SDK_EXCEPTS: """    except openai.APIConnectionError as exc:
        raise UpstreamError("unavailable", "The connection to the model provider failed.") from exc
    except openai.APITimeoutError as exc:
        raise UpstreamError("timeout", f"The model did not answer within {timeout:g} s.") from exc
"""
        },
        ("01-classify-errors",),
        "subclass",
        "catches APIConnectionError before its subclass APITimeoutError",
    ),
    Submission(
        "only-5xx-status-errors",
        {"    except openai.APIStatusError as exc:": "    except openai.InternalServerError as exc:"},
        ("01-classify-errors", "01-errors-upstream"),
        "404",
        "translates 5xx but lets other API errors (a 404) through",
    ),
    Submission(
        "no-json-guard",
        {
            "    except ValueError as exc:  # json.JSONDecodeError is a ValueError: a 200 whose body is not JSON\n"
            '        raise UpstreamError("malformed", "The model provider\'s answer was not valid JSON.") from exc\n': ""
        },
        ("01-classify-malformed",),
        "not JSON",
        "trusts the SDK to have parsed JSON",
    ),
    Submission(
        "no-choices-guard",
        {
            '    choices = getattr(response, "choices", None) or []\n'
            "    content = choices[0].message.content if choices and choices[0].message else None\n": (
                "    choices = response.choices\n    content = choices[0].message.content\n"
            )
        },
        ("01-classify-malformed",),
        "no choices",
        "indexes choices[0] without checking",
    ),
    Submission(
        "no-label-check",
        {"    if label not in LABELS:\n": "    if not label:\n"},
        ("01-classify-malformed",),
        "mangled",
        "accepts whatever text the model produced",
    ),
    Submission(
        "retry-after-dropped",
        {
            '        raise UpstreamError("rate_limited", "The model provider is rate limiting us.",\n'
            "                            float(retry_after) if retry_after else None) from exc\n": (
                '        raise UpstreamError("rate_limited", "The model provider is rate limiting us.") from exc\n'
            )
        },
        ("01-classify-errors", "01-errors-rate-limit"),
        "retry-after",
        "loses the retry-after header",
    ),
    Submission(
        "bug-reported-as-upstream",
        {
            '        raise UpstreamError("malformed", "The model provider\'s answer was not valid JSON.") from exc\n': (
                '        raise UpstreamError("malformed", "The model provider\'s answer was not valid JSON.") from exc\n'
                "    except Exception as exc:\n"
                '        raise UpstreamError("upstream_error", "The call failed.") from exc\n'
            )
        },
        ("01-errors-upstream",),
        "not report it as an upstream error",
        "a catch-all except that blames the provider for a bug of ours",
    ),
    # --- exercise 3: the API -------------------------------------------------------------------
    Submission(
        "no-validation-handler",
        {"    @app.exception_handler(RequestValidationError)\n": ""},
        ("01-api-validation",),
        "not the error format",
        "keeps FastAPI's default {'detail': [...]} for invalid bodies",
    ),
    Submission(
        "validation-400",
        {
            '        return JSONResponse(error_body("invalid_request", message, field=field), status_code=422)': (
                '        return JSONResponse(error_body("invalid_request", message, field=field), status_code=400)'
            )
        },
        ("01-api-validation",),
        "wrong status",
        "answers 400 instead of 422",
    ),
    Submission(
        "validation-no-field",
        {'error_body("invalid_request", message, field=field)': 'error_body("invalid_request", message)'},
        ("01-api-validation",),
        "name the field",
        "the validation error does not say which field",
    ),
    Submission(
        "no-upstream-handler",
        {UPSTREAM_HANDLER: ""},
        ("01-errors-rate-limit", "01-errors-timeout", "01-errors-upstream"),
        "wrong status",
        "upstream failures fall through to the 500 handler",
    ),
    Submission(
        "no-catch-all-handler",
        {"    @app.exception_handler(Exception)\n": ""},
        ("01-errors-upstream",),
        "exception_handler(Exception)",
        "a bug becomes Starlette's plain-text 500",
    ),
    Submission(
        "statuses-swapped",
        {'"unavailable": 503, "upstream_error": 502': '"unavailable": 502, "upstream_error": 503'},
        ("01-errors-upstream",),
        "wrong status",
        "503 and 502 the wrong way round",
    ),
    Submission(
        "timeout-408",
        {'"timeout": 504': '"timeout": 408'},
        ("01-errors-timeout",),
        "wrong status",
        "a gateway timeout answered as the client's 408",
    ),
    Submission(
        "retry-after-as-float",
        {'{"Retry-After": str(math.ceil(exc.retry_after))}': '{"Retry-After": str(exc.retry_after)}'},
        ("01-errors-rate-limit",),
        "whole number of seconds",
        "sends Retry-After: 7.0",
    ),
    Submission(
        "retry-after-rounded-down",
        {'{"Retry-After": str(math.ceil(exc.retry_after))}': '{"Retry-After": str(int(exc.retry_after))}'},
        ("01-errors-rate-limit",),
        "never 0",
        "rounds 0.5 s down to Retry-After: 0",
    ),
    Submission(
        "no-retry-after-header",
        {
            "status_code=ERROR_STATUS.get(exc.kind, 502),\n                            headers=headers)": (
                "status_code=ERROR_STATUS.get(exc.kind, 502))"
            )
        },
        ("01-errors-rate-limit",),
        "no Retry-After",
        "computes the header and forgets to send it",
    ),
    Submission(
        "model-used-default",
        {"model_used=model)": "model_used=DEFAULT_MODEL)"},
        ("01-api-ok",),
        "model_used",
        "reports DEFAULT_MODEL whatever the app calls",
    ),
    Submission(
        "app-calls-default-model",
        {
            "lambda: classify_sentiment(llm, body.text, model=model, timeout=timeout)": (
                "lambda: classify_sentiment(llm, body.text, timeout=timeout)"
            )
        },
        ("01-api-ok",),
        "model it was created with",
        "forgets to pass the app's model to classify_sentiment",
    ),
    Submission(
        "ignores-max-retries",
        {"    llm = client.with_options(max_retries=max_retries)": "    llm = client"},
        ("01-retry",),
        "not retried",
        "never gives the SDK the retry policy",
    ),
    Submission(
        "typo-after-the-call",
        {
            '    choices = getattr(response, "choices", None) or []': '    choices = getattr(respone, "choices", None) or []'
        },
        (
            "01-classify",
            "01-classify-malformed",
            "01-api-ok",
            "01-errors-upstream",
            "01-retry",
            "01-no-500",
            "01-cache-hit",
            "01-single-flight",
        ),
        "NameError: name 'respone' is not defined",
        "a typo on the answer's path: every check that reaches it must name the NameError and its line, "
        "not blame retries or the fault handling",
        everywhere=True,
    ),
    # --- stretch: the cache ------------------------------------------------------------------
    Submission(
        "key-keeps-case",
        {'normalised = " ".join(text.split()).casefold()': 'normalised = " ".join(text.split())'},
        ("01-cache-key", "01-cache-hit"),
        "whitespace or case",
        "no case folding in the key",
    ),
    Submission(
        "key-strips-only",
        {'normalised = " ".join(text.split()).casefold()': "normalised = text.strip().casefold()"},
        ("01-cache-key", "01-cache-hit"),
        "whitespace or case",
        "strips the ends but keeps runs of spaces inside",
    ),
    Submission(
        "key-ignores-model",
        {
            'return f"{model}:{hashlib.sha256(normalised.encode()).hexdigest()}"': (
                "return hashlib.sha256(normalised.encode()).hexdigest()"
            )
        },
        ("01-cache-key", "01-cache-hit"),
        "another model",
        "one key for every model",
    ),
    Submission(
        "lru-refreshed-on-put-only",
        {CACHE_GET: CACHE_GET.replace("        self._entries.move_to_end(key)\n", "")},
        ("01-cache-bounded",),
        "a get must make",
        "a get does not count as a use",
    ),
    Submission(
        "evicts-newest",
        {"            self._entries.popitem(last=False)": "            self._entries.popitem()"},
        ("01-cache-bounded",),
        "just put was evicted",
        "popitem() removes the newest entry",
    ),
    Submission(
        "evicts-one-too-many",
        {
            "        while len(self._entries) > self.max_entries:": "        while len(self._entries) >= self.max_entries:"
        },
        ("01-cache-bounded",),
        "too many entries were evicted",
        "keeps max_entries - 1",
    ),
    Submission(
        "re-put-not-a-use",
        {CACHE_PUT: CACHE_PUT.replace("        self._entries.move_to_end(key)\n", "")},
        ("01-cache-bounded",),
        "just been put again",
        "assigning to an existing OrderedDict key keeps its old position",
    ),
    Submission(
        "ttl-on-wall-clock",
        {
            CACHE_GET: CACHE_GET.replace("self.clock()", "time.monotonic()"),
            CACHE_PUT: CACHE_PUT.replace("self.clock()", "time.monotonic()"),
            CACHE_LEN: CACHE_LEN.replace("self.clock()", "time.monotonic()"),
        },
        ("01-cache-bounded",),
        "injected clock",
        "reads time.monotonic() instead of the injected clock",
    ),
    Submission(
        "ttl-inclusive",
        {
            "        if self.clock() - stored_at > self.ttl_seconds:": "        if self.clock() - stored_at >= self.ttl_seconds:"
        },
        ("01-cache-bounded",),
        "exactly ttl_seconds",
        ">= instead of >: an entry exactly ttl_seconds old is not older than the TTL",
    ),
    Submission(
        "ttl-sliding",
        {
            CACHE_GET: CACHE_GET.replace(
                "        return value\n", "        self._entries[key] = (self.clock(), value)\n        return value\n"
            )
        },
        ("01-cache-bounded",),
        "not from its last get",
        "a get renews the entry's age",
    ),
    Submission(
        "re-put-keeps-age",
        {
            "        self._entries[key] = (self.clock(), value)\n        self._entries.move_to_end(key)\n": (
                "        stored_at = self._entries[key][0] if key in self._entries else self.clock()\n"
                "        self._entries[key] = (stored_at, value)\n        self._entries.move_to_end(key)\n"
            )
        },
        ("01-cache-bounded",),
        "new age",
        "a new value keeps the old entry's age",
    ),
    Submission(
        "len-counts-expired",
        {CACHE_LEN: "        return len(self._entries)\n"},
        ("01-cache-bounded",),
        "count the live entries",
        "len counts expired entries",
    ),
    Submission(
        "no-single-flight",
        {
            GET_OR_COMPUTE: """        value = self.get(key)
        if value is not None:
            return value, True
        value = await compute()
        self.put(key, value)
        return value, False
"""
        },
        ("01-single-flight",),
        "each called the LLM",
        "checks the cache, then computes: a burst of identical misses all call the LLM",
    ),
    Submission(
        "waiters-hang-on-failure",
        {
            "            future.set_exception(exc)\n"
            '            future.exception()  # mark retrieved: no "never retrieved" warning when nobody waited\n': ""
        },
        ("01-single-flight",),
        "never answered",
        "a failed compute leaves its waiters' future unresolved",
    ),
    Submission(
        "failed-call-stays-in-flight",
        {
            """            future.set_result(value)
            return value, False
        finally:
            del self._in_flight[key]
""": """            future.set_result(value)
            del self._in_flight[key]
            return value, False
"""
        },
        ("01-single-flight",),
        "must not be kept",
        "removes the in-flight entry only on success",
    ),
    Submission(
        "waiters-say-not-cached",
        {
            "            return await asyncio.shield(self._in_flight[key]), True": (
                "            return await asyncio.shield(self._in_flight[key]), False"
            )
        },
        ("01-single-flight",),
        "cached=true",
        "requests served by another's call report cached=false",
    ),
    Submission(
        "lock-per-key",
        {
            "        self._in_flight: dict[str, asyncio.Future[Any]] = {}\n": (
                "        self._in_flight: dict[str, asyncio.Future[Any]] = {}\n"
                "        self._locks: dict[str, asyncio.Lock] = {}\n"
            ),
            GET_OR_COMPUTE: """        async with self._locks.setdefault(key, asyncio.Lock()):
            value = self.get(key)
            if value is not None:
                return value, True
            value = await compute()
            self.put(key, value)
            return value, False
""",
        },
        ("01-single-flight",),
        "waiters called the LLM themselves",
        "a lock per key: after a failure each waiter tries again instead of getting the error",
    ),
    Submission(
        "busy-wait-with-time-sleep",
        {
            "            return await asyncio.shield(self._in_flight[key]), True": (
                "            while key in self._in_flight:\n"
                "                time.sleep(0.001)\n"
                "            return self.get(key), True"
            )
        },
        ("01-single-flight",),
        "time.sleep",
        "time.sleep in async code: the loop stops, and the first call never finishes",
    ),
    Submission(
        "caches-the-task",
        {
            GET_OR_COMPUTE: """        task = self.get(key)
        if task is not None:
            return await task, True
        task = asyncio.ensure_future(compute())
        self.put(key, task)
        return await task, False
"""
        },
        ("01-cache-hit", "01-single-flight"),
        "must not be cached",
        "caches the task itself, so a failed call is served from the cache for ever",
    ),
    Submission(
        "not-awaiting-compute",
        {"            value = await compute()\n": "            value = compute()\n"},
        ("01-cache-hit", "01-single-flight"),
        "never awaited",
        "stores the coroutine instead of its result",
    ),
    Submission(
        "cached-flag-always-false",
        {"cached=cached, model_used=model)": "cached=False, model_used=model)"},
        ("01-cache-hit", "01-single-flight"),
        "did not serve repeats",
        "serves from the cache but says cached=false",
    ),
    Submission(
        "endpoint-ignores-cache",
        {
            CLASSIFY_ENDPOINT: """        (label, confidence), cached = (
            await classify_sentiment(llm, body.text, model=model, timeout=timeout), False
        )
"""
        },
        ("01-cache-hit", "01-single-flight"),
        "did not serve repeats",
        "calls the model directly, ignoring the cache it was given",
    ),
]


ALTERNATIVES = [
    Submission(
        "upstream-error-subclasses",
        {
            "async def classify_sentiment(": """class RateLimited(UpstreamError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__("rate_limited", message, retry_after)


class UpstreamTimeout(UpstreamError):
    def __init__(self, message: str) -> None:
        super().__init__("timeout", message)


class Malformed(UpstreamError):
    def __init__(self, message: str) -> None:
        super().__init__("malformed", message)


async def classify_sentiment(""",
            '        raise UpstreamError("rate_limited", "The model provider is rate limiting us.",\n': (
                '        raise RateLimited("The model provider is rate limiting us.",\n'
            ),
            'raise UpstreamError("timeout", f"The model did not answer': 'raise UpstreamTimeout(f"The model did not answer',
            'raise UpstreamError("malformed", "The model provider\'s answer': "raise Malformed(\"The model provider's answer",
            'raise UpstreamError("malformed", f"The model answered': 'raise Malformed(f"The model answered',
        },
        why="a subclass of UpstreamError per kind",
    ),
    Submission(
        "error-table",
        {
            """    except openai.RateLimitError as exc:
        retry_after = exc.response.headers.get("retry-after")
        raise UpstreamError("rate_limited", "The model provider is rate limiting us.",
                            float(retry_after) if retry_after else None) from exc
"""
            + SDK_EXCEPTS
            + """    except openai.APIStatusError as exc:
        raise UpstreamError("upstream_error", f"The model provider answered {exc.status_code}.") from exc
""": """    except openai.APIError as exc:
        kinds = [
            (openai.RateLimitError, "rate_limited"),
            (openai.APITimeoutError, "timeout"),
            (openai.APIConnectionError, "unavailable"),
            (openai.APIStatusError, "upstream_error"),
        ]
        kind = next((k for cls, k in kinds if isinstance(exc, cls)), "upstream_error")
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if kind == "rate_limited" and response is not None else None
        raise UpstreamError(kind, f"The model call failed: {kind}.", float(header) if header else None) from exc
"""
        },
        why="one except clause and a table from SDK exception classes to kinds",
    ),
    Submission(
        "pydantic-constraints",
        {
            "class SentimentRequest(BaseModel):": (
                "from typing import Annotated\n\nfrom pydantic import StringConstraints\n\n\n"
                "class SentimentRequest(BaseModel):"
            ),
            '    text: str = Field(description=f"The text to classify, 1 to {MAX_TEXT_CHARS} characters after '
            'stripping.")': (
                "    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, "
                "max_length=MAX_TEXT_CHARS)]"
            ),
            '    @field_validator("text")\n': "",
            "    def text_is_classifiable(cls, value: str) -> str:": "    def text_is_classifiable_unused(cls, value: str) -> str:",
        },
        why="Pydantic's own constraints instead of a validator",
    ),
    Submission(
        "timeout-by-wait-for",
        {
            "        response = await client.chat.completions.create(": (
                "        response = await asyncio.wait_for(client.chat.completions.create("
            ),
            "            timeout=timeout,\n        )\n": "        ), timeout)\n",
            "    except openai.APITimeoutError as exc:": "    except (openai.APITimeoutError, TimeoutError) as exc:",
        },
        why="asyncio.wait_for enforces the timeout instead of the SDK",
    ),
    Submission(
        "errors-in-the-endpoint",
        {
            UPSTREAM_HANDLER: "",
            CLASSIFY_ENDPOINT: """        try:
            (label, confidence), cached = await through_cache(
                cache, body.text, model, lambda: classify_sentiment(llm, body.text, model=model, timeout=timeout)
            )
        except UpstreamError as exc:
            headers = {"Retry-After": str(-int(-exc.retry_after // 1))} if exc.retry_after else {}
            return JSONResponse(error_body(exc.kind, exc.message), status_code=ERROR_STATUS[exc.kind],
                                headers=headers)
""",
        },
        why="the endpoint catches UpstreamError and answers itself, no exception handler",
    ),
    Submission(
        "blake2-key",
        {
            '        normalised = " ".join(text.split()).casefold()\n'
            '        return f"{model}:{hashlib.sha256(normalised.encode()).hexdigest()}"\n': (
                '        normalised = " ".join(text.lower().split())\n'
                '        return hashlib.blake2b(f"{model}\\x00{normalised}".encode(), digest_size=16).hexdigest()\n'
            )
        },
        why="lower() instead of casefold(), the model inside the hash, blake2b",
    ),
    Submission(
        "dict-lru-purging-expired",
        {
            "        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()\n": (
                "        self._entries: dict[str, tuple[float, Any]] = {}\n"
            ),
            CACHE_GET: """        stored_at, value = found
        del self._entries[key]
        if self.clock() - stored_at > self.ttl_seconds:
            return None
        self._entries[key] = (stored_at, value)  # re-inserted: now the most recently used
        return value
""",
            CACHE_PUT: """        now = self.clock()
        for old in [k for k, (t, _) in self._entries.items() if now - t > self.ttl_seconds]:
            del self._entries[old]
        self._entries.pop(key, None)
        self._entries[key] = (now, value)
        while len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]
""",
            CACHE_LEN: """        now = self.clock()
        for old in [k for k, (t, _) in self._entries.items() if now - t > self.ttl_seconds]:
            del self._entries[old]
        return len(self._entries)
""",
        },
        why="a plain dict in insertion order as the LRU list; expired entries purged on put and len",
    ),
    Submission(
        "single-flight-with-tasks",
        {
            GET_OR_COMPUTE: """        value = self.get(key)
        if value is not None:
            return value, True
        task = self._in_flight.get(key)
        if task is not None:
            return await asyncio.shield(task), True
        task = asyncio.ensure_future(compute())
        self._in_flight[key] = task
        try:
            value = await asyncio.shield(task)
        finally:
            self._in_flight.pop(key, None)
        self.put(key, value)
        return value, False
"""
        },
        why="in-flight asyncio Tasks instead of bare futures",
    ),
    Submission(
        "single-flight-with-events",
        {
            GET_OR_COMPUTE: """        value = self.get(key)
        if value is not None:
            return value, True
        if key in self._in_flight:
            done, box = self._in_flight[key]
            await done.wait()
            if "error" in box:
                raise box["error"]
            return box["value"], True
        done, box = asyncio.Event(), {}
        self._in_flight[key] = (done, box)
        try:
            box["value"] = await compute()
        except Exception as exc:
            box["error"] = exc
            raise
        finally:
            del self._in_flight[key]
            done.set()
        self.put(key, box["value"])
        return box["value"], False
"""
        },
        why="an asyncio.Event per key and a box for the result or the error",
    ),
]
