"""Checks for lab 01, the production sentiment API.

The learner's app is driven in process (ASGI transport) against an in-process mock LLM,
whose fault script makes the app's *upstream* calls fail in exactly the way a check
needs; the mock's ledger proves how many upstream calls were made.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, Literal

import httpx2
from pydantic import BaseModel, Field, ValidationError

from mock_llm import InProcessMock, Settings

from .. import aio
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import Clock, call

MODEL = "gpt-3.5-turbo"
TEXTS = ["I love this keyboard, it is excellent.", "The blender is terrible.", "The kettle arrived on Monday."]


def upstream_calls(mock: InProcessMock) -> int:
    return int(mock.ledger()["total"]["calls"])


async def post(app: Any, body: Any, raw: bytes | None = None) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://service", timeout=30) as http:
        if raw is not None:
            return await http.post("/classify", content=raw, headers={"content-type": "application/json"})
        return await http.post("/classify", json=body)


def make_app(ns: Namespace, mock: InProcessMock, **kwargs: Any) -> Any:
    kwargs.setdefault("model", MODEL)
    return call("create_app(...)", ns.create_app, mock.async_client(), **kwargs)


def error_shape(response: httpx2.Response, status: int | tuple[int, ...], code: str | None, what: str) -> None:
    statuses = (status,) if isinstance(status, int) else status
    try:
        body = response.json()
    except ValueError:
        body = response.text[:200]
    ok = (
        response.status_code in statuses
        and isinstance(body, dict)
        and isinstance(body.get("error"), dict)
        and isinstance(body["error"].get("message"), str)
        and (code is None or body["error"].get("code") == code)
        and "Traceback" not in response.text
    )
    if not ok:
        raise CheckFailed(
            f"{what}: wrong status or error format.",
            input=what,
            expected=f'status {" or ".join(map(str, statuses))} with {{"error": {{"code": {code!r}, "message": ...}}}}',
            actual=f"status {response.status_code}, body {body!r}",
        )


def stripped(reference: Namespace, text: str) -> str:
    return str(reference.SentimentRequest(text=text).text)


# --- models --------------------------------------------------------------------------------


@check(
    "01-request-valid",
    1,
    "SentimentRequest accepts good input and strips the text",
    "Use @field_validator('text') with @classmethod; return value.strip().",
)
def request_valid(learner: Namespace, ref: Reference) -> None:
    for text in ("  Great product!  ", "x" * 1000, " " * 5 + "y" * 1000 + "\n"):
        try:
            got = learner.SentimentRequest(text=text)
        except ValidationError as exc:
            raise CheckFailed(
                "A valid text was rejected.", input=text[:60], expected="accepted", actual=str(exc).splitlines()[0]
            ) from None
        expected = ref.value(("stripped", text), partial(stripped, text=text))
        if got.text != expected:
            raise CheckFailed(
                "The text is not stripped.", input=text[:60], expected=expected[:60], actual=got.text[:60]
            )
    if call("SentimentRequest", learner.SentimentRequest, text="ok", user_id="u1").user_id != "u1":
        raise CheckFailed("user_id is lost.", input={"text": "ok", "user_id": "u1"}, expected="u1")


@check(
    "01-request-invalid",
    2,
    "SentimentRequest rejects empty, blank, too long, missing and non-string text",
    "Strip first, then raise ValueError for an empty result or one over MAX_TEXT_CHARS characters.",
)
def request_invalid(learner: Namespace, ref: Reference) -> None:
    cases: list[dict[str, Any]] = [
        {"text": ""},
        {"text": "   \n\t "},
        {"text": "x" * 1001},
        {},
        {"text": 42},
        {"text": None},
        {"text": ["a"]},
    ]
    for body in cases:
        try:
            learner.SentimentRequest(**body)
        except ValidationError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:
            raise CheckFailed(
                "Invalid input must raise a ValidationError (FastAPI turns it into a 422).",
                input=body,
                expected="ValidationError",
                actual=type(exc).__name__,
            ) from None
        raise CheckFailed(
            "Invalid input was accepted.",
            input={k: str(v)[:40] for k, v in body.items()},
            expected="ValidationError",
            actual="accepted",
        )


@check(
    "01-response-schema",
    1,
    "SentimentResponse has the four fields, a fixed label set and confidence in [0, 1]",
    "sentiment: Literal['Positive', 'Negative', 'Neutral']; confidence: float = Field(ge=0, le=1).",
)
def response_schema(learner: Namespace, ref: Reference) -> None:
    good = {"sentiment": "Positive", "confidence": 0.9, "cached": False, "model_used": MODEL}
    got = call("SentimentResponse", learner.SentimentResponse, **good)
    if got.model_dump() != ref.value(("response", good), lambda r: r.SentimentResponse(**good).model_dump()):
        raise CheckFailed("Wrong fields.", input=good, expected=good, actual=got.model_dump())
    for bad in (
        {**good, "sentiment": "Happy"},
        {**good, "confidence": 1.5},
        {**good, "confidence": -0.1},
        {k: v for k, v in good.items() if k != "cached"},
    ):
        try:
            learner.SentimentResponse(**bad)
        except ValidationError:
            continue
        raise CheckFailed("An invalid response was accepted.", input=bad, expected="ValidationError", actual="accepted")


# --- calling the model -------------------------------------------------------------------------


@check(
    "01-classify",
    2,
    "classify_sentiment returns the model's label and a confidence from logprobs",
    "Call client.chat.completions.create(..., logprobs=True); confidence = math.exp(first token's logprob).",
)
def classify(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.0))

    async def run() -> list[tuple[str, float]]:
        client = mock.async_client()
        return [await learner.classify_sentiment(client, t, model=MODEL, timeout=5.0) for t in TEXTS]

    got = aio.run(run())
    expected = reference_labels(ref)
    for text, (label, confidence), (ref_label, ref_conf) in zip(TEXTS, got, expected, strict=True):
        if label != ref_label:
            raise CheckFailed("Wrong label.", input=text, expected=ref_label, actual=label)
        if not isinstance(confidence, float) or abs(confidence - ref_conf) > 0.02:
            raise CheckFailed(
                "The confidence should be the label token's probability.",
                input=text,
                expected=round(ref_conf, 3),
                actual=confidence,
            )
    ledger = mock.ledger()["models"]
    if set(ledger) != {MODEL} or ledger[MODEL]["calls"] != len(TEXTS):
        raise CheckFailed(
            "Expected one chat completion per text with the given model.",
            expected={MODEL: len(TEXTS)},
            actual={m: v["calls"] for m, v in ledger.items()},
        )


def reference_labels(ref: Reference) -> list[tuple[str, float]]:
    """The reference's (label, confidence) for TEXTS, on a fresh mock."""

    async def run(reference: Namespace) -> list[tuple[str, float]]:
        client = InProcessMock(Settings(latency=0.0)).async_client()
        return [await reference.classify_sentiment(client, t, model=MODEL, timeout=5.0) for t in TEXTS]

    labels: list[tuple[str, float]] = ref.value(("labels", MODEL, tuple(TEXTS)), lambda r: aio.run(run(r)))
    return labels


