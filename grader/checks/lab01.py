"""Checks for lab 01, the production sentiment API.

The learner's app is driven in process (ASGI transport) against an in-process mock LLM.
The SDK client the app gets sends its requests through :class:`Upstream`, which counts
them, notes the model each asks for, and can hold them until every concurrent request
has arrived; the mock's fault script makes those *upstream* calls fail in exactly the way
a check needs. No verdict depends on timing: concurrency is arranged by holding requests,
not by latency, and expiry by an injected clock.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from functools import partial
from types import SimpleNamespace
from typing import Any, Literal

import httpx2
import openai
from pydantic import BaseModel, Field, ValidationError

from mock_llm import InProcessMock, Settings
from mock_llm.inprocess import BASE_URL, TimedASGITransport

from .. import aio
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check
from .common import (
    IDLE_SECONDS,
    Clock,
    Idleness,
    call,
    names_unawaited,
    raised_where,
    run_async,
    until_done_or_idle,
)

MODEL = "gpt-3.5-turbo"  # the notebook's DEFAULT_MODEL
OTHER_MODEL = "gpt-4"  # not the default: code that ignores its `model` argument shows here
TEXTS = ["I love this keyboard, it is excellent.", "The blender is terrible.", "The kettle arrived on Monday."]
MAX_TOKENS = 10  # "max_tokens small": the answer is one word (the handout used 10)
HERD = 20  # identical requests sent at once
SETTLE_STEPS = 1000  # event-loop turns for concurrent requests to reach the upstream gate or the in-flight wait


# --- the upstream side: an SDK client that counts, holds and fails requests --------------------


class Upstream:
    """An ``openai.AsyncOpenAI`` on an in-process mock, watched by the check.

    ``requests`` counts every upstream HTTP request (retries included) and ``models`` the
    model each asked for; with ``hold=True`` requests wait at the transport until
    :meth:`release`, so a check can have all concurrent requests in flight at once.
    """

    def __init__(self, *, hold: bool = False, faults: list[str | None] | None = None) -> None:
        self.mock = InProcessMock(Settings(latency=0.0, hang_seconds=1.0))
        if faults:
            self.mock.set_faults(script=faults)
        self.requests = 0
        self.models: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self._released = asyncio.Event()
        if not hold:
            self._released.set()
        upstream = self

        class Watched(TimedASGITransport):
            async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
                upstream.requests += 1
                body = _body_of(request)
                upstream.bodies.append(body)
                upstream.models.append(str(body.get("model", "?")))
                await upstream._released.wait()
                return await super().handle_async_request(request)

        transport = Watched(app=self.mock.app, client=("127.0.0.1", 50000))
        self.client = openai.AsyncOpenAI(
            base_url=BASE_URL, api_key="mock-key", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
        )

    def release(self) -> None:
        self._released.set()


def _body_of(request: httpx2.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content)
    except (ValueError, httpx2.RequestNotRead):
        return {}
    return body if isinstance(body, dict) else {}


class _ExplodingCompletions:
    async def create(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated bug: the client call raised an exception that is no SDK error")


class BrokenClient:
    """Stands in for the SDK client; its chat call raises an exception no SDK error class covers (a bug)."""

    def __init__(self) -> None:
        self.chat = SimpleNamespace(completions=_ExplodingCompletions())

    def with_options(self, **kwargs: Any) -> BrokenClient:
        return self

    copy = with_options


async def settle() -> None:
    """Let every runnable task advance until it waits on something (no wall-clock time involved)."""
    for _ in range(SETTLE_STEPS):
        await asyncio.sleep(0)


# --- the service side ---------------------------------------------------------------------


async def post(app: Any, body: Any, raw: bytes | None = None) -> httpx2.Response:
    """POST /classify to the learner's app; an exception the app let out is kept for :func:`shown`.

    Starlette answers such an exception with a 500 (or the app's own handler for Exception)
    and raises it on: the 500 alone would hide which line of the notebook failed.
    """
    raised: list[Exception] = []

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            raised.append(exc)
            raise

    transport = httpx2.ASGITransport(app=watched, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://service", timeout=30) as http:
        if raw is not None:
            response = await http.post("/classify", content=raw, headers={"content-type": "application/json"})
        else:
            response = await http.post("/classify", json=body)
    if raised:
        response.extensions["app_exception"] = raised[0]
    return response


def make_app(ns: Namespace, client: Any, **kwargs: Any) -> Any:
    """The learner's ``create_app(client, **kwargs)``; ``client`` may be an Upstream or an InProcessMock."""
    if isinstance(client, Upstream):
        client = client.client
    elif isinstance(client, InProcessMock):
        client = client.async_client()
    kwargs.setdefault("model", MODEL)
    return call("create_app(...)", ns.create_app, client, **kwargs)


def body_of(response: httpx2.Response) -> Any:
    """The response's JSON, or its text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return response.text[:200]


def field(response: httpx2.Response, name: str) -> Any:
    body = body_of(response)
    return body.get(name) if isinstance(body, dict) else None


def shown(response: httpx2.Response) -> str:
    """The response as a learner reads it, and the exception behind it when the app raised one."""
    return f"status {response.status_code}, body {body_of(response)!r}"[:300] + raised_note([response])


def raised_note(outcomes: Sequence[object]) -> str:
    """ "; the app raised: ..." for the first of ``outcomes`` (responses) behind which the app raised."""
    for outcome in outcomes:
        raised = outcome.extensions.get("app_exception") if isinstance(outcome, httpx2.Response) else None
        if raised is not None:
            return f"; the app raised: {raised_where(raised)}"
    return ""


def error_shape(
    response: httpx2.Response, status: int | tuple[int, ...], code: str | None, what: str, why: str = ""
) -> None:
    statuses = (status,) if isinstance(status, int) else status
    body = body_of(response)
    ok = (
        response.status_code in statuses
        and isinstance(body, dict)
        and isinstance(body.get("error"), dict)
        and isinstance(body["error"].get("message"), str)
        and (code is None or body["error"].get("code") == code)
        and "Traceback" not in response.text
    )
    if not ok:
        if response.status_code in statuses:
            problem = "right status, but the body is not the error format"
        elif response.status_code == 200:
            problem = "the failure was answered as a success"
        else:
            problem = "wrong status"
        raise CheckFailed(
            f"{what}: {problem}." + (f" {why}" if why else ""),
            input=what,
            expected=f"status {' or '.join(map(str, statuses))} with "
            f'{{"error": {{"code": {"..." if code is None else repr(code)}, "message": ...}}}}',
            actual=shown(response),
        )


def stripped(reference: Namespace, text: str) -> str:
    return str(reference.SentimentRequest(text=text).text)


# --- models --------------------------------------------------------------------------------


@check(
    "01-request-valid",
    1,
    "SentimentRequest accepts good input and strips the text",
    "Use @field_validator('text') with @classmethod: strip first, then check the length of the stripped text "
    "(up to MAX_TEXT_CHARS is fine); user_id is optional (default None).",
)
def request_valid(learner: Namespace, ref: Reference) -> None:
    for text in ("  Great product!  ", "x" * 1000, " " * 5 + "y" * 1000 + "\n"):
        try:
            got = learner.SentimentRequest(text=text)
        except ValidationError as exc:
            others = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc") and e["loc"][0] != "text"})
            if others:
                why = f"only text is required; {', '.join(others)} must be optional"
            elif len(text.strip()) <= 20:
                why = "a short text with spaces around it is valid once stripped"
            elif text.strip() == text:
                why = "1,000 characters is the limit, not over it"
            else:
                why = "it is 1,000 characters once stripped: check the length after stripping"
            raise CheckFailed(
                f"A valid text was rejected ({why}).",
                input=f"{text[:30]!r}... ({len(text)} characters, {len(text.strip())} after stripping)",
                expected="accepted",
                actual=str(exc).splitlines()[0],
            ) from None
        expected = ref.value(("stripped", text), partial(stripped, text=text))
        if got.text != expected:
            raise CheckFailed(
                "The text is not stripped.",
                input=repr(text[:60]),
                expected=repr(expected[:60]),
                actual=repr(got.text[:60]),
            )
    with_user = call("SentimentRequest(text='ok', user_id='u1')", learner.SentimentRequest, text="ok", user_id="u1")
    if getattr(with_user, "user_id", None) != "u1":
        raise CheckFailed(
            "user_id is lost.",
            input={"text": "ok", "user_id": "u1"},
            expected="user_id == 'u1'",
            actual=f"user_id == {getattr(with_user, 'user_id', '(no such field)')!r}",
        )
    without = call("SentimentRequest(text='ok') without user_id", learner.SentimentRequest, text="ok")
    if getattr(without, "user_id", "(no such field)") is not None:
        raise CheckFailed(
            "user_id is optional: without it, it should be None.",
            input={"text": "ok"},
            expected="user_id == None",
            actual=f"user_id == {getattr(without, 'user_id', '(no such field)')!r}",
        )


@check(
    "01-request-invalid",
    2,
    "SentimentRequest rejects empty, blank, too long, missing and non-string text",
    "Strip first, then raise ValueError for an empty result or one over MAX_TEXT_CHARS characters; "
    "keep `text: str` so Pydantic rejects numbers, None and lists.",
)
def request_invalid(learner: Namespace, ref: Reference) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("empty text", {"text": ""}),
        ("whitespace only", {"text": "   \n\t "}),
        ("1,001 characters", {"text": "x" * 1001}),
        ("1,001 characters between spaces", {"text": "  " + "x" * 1001 + "  "}),
        ("no text field", {}),
        ("text is a number", {"text": 42}),
        ("text is null", {"text": None}),
        ("text is a list", {"text": ["a"]}),
    ]
    for what, body in cases:
        try:
            learner.SentimentRequest(**body)
        except ValidationError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:
            raise CheckFailed(
                "Invalid input must raise a ValidationError (FastAPI turns it into a 422); raise ValueError inside "
                "the validator and Pydantic wraps it.",
                input=what,
                expected="ValidationError",
                actual=f"{type(exc).__name__}: {exc}"[:200],
            ) from None
        raise CheckFailed(
            "Invalid input was accepted.",
            input=f"{what}: { ({k: str(v)[:40] for k, v in body.items()}) }",
            expected="ValidationError",
            actual="accepted",
        )


@check(
    "01-response-schema",
    1,
    "SentimentResponse has the four fields, a fixed label set and confidence in [0, 1]",
    "sentiment: Literal['Positive', 'Negative', 'Neutral']; confidence: float = Field(ge=0, le=1) (0 and 1 "
    "included); cached: bool and model_used: str, all required.",
)
def response_schema(learner: Namespace, ref: Reference) -> None:
    good = {"sentiment": "Positive", "confidence": 0.9, "cached": False, "model_used": MODEL}
    expected = ref.value(("response", good), lambda r: r.SentimentResponse(**good).model_dump())
    for what, fine in (
        ("a valid response", good),
        ("confidence exactly 1 (the bounds are inclusive)", {**good, "confidence": 1.0}),
        ("confidence exactly 0 (the bounds are inclusive)", {**good, "confidence": 0.0}),
        ("the label Neutral", {**good, "sentiment": "Neutral"}),
    ):
        try:
            got = learner.SentimentResponse(**fine)
        except ValidationError as exc:
            raise CheckFailed(
                f"A valid response was rejected: {what}.",
                input=fine,
                expected="accepted",
                actual=str(exc).splitlines()[0],
            ) from None
        except NotImplementedError:
            raise
        except Exception as exc:
            raise CheckFailed(
                f"SentimentResponse raised {type(exc).__name__} for {what}.",
                input=fine,
                expected="accepted",
                actual=f"{type(exc).__name__}: {exc}"[:200],
            ) from None
        if fine is good and got.model_dump() != expected:
            raise CheckFailed("Wrong fields.", input=good, expected=expected, actual=got.model_dump())
    for what, bad in (
        ("a label outside the three", {**good, "sentiment": "Happy"}),
        ("confidence above 1", {**good, "confidence": 1.5}),
        ("confidence below 0", {**good, "confidence": -0.1}),
        ("no cached field", {k: v for k, v in good.items() if k != "cached"}),
        ("no model_used field", {k: v for k, v in good.items() if k != "model_used"}),
    ):
        try:
            learner.SentimentResponse(**bad)
        except ValidationError:
            continue
        raise CheckFailed(
            f"An invalid response was accepted: {what}.", input=bad, expected="ValidationError", actual="accepted"
        )


# --- calling the model -------------------------------------------------------------------------


def reference_labels(ref: Reference, model: str = MODEL) -> list[tuple[str, float]]:
    """The reference's (label, confidence) for TEXTS with ``model``, on a fresh mock."""

    async def run(reference: Namespace) -> list[tuple[str, float]]:
        client = InProcessMock(Settings(latency=0.0)).async_client()
        return [await reference.classify_sentiment(client, t, model=model, timeout=5.0) for t in TEXTS]

    labels: list[tuple[str, float]] = ref.value(
        ("labels", model, tuple(TEXTS)), lambda r: [tuple(x) for x in aio.run(run(r))]
    )
    return labels


@check(
    "01-classify",
    2,
    "classify_sentiment returns the model's label and a confidence from logprobs",
    "await client.chat.completions.create(model=model, ..., logprobs=True) with the model you were given; "
    "confidence = math.exp(first token's logprob); return (label, confidence).",
)
@names_unawaited
def classify(learner: Namespace, ref: Reference) -> None:
    upstream = Upstream()

    async def run() -> list[Any]:
        return [await learner.classify_sentiment(upstream.client, t, model=OTHER_MODEL, timeout=5.0) for t in TEXTS]

    got = run_async(run(), f"classify_sentiment(client, text, model={OTHER_MODEL!r}, timeout=5.0)")
    if upstream.models != [OTHER_MODEL] * len(TEXTS):
        raise CheckFailed(
            "classify_sentiment must call the model it is given, once per text.",
            input=f"model={OTHER_MODEL!r}, {len(TEXTS)} texts",
            expected=[OTHER_MODEL] * len(TEXTS),
            actual=upstream.models,
        )
    limits = [body.get("max_tokens", body.get("max_completion_tokens")) for body in upstream.bodies]
    if not all(isinstance(limit, int) and 0 < limit <= MAX_TOKENS for limit in limits):
        raise CheckFailed(
            "Ask for a short answer: the label is one word, and every output token is paid for.",
            input=f"the {len(TEXTS)} chat completion requests",
            expected=f"max_tokens between 1 and {MAX_TOKENS}",
            actual=f"max_tokens {limits}",
        )
    expected = reference_labels(ref, OTHER_MODEL)
    for text, answer, (ref_label, ref_conf) in zip(TEXTS, got, expected, strict=True):
        if not (isinstance(answer, tuple | list) and len(answer) == 2):
            raise CheckFailed(
                "classify_sentiment must return a (label, confidence) pair.",
                input=text,
                expected=(ref_label, round(ref_conf, 3)),
                actual=answer,
            )
        label, confidence = answer
        if label != ref_label:
            raise CheckFailed(
                f"Wrong label (asked with model={OTHER_MODEL!r}).", input=text, expected=ref_label, actual=label
            )
        if not isinstance(confidence, float) or abs(confidence - ref_conf) > 0.02:
            raise CheckFailed(
                "The confidence should be the label token's probability, math.exp(logprob).",
                input=text,
                expected=round(ref_conf, 3),
                actual=confidence,
            )


class Answer(BaseModel):
    """What POST /classify must answer, as the lab's text specifies it."""

    sentiment: Literal["Positive", "Negative", "Neutral"]
    confidence: float = Field(ge=0.0, le=1.0)
    cached: bool
    model_used: str


def _upstream_error(learner: Namespace, fault: str | None, *, model: str = MODEL, timeout: float = 5.0) -> Any:
    """What classify_sentiment raises when its upstream call meets ``fault``: the exception, or a description."""
    upstream = Upstream(faults=[fault])

    async def run() -> Any:
        try:
            await learner.classify_sentiment(upstream.client, TEXTS[0], model=model, timeout=timeout)
        except NotImplementedError:
            raise
        except Exception as exc:
            return exc
        return "no error"

    return run_async(run(), f"classify_sentiment with upstream fault {fault or 'unknown model'!r}")


def kind_of(learner: Namespace, outcome: Any) -> str:
    """``outcome``'s UpstreamError kind (subclasses count), or what it was instead."""
    if isinstance(outcome, str):
        return outcome
    if isinstance(outcome, learner.UpstreamError):
        return str(getattr(outcome, "kind", "(no kind attribute)"))
    return f"{raised_where(outcome)[:300]} (not an UpstreamError)"


def wrong_kind(learner: Namespace, message: str, what: str, expected: str, outcome: Any) -> CheckFailed:
    """The verdict for a fault turned into the wrong outcome, unless a healthy answer fails as well.

    A bug on the answer's own path (a typo after the call) makes every fault look mishandled;
    then the message says so, rather than blame the fault handling.
    """
    if isinstance(outcome, Exception) and not isinstance(outcome, learner.UpstreamError):
        healthy = _upstream_error(learner, None)
        if healthy != "no error":
            return CheckFailed(
                "classify_sentiment fails on a healthy answer too, so its handling of faults cannot be "
                "told: fix what check 01-classify reports first.",
                input="a healthy upstream answer",
                expected="(label, confidence)",
                actual=raised_where(healthy),
            )
    return CheckFailed(message, input=what, expected=expected, actual=kind_of(learner, outcome))


@check(
    "01-classify-malformed",
    1,
    "a malformed 200 (not JSON, no choices, a mangled label) is UpstreamError('malformed')",
    "Catch ValueError (json.JSONDecodeError) around the call; check choices and that the label is in LABELS.",
)
@names_unawaited
def classify_malformed(learner: Namespace, ref: Reference) -> None:
    causes = {
        "malformed_json": "the body is not JSON: the SDK raises json.JSONDecodeError, a ValueError",
        "empty": "the answer has no choices (or null content): check before indexing",
        "corrupted": "the label is mangled: accept only one of LABELS",
    }
    for fault, cause in causes.items():
        outcome = _upstream_error(learner, fault)
        if kind_of(learner, outcome) != "malformed":
            raise wrong_kind(
                learner,
                f"A malformed answer was not caught ({cause}).",
                f"upstream fault {fault!r}",
                "UpstreamError(kind='malformed')",
                outcome,
            )


@check(
    "01-classify-errors",
    1,
    "SDK errors become UpstreamError kinds: rate_limited, timeout, unavailable, upstream_error",
    "except openai.RateLimitError (keep retry-after as seconds) / APITimeoutError / APIConnectionError / "
    "APIStatusError, in that order, and pass timeout= to the call.",
)
@names_unawaited
def classify_errors(learner: Namespace, ref: Reference) -> None:
    cases: list[tuple[str | None, str, str, str]] = [
        ("rate_limit; retry_after=7", MODEL, "rate_limited", "a 429 is openai.RateLimitError"),
        (
            "timeout; hang=1",
            MODEL,
            "timeout",
            "the upstream hung 1 s and the timeout was 0.2 s: pass timeout= to the SDK call, and catch "
            "APITimeoutError before APIConnectionError (it is a subclass)",
        ),
        ("truncated", MODEL, "unavailable", "a cut connection is openai.APIConnectionError"),
        ("server_error", MODEL, "upstream_error", "a 500 is an APIStatusError (InternalServerError)"),
        ("unavailable", MODEL, "upstream_error", "a 503 is an APIStatusError (InternalServerError)"),
        (None, "no-such-model", "upstream_error", "a 404 (unknown model) is an APIStatusError too"),
    ]
    for fault, model, kind, cause in cases:
        # a short timeout only where the fault is a hang: elsewhere a slow machine must not turn into a timeout
        outcome = _upstream_error(learner, fault, model=model, timeout=0.2 if fault and "hang" in fault else 5.0)
        got = kind_of(learner, outcome)
        what = f"upstream fault {fault!r}" if fault else f"model={model!r}, which the provider does not have (404)"
        if got != kind:
            raise wrong_kind(
                learner,
                f"Wrong error translation ({cause}; the SDK client has max_retries=0 here).",
                what,
                f"UpstreamError(kind={kind!r})",
                outcome,
            )
        if kind == "rate_limited":
            retry_after = getattr(outcome, "retry_after", None)
            try:
                seconds = float(retry_after)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                seconds = math.nan
            if seconds != 7.0:
                raise CheckFailed(
                    "The rate limit's retry-after header is lost: keep it (in seconds) on the UpstreamError.",
                    input="upstream 429 with retry-after: 7",
                    expected="retry_after == 7",
                    actual=f"retry_after == {retry_after!r}",
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
    base = ("I love it", MODEL)
    for variant, what in (
        (("  i LOVE   it\n", MODEL), "spaces around and inside, other case"),
        (("I\tlove\n\nit", MODEL), "tabs and newlines between the words"),
    ):
        if call("ResponseCache.key", key, *base) != call("ResponseCache.key", key, *variant):
            raise CheckFailed(
                f"Texts differing only in whitespace or case must share a key ({what}).",
                input=[base, variant],
                expected="equal keys",
                actual="different keys",
            )
    for a, b, what in (
        (base, ("I love it", "gpt-4"), "another model"),
        (base, ("I loved it", MODEL), "another text"),
    ):
        if key(*a) == key(*b):
            raise CheckFailed(
                f"Different keys expected for {what}.", input=[a, b], expected="different keys", actual="equal keys"
            )


Step = tuple[Any, ...]


def _cache_scenario(learner: Namespace, steps: Sequence[Step], **kwargs: Any) -> dict[str, Any]:
    """Run ``steps`` (("put", key, value) / ("get", key) / ("wait", seconds)) on a fresh cache."""
    clock = Clock()
    cache = call("ResponseCache(...)", learner.ResponseCache, clock=clock, **kwargs)
    for step in steps:
        if step[0] == "put":
            call(f"put({step[1]!r}, {step[2]!r})", cache.put, step[1], step[2])
        elif step[0] == "get":
            call(f"get({step[1]!r})", cache.get, step[1])
        else:
            clock.now += float(step[1])
    return {"cache": cache, "clock": clock}


def _contents(cache: Any, keys: str) -> dict[str, Any]:
    return {k: call(f"get({k!r})", cache.get, k) for k in keys}


def _said(steps: Sequence[Step]) -> str:
    words = {"put": "put {1}={2}", "get": "get {1}", "wait": "wait {1} s"}
    return "; ".join(words[s[0]].format(*s) for s in steps)


@check(
    "01-cache-bounded",
    1,
    "ResponseCache evicts the least recently used entry and expires entries after the TTL",
    "OrderedDict: move_to_end on get and on put, popitem(last=False) when over max_entries; store clock() with "
    "each put and expire when clock() - stored_at > ttl_seconds; len counts live entries only.",
    part="stretch",
)
def cache_bounded(learner: Namespace, ref: Reference) -> None:
    steps: list[Step] = [("put", "a", 1)]
    got = _contents(_cache_scenario(learner, steps, max_entries=2, ttl_seconds=60.0)["cache"], "a")
    if got != {"a": 1}:
        raise CheckFailed(
            "An entry put a moment ago is not found (is its age measured on the injected clock, self.clock()?).",
            input=f"max_entries=2, ttl_seconds=60; {_said(steps)}; get a",
            expected={"a": 1},
            actual=got,
        )

    # LRU: a get is a use
    steps = [("put", "a", 1), ("put", "b", 2), ("get", "a"), ("put", "c", 3)]
    got = _contents(_cache_scenario(learner, steps, max_entries=2, ttl_seconds=60.0)["cache"], "abc")
    expected = {"a": 1, "b": None, "c": 3}
    if got != expected:
        present = [k for k, v in got.items() if v is not None]
        if len(present) == 3:
            why = "Nothing was evicted: a third put with max_entries=2 must evict one entry."
        elif got["a"] is None and got["b"] is not None:
            why = "'a' was evicted although get('a') had just used it: a get must make an entry most recently used."
        elif len(present) < 2:
            why = f"Too many entries were evicted: max_entries=2 must keep two, but only {present} are left."
        elif got["c"] is None:
            why = "The entry just put was evicted: evict the least recently used one (popitem(last=False))."
        else:
            why = "Wrong entries kept after an eviction."
        raise CheckFailed(why, input=f"max_entries=2; {_said(steps)}", expected=expected, actual=got)

    # a put of an existing key replaces its value and is a use
    steps = [("put", "a", 1), ("put", "b", 2), ("put", "a", 10), ("put", "c", 3)]
    got = _contents(_cache_scenario(learner, steps, max_entries=2, ttl_seconds=60.0)["cache"], "abc")
    expected = {"a": 10, "b": None, "c": 3}
    if got != expected:
        if got["a"] == 1:
            why = "Putting an existing key again must replace its value."
        elif got["a"] is None:
            why = "'a' was evicted although it had just been put again: a put must make the entry most recently used."
        else:
            why = "Wrong entries after putting an existing key again."
        raise CheckFailed(why, input=f"max_entries=2; {_said(steps)}", expected=expected, actual=got)

    # expiry, on the injected clock: "older than ttl_seconds" is gone, exactly ttl_seconds is not
    expiry: list[tuple[list[Step], dict[str, Any], str]] = [
        (
            [("put", "a", 1), ("wait", 60)],
            {"a": 1},
            "An entry exactly ttl_seconds old is not older than the TTL: expire when clock() - stored_at > ttl "
            "(and read the time from the injected clock, not time.monotonic()).",
        ),
        (
            [("put", "a", 1), ("wait", 61)],
            {"a": None},
            "Entries must expire after ttl_seconds, on the cache's injected clock (self.clock()).",
        ),
        (
            [("put", "a", 1), ("wait", 50), ("put", "a", 5), ("wait", 50)],
            {"a": 5},
            "Putting a key again gives it a new value and a new age: store the time of the latest put.",
        ),
        (
            [("put", "a", 1), ("wait", 30), ("get", "a"), ("wait", 31)],
            {"a": None},
            "An entry's age counts from its put, not from its last get.",
        ),
    ]
    for steps, expected, why in expiry:
        got = _contents(_cache_scenario(learner, steps, max_entries=8, ttl_seconds=60.0)["cache"], "a")
        if got != expected:
            raise CheckFailed(why, input=f"ttl_seconds=60; {_said(steps)}; get a", expected=expected, actual=got)

    # len counts live entries only (exactly ttl_seconds old is live), down to an empty cache, which still works
    steps = [("put", "a", 1), ("wait", 30), ("put", "b", 2), ("wait", 30)]
    run = _cache_scenario(learner, steps, max_entries=8, ttl_seconds=60.0)
    cache, clock = run["cache"], run["clock"]
    for expected_len, advance, when in (
        (2, 0.0, "a is exactly 60 s old, b 30 s"),
        (1, 1.0, "a is 61 s old, b 31 s"),
        (0, 100.0, "both expired"),
    ):
        clock.now += advance
        size = call("len(cache)", len, cache)
        if size != expected_len:
            raise CheckFailed(
                "len(cache) must count the live entries: expired ones are gone, and an entry exactly ttl_seconds "
                "old is still live.",
                input=f"ttl_seconds=60; {_said(steps)}: {when}",
                expected=f"len {expected_len}",
                actual=f"len {size}",
            )
    call("put('c', 3) after everything expired", cache.put, "c", 3)
    if (got_c := call("get('c')", cache.get, "c")) != 3 or call("len(cache)", len, cache) != 1:
        raise CheckFailed(
            "After every entry expired, the cache must still store and serve new entries.",
            input="everything expired; put c=3; get c",
            expected="get c -> 3, len 1",
            actual=f"get c -> {got_c!r}, len {len(cache)}",
        )


# --- the API --------------------------------------------------------------------------------


async def _health(app: Any) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://service", timeout=30) as http:
        return await http.get("/health")


@check(
    "01-api-ok",
    2,
    "POST /classify answers 200 with the SentimentResponse fields and the model's label",
    "Call classify_sentiment with the app's own model, and return SentimentResponse(sentiment=label, "
    "confidence=confidence, cached=..., model_used=model).",
)
@names_unawaited
def api_ok(learner: Namespace, ref: Reference) -> None:
    upstream = Upstream()
    ref_labels = reference_labels(ref, OTHER_MODEL)

    async def run() -> tuple[list[httpx2.Response], httpx2.Response]:
        app = make_app(learner, upstream, model=OTHER_MODEL, timeout=5.0)
        return [await post(app, {"text": t}) for t in TEXTS], await _health(app)

    responses, health = run_async(run(), f"POST /classify on create_app(client, model={OTHER_MODEL!r})")
    bodies = []
    for text, response in zip(TEXTS, responses, strict=True):
        if response.status_code != 200:
            raise CheckFailed("A valid request failed.", input=text, expected="status 200", actual=shown(response))
        try:
            bodies.append(Answer(**response.json()))
        except (ValidationError, TypeError, ValueError):
            raise CheckFailed(
                "The answer does not match SentimentResponse.",
                input=text,
                expected="{'sentiment': ..., 'confidence': ..., 'cached': ..., 'model_used': ...}",
                actual=shown(response),
            ) from None
    if upstream.models != [OTHER_MODEL] * len(TEXTS):
        raise CheckFailed(
            "The app must call the model it was created with, once per text.",
            input=f"create_app(client, model={OTHER_MODEL!r}); {len(TEXTS)} different texts",
            expected=[OTHER_MODEL] * len(TEXTS),
            actual=upstream.models,
        )
    for text, body, (label, confidence) in zip(TEXTS, bodies, ref_labels, strict=True):
        if (body.sentiment, body.cached, body.model_used) != (label, False, OTHER_MODEL):
            raise CheckFailed(
                f"Wrong answer from an app created with model={OTHER_MODEL!r} (sentiment, cached, model_used).",
                input=text,
                expected=(label, False, OTHER_MODEL),
                actual=(body.sentiment, body.cached, body.model_used),
            )
        if abs(body.confidence - confidence) > 0.02:
            raise CheckFailed(
                "The confidence is not the model's (the label token's probability).",
                input=text,
                expected=round(confidence, 3),
                actual=body.confidence,
            )
    if health.status_code != 200:
        raise CheckFailed("GET /health must answer 200.", input="GET /health", expected=200, actual=shown(health))


@check(
    "01-api-validation",
    2,
    "invalid bodies get 422 in the error format, never a 500",
    "Register @app.exception_handler(RequestValidationError) returning "
    "{'error': {'code': 'invalid_request', 'message': ..., 'field': ...}} with status 422.",
)
@names_unawaited
def api_validation(learner: Namespace, ref: Reference) -> None:
    upstream = Upstream()
    bodies: list[tuple[str, Any, bytes | None]] = [
        ("empty text", {"text": ""}, None),
        ("blank text", {"text": "   "}, None),
        ("1001 characters", {"text": "x" * 1001}, None),
        ("missing text", {}, None),
        ("text is a number", {"text": 42}, None),
        ("not JSON", None, b"{not json"),
    ]

    async def run() -> list[httpx2.Response]:
        app = make_app(learner, upstream, timeout=5.0)
        return [await post(app, body, raw) for _, body, raw in bodies]

    responses = run_async(run(), "POST /classify with invalid bodies")
    for (what, body, _), response in zip(bodies, responses, strict=True):
        error_shape(response, 422, "invalid_request", what)
        if body is not None:
            error = field(response, "error")
            named = error.get("field") if isinstance(error, dict) else None
            if "text" not in str(named):
                raise CheckFailed(
                    "A validation error should name the field at fault.",
                    input=what,
                    expected='{"error": {..., "field": "text"}}',
                    actual=shown(response),
                )
    messages = {what: field(r, "error")["message"] for (what, _, _), r in zip(bodies, responses, strict=True)}
    if messages["empty text"] == messages["1001 characters"]:
        raise CheckFailed(
            "The error message should say why the input is invalid, so the client can fix it (pass the validation "
            "error's own message on).",
            input="an empty text, and a text of 1001 characters",
            expected="two different messages",
            actual=f"both {messages['empty text']!r}",
        )
    if upstream.requests:
        raise CheckFailed(
            "Invalid input reached the LLM.",
            input="invalid bodies",
            expected="0 upstream calls",
            actual=f"{upstream.requests} upstream calls",
        )


@check(
    "01-cache-hit",
    2,
    "a repeated (or re-spaced, re-cased) text is answered from the cache: one upstream call",
    "Look up ResponseCache.key(text, model) before calling the model; set cached=True on a hit; never store a failure.",
    part="stretch",
)
@names_unawaited
def cache_hit(learner: Namespace, ref: Reference) -> None:
    texts = ["Great service!", "Great service!", "  great   SERVICE! "]
    upstream = Upstream()

    async def run() -> list[httpx2.Response]:
        app = make_app(learner, upstream, cache=call("ResponseCache()", learner.ResponseCache), timeout=5.0)
        return [await post(app, {"text": t}) for t in texts]

    responses = run_async(run(), "three POST /classify of the same text")
    flags = [field(r, "cached") if r.status_code == 200 else f"status {r.status_code}" for r in responses]
    if flags != [False, True, True] or upstream.requests != 1:
        raise CheckFailed(
            "The cache did not serve repeats.",
            input=texts,
            expected="cached: [False, True, True], 1 upstream call",
            actual=f"cached: {flags}, {upstream.requests} upstream calls{raised_note(responses)}",
        )
    answers = [(field(r, "sentiment"), field(r, "confidence")) for r in responses]
    if len(set(answers)) != 1:
        raise CheckFailed(
            "A cached answer must be the answer that was stored.",
            input=texts,
            expected=[answers[0]] * 3,
            actual=answers,
        )

    mixed_upstream = Upstream()

    async def two_models() -> list[httpx2.Response]:
        shared = call("ResponseCache()", learner.ResponseCache)
        first = make_app(learner, mixed_upstream, model="gpt-3.5-turbo", cache=shared, timeout=5.0)
        second = make_app(learner, mixed_upstream, model="gpt-4", cache=shared, timeout=5.0)
        return [await post(first, {"text": "Fine."}), await post(second, {"text": "Fine."})]

    mixed = [field(r, "cached") for r in run_async(two_models(), "one text to two apps sharing a cache")]
    if mixed != [False, False]:
        raise CheckFailed(
            "An answer cached for one model was served for another.",
            input="same text, gpt-3.5-turbo then gpt-4, one shared cache",
            expected="cached: [False, False]",
            actual=f"cached: {mixed}",
        )

    failing = Upstream(faults=["server_error"])

    async def after_failure() -> list[httpx2.Response]:
        app = make_app(
            learner, failing, cache=call("ResponseCache()", learner.ResponseCache), max_retries=0, timeout=5.0
        )
        return [await post(app, {"text": "Is this cached?"}) for _ in range(2)]

    first, second = run_async(after_failure(), "a request whose upstream call fails, then the same request")
    if first.status_code != 502 or second.status_code != 200 or failing.requests != 2:
        raise CheckFailed(
            "A failure must not be cached: the next identical request calls the model again.",
            input="upstream 500 on the first call; the same text twice (max_retries=0)",
            expected="status 502, then 200 after a second upstream call",
            actual=f"status {first.status_code}, then {shown(second)}; {failing.requests} upstream calls",
        )


async def _herd(
    app: Any, upstream: Upstream, texts: list[str], calls: int = 1
) -> tuple[list[httpx2.Response | str], int]:
    """Send ``texts`` at once while the upstream is held, then let it answer.

    Waits until ``calls`` upstream requests have arrived (the SDK's first request on a
    client hops to a thread, so this is an event, not a number of loop turns), then lets
    the other requests reach their wait. Returns each request's response (or what happened
    instead) and the upstream calls made while all of them were in flight.
    """
    tasks = [asyncio.ensure_future(post(app, {"text": t})) for t in texts]
    idleness = Idleness()
    while upstream.requests < calls and not all(t.done() for t in tasks):
        await asyncio.sleep(0.01)
        if idleness.idle_for() >= IDLE_SECONDS:
            break
    await settle()
    in_flight_calls = upstream.requests
    upstream.release()
    pending = await until_done_or_idle(tasks)
    for task in pending:
        task.cancel()
    outcomes: list[httpx2.Response | str] = []
    for task in tasks:
        if task in pending:
            outcomes.append("never answered")
        elif task.exception() is not None:
            outcomes.append(f"the service broke the connection ({type(task.exception()).__name__})")
        else:
            outcomes.append(task.result())
    return outcomes, in_flight_calls


def _summary(outcomes: list[httpx2.Response | str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        name = outcome if isinstance(outcome, str) else f"status {outcome.status_code}"
        counts[name] = counts.get(name, 0) + 1
    return counts


@check(
    "01-single-flight",
    2,
    "concurrent identical requests share one upstream call",
    "Keep a dict of in-flight futures per key; later callers await the first caller's future (cached=True). "
    "On failure set_exception on it, so every waiter gets the error, and remove the key in a finally.",
    part="stretch",
)
@names_unawaited
def single_flight(learner: Namespace, ref: Reference) -> None:
    text = "What a wonderful day"
    upstream = Upstream(hold=True)

    async def run() -> tuple[list[httpx2.Response | str], int]:
        app = make_app(learner, upstream, cache=call("ResponseCache()", learner.ResponseCache), timeout=5.0)
        return await _herd(app, upstream, [text] * HERD)

    outcomes, calls = run_async(run(), f"{HERD} identical requests at once")
    if any(not isinstance(o, httpx2.Response) or o.status_code != 200 for o in outcomes):
        raise CheckFailed(
            "Some of the concurrent requests failed or never answered.",
            input=f"{HERD} identical requests at once",
            expected={"status 200": HERD},
            actual=f"{_summary(outcomes)}{raised_note(outcomes)}",
        )
    if calls != 1 or upstream.requests != 1:
        raise CheckFailed(
            "Concurrent identical requests each called the LLM.",
            input=f"{HERD} identical requests at once",
            expected="1 upstream call",
            actual=f"{upstream.requests} upstream calls",
        )
    responses = [o for o in outcomes if isinstance(o, httpx2.Response)]
    cached = sum(field(r, "cached") is True for r in responses)
    if cached != HERD - 1:
        raise CheckFailed(
            "Requests served by another request's call should say cached=true (they did not call the LLM).",
            input=f"{HERD} identical requests at once",
            expected=f"{HERD - 1} with cached=true",
            actual=f"{cached} with cached=true",
        )
    if len({field(r, "sentiment") for r in responses}) != 1:
        raise CheckFailed(
            "Requests sharing one call must get its answer.",
            input=f"{HERD} identical requests at once",
            expected="one sentiment for all",
            actual=sorted({str(field(r, "sentiment")) for r in responses}),
        )

    # the shared call fails: every waiter gets the error, none hangs, and the next request tries again
    failing = Upstream(hold=True, faults=["server_error"])

    async def run_failing() -> tuple[list[httpx2.Response | str], int, httpx2.Response | str]:
        app = make_app(
            learner, failing, cache=call("ResponseCache()", learner.ResponseCache), max_retries=0, timeout=5.0
        )
        outcomes, _ = await _herd(app, failing, [text] * HERD)
        calls = failing.requests
        again = asyncio.ensure_future(post(app, {"text": text}))
        after: httpx2.Response | str = "never answered" if await until_done_or_idle([again]) else again.result()
        return outcomes, calls, after

    outcomes, calls, after = run_async(run_failing(), f"{HERD} identical requests whose shared upstream call fails")
    counts = _summary(outcomes)
    if counts != {"status 502": HERD} or calls != 1:
        if counts.get("never answered"):
            why = (
                f"{counts['never answered']} requests never answered: the waiters must receive the first caller's "
                "error (set_exception on the shared future)."
            )
        elif calls > 1:
            why = (
                "After the shared call failed, waiters called the LLM themselves: the failure must reach every "
                "waiter instead."
            )
        else:
            why = "The upstream failure did not reach every waiting request as a 502."
        raise CheckFailed(
            why,
            input=f"{HERD} identical requests at once; the shared upstream call answers 500 (max_retries=0)",
            expected={"status 502": HERD, "upstream calls": 1},
            actual={**counts, "upstream calls": calls},
        )
    if not isinstance(after, httpx2.Response) or after.status_code != 200 or failing.requests != 2:
        if isinstance(after, str):
            why = "The next request waits forever on the failed call: remove it from the in-flight dict in a finally."
        elif failing.requests == 1:
            why = "The next request got the old failure without calling the LLM: a failure must not be kept."
        else:
            why = "The next request after a failed shared call must call the LLM again and succeed."
        raise CheckFailed(
            why,
            input="the same text again, after the shared call failed",
            expected="status 200 after a new upstream call",
            actual=(after if isinstance(after, str) else shown(after)) + f"; {failing.requests - 1} new upstream calls",
        )

    # different texts at once are different calls, each with its own answer
    pair = [TEXTS[0], TEXTS[1]]
    ref_labels = reference_labels(ref, MODEL)[:2]
    both = Upstream(hold=True)

    async def run_two() -> tuple[list[httpx2.Response | str], int]:
        app = make_app(learner, both, cache=call("ResponseCache()", learner.ResponseCache), timeout=5.0)
        return await _herd(app, both, pair * 5, calls=2)

    outcomes, _ = run_async(run_two(), "two different texts, five requests each, at once")
    got = [field(o, "sentiment") if isinstance(o, httpx2.Response) else o for o in outcomes]
    expected = [label for label, _ in ref_labels] * 5
    if got != expected or both.requests != 2:
        raise CheckFailed(
            "Requests for different texts must not share a call: one in-flight call per cache key.",
            input=f"{pair!r}, five requests each, at once",
            expected=f"sentiments {expected[:2]} (x5), 2 upstream calls",
            actual=f"sentiments {got[:4]}..., {both.requests} upstream calls",
        )


def _fault_response(learner: Namespace, fault: str | None, client: Any = None, **kwargs: Any) -> httpx2.Response:
    upstream = Upstream(faults=[fault]) if client is None else client
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 0.2 if fault and fault.startswith("timeout") else 5.0)

    async def run() -> httpx2.Response:
        return await post(make_app(learner, upstream, **kwargs), {"text": "Is this fine?"})

    return run_async(run(), f"POST /classify with upstream fault {fault!r}" if fault else "POST /classify")


@check(
    "01-errors-rate-limit",
    1,
    "an upstream rate limit becomes 429 with Retry-After, in the error format",
    "Map UpstreamError('rate_limited') to 429 and send its retry_after as a Retry-After header in whole "
    "seconds, rounded up (math.ceil).",
)
@names_unawaited
def errors_rate_limit(learner: Namespace, ref: Reference) -> None:
    for seconds, header in (("7", "7"), ("0.5", "1")):
        response = _fault_response(learner, f"rate_limit; retry_after={seconds}")
        error_shape(response, 429, "rate_limited", f"upstream 429 with retry-after: {seconds}")
        got = response.headers.get("retry-after")
        if got != header:
            raise CheckFailed(
                "The client should learn when to retry: Retry-After is a whole number of seconds, rounded up "
                "(so never 0, and never '7.0').",
                input=f"upstream 429 with retry-after: {seconds}",
                expected=f"Retry-After: {header}",
                actual=f"Retry-After: {got}" if got is not None else "no Retry-After header",
            )


@check(
    "01-errors-timeout",
    1,
    "an upstream that hangs past the timeout becomes 504 within the timeout",
    "Pass timeout= to the SDK call; map UpstreamError('timeout') to 504.",
)
@names_unawaited
def errors_timeout(learner: Namespace, ref: Reference) -> None:
    error_shape(
        _fault_response(learner, "timeout; hang=1"),
        504,
        "timeout",
        "upstream hangs 1 s, timeout 0.2 s",
        "A 200 here means the timeout was not passed to the SDK call.",
    )


@check(
    "01-errors-upstream",
    1,
    "upstream 5xx, cut connections and malformed answers become 502/503, not 500",
    "Map upstream_error and malformed to 502 and unavailable to 503, all in the error format; only an "
    "unexpected exception (a bug) is a 500, from an exception handler for Exception, with no traceback.",
)
@names_unawaited
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
    error_shape(
        _fault_response(learner, None, model="no-such-model"),
        502,
        "upstream_error",
        "model='no-such-model': the provider answers 404",
    )
    error_shape(
        _fault_response(learner, None, client=BrokenClient()),
        500,
        "internal_error",
        "the client call raises RuntimeError (a bug, not an upstream failure)",
        "An unexpected exception is our fault: register @app.exception_handler(Exception) answering 500 "
        "internal_error, and do not report it as an upstream error.",
    )