class Answer(BaseModel):
    """What POST /classify must answer, as the lab's text specifies it."""

    sentiment: Literal["Positive", "Negative", "Neutral"]
    confidence: float = Field(ge=0.0, le=1.0)
    cached: bool
    model_used: str


def _upstream_kind(learner: Namespace, fault: str, timeout: float = 5.0) -> str:
    mock = InProcessMock(Settings(latency=0.0, hang_seconds=1.0))
    mock.set_faults(script=[fault])

    async def run() -> str:
        try:
            await learner.classify_sentiment(mock.async_client(), TEXTS[0], model=MODEL, timeout=timeout)
        except NotImplementedError:
            raise
        except Exception as exc:
            if type(exc).__name__ != "UpstreamError":
                return f"{type(exc).__name__} (not an UpstreamError)"
            return str(getattr(exc, "kind", "?"))
        return "no error"

    return aio.run(run())


@check(
    "01-classify-malformed",
    1,
    "a malformed 200 (not JSON, no choices, a mangled label) is UpstreamError('malformed')",
    "Catch ValueError (json.JSONDecodeError) around the call; check choices and that the label is in LABELS.",
)
def classify_malformed(learner: Namespace, ref: Reference) -> None:
    for fault in ("malformed_json", "empty", "corrupted"):
        kind = _upstream_kind(learner, fault)
        if kind != "malformed":
            raise CheckFailed(
                "A malformed answer was not caught.",
                input=f"upstream fault {fault!r}",
                expected="UpstreamError(kind='malformed')",
                actual=kind,
            )


@check(
    "01-classify-errors",
    1,
    "SDK errors become UpstreamError kinds: rate_limited, timeout, unavailable, upstream_error",
    "except openai.RateLimitError / APITimeoutError / APIConnectionError / APIStatusError, in that order.",
)
def classify_errors(learner: Namespace, ref: Reference) -> None:
    expected = {
        "rate_limit": "rate_limited",
        "timeout": "timeout",
        "truncated": "unavailable",
        "server_error": "upstream_error",
        "unavailable": "upstream_error",
    }
    for fault, kind in expected.items():
        # a short timeout only where the fault is a hang: elsewhere a slow machine must not turn into a timeout
        got = _upstream_kind(learner, fault, timeout=0.2 if fault == "timeout" else 5.0)
        if got != kind:
            raise CheckFailed(
                "Wrong error translation (the SDK client has max_retries=0 here).",
                input=f"upstream fault {fault!r}",
                expected=f"UpstreamError(kind={kind!r})",
                actual=got,
            )


# --- the cache -------------------------------------------------------------------------------


@check(
    "01-cache-key",
    1,
    "ResponseCache.key normalises whitespace and case and includes the model",
    "' '.join(text.split()).casefold(), then hash it together with the model name.",
    part="stretch",
)
def cache_key(learner: Namespace, ref: Reference) -> None:
    key = learner.ResponseCache.key
    same = [("I love it", MODEL), ("  i LOVE   it\n", MODEL)]
    if call("ResponseCache.key", key, *same[0]) != call("ResponseCache.key", key, *same[1]):
        raise CheckFailed(
            "Texts differing only in whitespace or case must share a key.",
            input=same,
            expected="equal keys",
            actual="different keys",
        )
    for a, b in ((("I love it", MODEL), ("I love it", "gpt-4")), (("I love it", MODEL), ("I loved it", MODEL))):
        if key(*a) == key(*b):
            raise CheckFailed(
                "Different models or texts must not share a key.",
                input=(a, b),
                expected="different keys",
                actual="equal keys",
            )


@check(
    "01-cache-bounded",
    1,
    "ResponseCache evicts the least recently used entry and expires entries after the TTL",
    "OrderedDict: move_to_end on get, popitem(last=False) when over max_entries; compare clock() - stored_at.",
    part="stretch",
)
def cache_bounded(learner: Namespace, ref: Reference) -> None:
    clock = Clock()
    cache = call("ResponseCache(...)", learner.ResponseCache, max_entries=2, ttl_seconds=60.0, clock=clock)
    call("put", cache.put, "a", 1)
    call("put", cache.put, "b", 2)
    call("get", cache.get, "a")
    call("put", cache.put, "c", 3)
    got = {k: cache.get(k) for k in "abc"}
    if got != {"a": 1, "b": None, "c": 3}:
        raise CheckFailed(
            "Wrong eviction.",
            input="max_entries=2; put a, b; get a; put c",
            expected={"a": 1, "b": None, "c": 3},
            actual=got,
        )
    clock.now += 61
    if (late := cache.get("a")) is not None or len(cache) != 0:
        raise CheckFailed(
            "Entries must expire after ttl_seconds.",
            input="61 s later, ttl 60 s",
            expected="get -> None, len 0",
            actual=f"get -> {late!r}, len {len(cache)}",
        )


# --- the API --------------------------------------------------------------------------------


@check(
    "01-api-ok",
    2,
    "POST /classify answers 200 with the SentimentResponse fields and the model's label",
    "Return SentimentResponse(sentiment=..., confidence=..., cached=..., model_used=model).",
)
def api_ok(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.0))
    ref_labels = reference_labels(ref)

    async def run() -> list[httpx2.Response]:
        app = make_app(learner, mock, timeout=5.0)
        return [await post(app, {"text": t}) for t in TEXTS]

    for text, response, (label, _) in zip(TEXTS, aio.run(run()), ref_labels, strict=True):
        if response.status_code != 200:
            raise CheckFailed(
                "A valid request failed.",
                input=text,
                expected=200,
                actual=f"{response.status_code} {response.text[:200]}",
            )
        try:
            body = Answer(**response.json())
        except (ValidationError, TypeError, ValueError) as exc:
            raise CheckFailed(
                "The answer does not match SentimentResponse.", input=text, actual=response.text[:200]
            ) from exc
        if (body.sentiment, body.cached, body.model_used) != (label, False, MODEL):
            raise CheckFailed(
                "Wrong answer.",
                input=text,
                expected=(label, False, MODEL),
                actual=(body.sentiment, body.cached, body.model_used),
            )


@check(
    "01-api-validation",
    2,
    "invalid bodies get 422 in the error format, never a 500",
    "Register @app.exception_handler(RequestValidationError) returning {'error': {'code': 'invalid_request', ...}}.",
)
def api_validation(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.0))
    bodies: list[tuple[str, Any, bytes | None]] = [
        ("empty text", {"text": ""}, None),
        ("blank text", {"text": "   "}, None),
        ("1001 characters", {"text": "x" * 1001}, None),
        ("missing text", {}, None),
        ("text is a number", {"text": 42}, None),
        ("not JSON", None, b"{not json"),
    ]

    async def run() -> list[httpx2.Response]:
        app = make_app(learner, mock, timeout=5.0)
        return [await post(app, body, raw) for _, body, raw in bodies]

    for (what, _, _), response in zip(bodies, aio.run(run()), strict=True):
        error_shape(response, 422, "invalid_request", what)
    if upstream_calls(mock):
        raise CheckFailed(
            "Invalid input reached the LLM.",
            expected="0 upstream calls",
            actual=f"{upstream_calls(mock)} upstream calls",
        )


@check(
    "01-cache-hit",
    2,
    "a repeated (or re-spaced, re-cased) text is answered from the cache: one upstream call",
    "Look up ResponseCache.key(text, model) before calling the model; set cached=True on a hit.",
    part="stretch",
)
def cache_hit(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.0))

    async def run() -> list[httpx2.Response]:
        app = make_app(learner, mock, timeout=5.0, cache=call("ResponseCache()", learner.ResponseCache))
        return [await post(app, {"text": t}) for t in ("Great service!", "Great service!", "  great   SERVICE! ")]

    responses = aio.run(run())
    flags = [r.json().get("cached") if r.status_code == 200 else r.status_code for r in responses]
    if flags != [False, True, True] or upstream_calls(mock) != 1:
        raise CheckFailed(
            "The cache did not serve repeats.",
            input=["Great service!", "Great service!", "  great   SERVICE! "],
            expected="cached: [False, True, True], 1 upstream call",
            actual=f"cached: {flags}, {upstream_calls(mock)} upstream calls",
        )
    shared = call("ResponseCache()", learner.ResponseCache)

    async def two_models() -> list[httpx2.Response]:
        first = make_app(learner, mock, model="gpt-3.5-turbo", cache=shared, timeout=5.0)
        second = make_app(learner, mock, model="gpt-4", cache=shared, timeout=5.0)
        return [await post(first, {"text": "Fine."}), await post(second, {"text": "Fine."})]

    mixed = aio.run(two_models())
    if [r.json().get("cached") for r in mixed] != [False, False]:
        raise CheckFailed(
            "An answer cached for one model was served for another.",
            input="same text, gpt-3.5-turbo then gpt-4, one shared cache",
            expected=[False, False],
            actual=[r.json().get("cached") for r in mixed],
        )


@check(
    "01-single-flight",
    2,
    "concurrent identical requests share one upstream call",
    "Keep a dict of in-flight futures per key; later callers await the first caller's future.",
    part="stretch",
)
def single_flight(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.05))  # ~10 ms upstream, so the requests overlap

    async def run() -> list[httpx2.Response]:
        app = make_app(learner, mock, timeout=5.0, cache=call("ResponseCache()", learner.ResponseCache))
        return await asyncio.gather(*(post(app, {"text": "What a wonderful day"}) for _ in range(20)))

    responses = aio.run(run())
    statuses = sorted({r.status_code for r in responses})
    if statuses != [200]:
        raise CheckFailed("Some concurrent requests failed.", expected=[200], actual=statuses)
    if upstream_calls(mock) != 1:
        raise CheckFailed(
            "Concurrent identical requests each called the LLM.",
            input="20 identical requests at once",
            expected="1 upstream call",
            actual=f"{upstream_calls(mock)} upstream calls",
        )
    cached = sum(bool(r.json().get("cached")) for r in responses)
    if cached != 19:
        raise CheckFailed("Requests served by another's call should say cached=true.", expected=19, actual=cached)


def _fault_response(learner: Namespace, fault: str, **kwargs: Any) -> httpx2.Response:
    mock = InProcessMock(Settings(latency=0.0, hang_seconds=1.0))
    mock.set_faults(script=[fault])
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 0.2 if fault.startswith("timeout") else 5.0)

    async def run() -> httpx2.Response:
        return await post(make_app(learner, mock, **kwargs), {"text": "Is this fine?"})

    return aio.run(run())


@check(
    "01-errors-rate-limit",
    1,
    "an upstream rate limit becomes 429 with Retry-After, in the error format",
    "Map UpstreamError('rate_limited') to 429 and copy its retry_after into a Retry-After header.",
)
def errors_rate_limit(learner: Namespace, ref: Reference) -> None:
    response = _fault_response(learner, "rate_limit; retry_after=7")
    error_shape(response, 429, "rate_limited", "upstream 429 with retry-after: 7")
    if response.headers.get("retry-after") != "7":
        raise CheckFailed(
            "The client should learn when to retry.",
            expected="Retry-After: 7",
            actual=response.headers.get("retry-after"),
        )


@check(
    "01-errors-timeout",
    1,
    "an upstream that hangs past the timeout becomes 504 within the timeout",
    "Pass timeout= to the SDK call; map UpstreamError('timeout') to 504.",
)
def errors_timeout(learner: Namespace, ref: Reference) -> None:
    error_shape(_fault_response(learner, "timeout; hang=1"), 504, "timeout", "upstream hangs 1 s, timeout 0.2 s")


@check(
    "01-errors-upstream",
    1,
    "upstream 5xx, cut connections and malformed answers become 502/503, not 500",
    "Map upstream_error and malformed to 502 and unavailable to 503, all in the error format.",
)
def errors_upstream(learner: Namespace, ref: Reference) -> None:
    cases = {
        "server_error": (502, "upstream_error"),
        "unavailable": (502, "upstream_error"),
        "truncated": (503, "unavailable"),
        "malformed_json": (502, "malformed"),
        "empty": (502, "malformed"),
        "corrupted": (502, "malformed"),
    }
    for fault, (status, code) in cases.items():
        error_shape(_fault_response(learner, fault), status, code, f"upstream fault {fault!r}")
