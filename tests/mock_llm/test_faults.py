"""Does each injected fault reach the official SDK as it would from the real service?"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from mock_llm import InProcessMock, Settings
from mock_llm.faults import FAULT_KINDS, FaultInjector, parse_fault_header, parse_rates
from mock_llm.inprocess import TimedASGITransport
from mock_llm.server import BackgroundServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What are your support hours?"}]


_CLIENTS: list[openai.OpenAI] = []


def sdk(live: BackgroundServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    client = openai.OpenAI(base_url=live.base_url, api_key="k", **kwargs)
    _CLIENTS.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def chat(client: openai.OpenAI, fault: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model="gpt-4", messages=MESSAGES, extra_headers={"x-mock-fault": fault}, **kwargs
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """An injected clock for the SDK's retry waits: record them instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr("openai._base_client.time.sleep", recorded.append)
    return recorded


def test_rate_limit_is_rate_limit_error_with_headers(live: BackgroundServer) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        chat(sdk(live), "rate_limit; retry_after=7")
    response = info.value.response
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "7s"
    assert info.value.code == "rate_limit_exceeded"
    body = response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}


def test_sdk_retry_honours_retry_after(live: BackgroundServer, sleeps: list[float]) -> None:
    """Two 429s with retry-after=3, then success: the SDK waits exactly 3 s twice."""
    reply = chat(sdk(live, max_retries=2), "rate_limit; attempts=2; retry_after=3")
    assert reply.choices[0].message.content
    assert sleeps == [3.0, 3.0]


def test_sdk_retry_prefers_retry_after_ms(live: BackgroundServer, sleeps: list[float]) -> None:
    chat(sdk(live, max_retries=1), "rate_limit; attempts=1; retry_after=9; retry_after_ms=250")
    assert sleeps == [0.25]


def test_x_should_retry_false_stops_retries(live: BackgroundServer, sleeps: list[float]) -> None:
    with pytest.raises(openai.RateLimitError):
        chat(sdk(live, max_retries=3), "rate_limit; should_retry=false")
    assert sleeps == []


def test_retry_after_on_a_5xx_paces_the_retry(live: BackgroundServer, sleeps: list[float]) -> None:
    """retry-after works on any status fault; should_retry=false on a 503 stops the SDK's retry."""
    reply = chat(sdk(live, max_retries=2), "server_error; attempts=1; retry_after=0.5")
    assert reply.choices[0].message.content
    assert sleeps == [0.5]
    with pytest.raises(openai.InternalServerError):
        chat(sdk(live, max_retries=2), "unavailable; should_retry=false")
    assert sleeps == [0.5]


def test_attempts_counts_the_sdk_retry_header(live: BackgroundServer, sleeps: list[float]) -> None:
    """attempts=3 with two retries allowed still fails: three attempts, three faults."""
    with pytest.raises(openai.InternalServerError):
        chat(sdk(live, max_retries=2), "unavailable; attempts=3; retry_after=1")
    assert sleeps == [1.0, 1.0]
    ledger = cast(Any, live.server.config.app).state.mock.ledger.snapshot()
    assert ledger["total"]["calls"] == 0, "failed calls are not billed"


@pytest.mark.parametrize(("fault", "status"), [("server_error", 500), ("unavailable", 503), ("stream_error", 500)])
def test_server_errors(live: BackgroundServer, fault: str, status: int) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        chat(sdk(live), fault)
    assert info.value.status_code == status


def test_timeout_is_api_timeout_error(live: BackgroundServer) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        chat(sdk(live, timeout=0.2), "timeout; hang=1")
    assert time.monotonic() - started < 3, "the client gives up at its own timeout"


@pytest.mark.anyio
async def test_in_process_client_honours_timeouts(mock: InProcessMock) -> None:
    """httpx's ASGI transport ignores timeouts; the mock's in-process client does not."""
    client = mock.async_client(timeout=0.1)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(
            model="gpt-4", messages=MESSAGES, extra_headers={"x-mock-fault": "timeout; hang=2"}
        )
    assert time.monotonic() - started < 1.5


@pytest.mark.anyio
async def test_a_caller_cancelled_as_its_answer_completes_stays_cancelled() -> None:
    """A budget (``asyncio.wait_for``, a task group) that cancels a request must stop it.

    Python 3.11's ``asyncio.wait_for`` returns the result and drops the cancellation when
    both land in one turn of the loop; inside the transport that turned a demo's 10-second
    budget into a minute on a busy laptop, as the learner's retry loop never saw it.
    """
    caller: asyncio.Task[str] | None = None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert caller is not None
        caller.cancel()  # the caller's budget runs out just as the answer completes
        await send({"type": "http.response.body", "body": b"ok"})

    transport = TimedASGITransport(app=app)
    request = httpx2.Request("GET", "http://mock-llm.local/", extensions={"timeout": {"read": 5.0}})

    async def call() -> str:
        response = await transport.handle_async_request(request)
        await response.aread()
        return "answered"

    caller = asyncio.ensure_future(call())
    with pytest.raises(asyncio.CancelledError):
        await caller


def test_in_process_sync_client_honours_timeouts(mock: InProcessMock) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        mock.client(timeout=0.1).chat.completions.create(
            model="gpt-4", messages=MESSAGES, extra_headers={"x-mock-fault": "timeout; hang=2"}
        )
    assert time.monotonic() - started < 1.5
    with pytest.raises(openai.APIConnectionError):
        mock.client().chat.completions.create(
            model="gpt-4", messages=MESSAGES, extra_headers={"x-mock-fault": "truncated"}
        )


def test_fault_script_applies_in_order(mock: InProcessMock) -> None:
    """A script makes the next requests fail exactly as listed, then rates (none here) apply."""
    mock.set_faults(script=["rate_limit; retry_after=2", None, "server_error"])
    client = mock.client()
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "2"
    assert client.chat.completions.create(model="gpt-4", messages=MESSAGES).choices
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4", messages=MESSAGES)
    assert client.chat.completions.create(model="gpt-4", messages=MESSAGES).choices
    assert mock.state.faults.snapshot()["script"] == []


def test_timeout_fault_answers_after_the_hang(mock: InProcessMock) -> None:
    """Bounded: a client patient enough gets the answer."""
    reply = chat(mock.client(), "timeout; hang=0.05")
    assert reply.choices[0].message.content


def test_malformed_json_is_a_raw_decode_error(live: BackgroundServer) -> None:
    """As with the real SDK: a 200 that is not JSON raises json.JSONDecodeError, not an APIError."""
    with pytest.raises(json.JSONDecodeError):
        chat(sdk(live), "malformed_json")


def test_truncated_body_is_connection_error(live: BackgroundServer) -> None:
    with pytest.raises(openai.APIConnectionError):
        chat(sdk(live), "truncated")


def test_cut_stream_is_connection_error(live: BackgroundServer) -> None:
    stream = chat(sdk(live), "truncated", stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert received, "part of the answer arrived before the cut"


def test_stream_error_event_raises_api_error(live: BackgroundServer) -> None:
    stream = chat(sdk(live), "stream_error", stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_corrupted_content_is_valid_json_with_mangled_text(live: BackgroundServer) -> None:
    reply = chat(sdk(live), "corrupted")
    content = reply.choices[0].message.content or ""
    assert "\ufffd" in content and "CORRUPT" in content


def test_empty_answer_has_no_choices(live: BackgroundServer) -> None:
    reply = chat(sdk(live), "empty")
    assert reply.choices == []


def test_empty_stream_ends_without_finish_reason(live: BackgroundServer) -> None:
    """Like the real SDK, a stream with no [DONE] ends silently; only validation catches it."""
    chunks = list(chat(sdk(live), "empty", stream=True))
    assert chunks
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_slow_stream_paces_tokens(mock: InProcessMock) -> None:
    started = time.monotonic()
    chunks = list(chat(mock.client(), "slow_stream; delay=0.01", stream=True))
    assert len(chunks) > 10
    assert time.monotonic() - started >= 0.01 * (len(chunks) - 3)


def test_malformed_json_in_a_stream(live: BackgroundServer) -> None:
    stream = chat(sdk(live), "malformed_json", stream=True)
    with pytest.raises(json.JSONDecodeError):
        for _ in stream:
            pass


@pytest.mark.anyio
async def test_faults_in_process_match_http(mock: InProcessMock) -> None:
    """The in-process client raises the same SDK errors as the real server."""
    client = mock.async_client()
    expected = {
        "rate_limit": openai.RateLimitError,
        "server_error": openai.InternalServerError,
        "unavailable": openai.InternalServerError,
        "truncated": openai.APIConnectionError,
        "malformed_json": json.JSONDecodeError,
    }
    for fault, error in expected.items():
        with pytest.raises(error):
            await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, extra_headers={"x-mock-fault": fault}
            )


def test_legacy_and_embeddings_take_faults_too(live: BackgroundServer) -> None:
    client = sdk(live)
    with pytest.raises(openai.RateLimitError):
        client.completions.create(model="text-davinci-003", prompt="hi", extra_headers={"x-mock-fault": "rate_limit"})
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(
            model="text-embedding-3-small", input="hi", extra_headers={"x-mock-fault": "unavailable"}
        )
    # The SDK checks embeddings itself: an empty `data` list is its own ValueError.
    with pytest.raises(ValueError, match="No embedding data"):
        client.embeddings.create(model="text-embedding-3-small", input="hi", extra_headers={"x-mock-fault": "empty"})


@pytest.mark.parametrize(
    "header",
    [
        "explode",
        "rate_limit; attempts=x",
        "rate_limit; colour=red",
        "timeout; hang=100000",
        "rate_limit; should_retry=maybe",
    ],
)
def test_bad_fault_header_is_a_400_naming_the_header(live: BackgroundServer, header: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        chat(sdk(live), header)
    assert info.value.param == "x-mock-fault"


def test_server_wide_rates_replay_exactly_with_a_seed() -> None:
    """Same seed, same sequence of faults; another seed, another sequence."""

    def run(seed: int) -> list[str]:
        mock = InProcessMock(Settings(latency=0.0, seed=seed, faults={"rate_limit": 0.3, "server_error": 0.2}))
        client = mock.client()
        outcomes = []
        for _ in range(40):
            try:
                client.chat.completions.create(model="gpt-4", messages=MESSAGES)
                outcomes.append("ok")
            except openai.RateLimitError:
                outcomes.append("429")
            except openai.InternalServerError:
                outcomes.append("500")
        return outcomes

    first, again, other = run(3), run(3), run(4)
    assert first == again
    assert first != other
    assert 0.2 < first.count("ok") / 40 < 0.8


def test_rates_are_measured_not_fixed() -> None:
    """Over many draws the injected share matches the configured rate."""
    injector = FaultInjector(rates={"server_error": 0.1, "rate_limit": 0.05}, seed=11)
    draws = [injector.choose(None, 0) for _ in range(20000)]
    share = sum(d is not None and d.kind == "server_error" for d in draws) / len(draws)
    assert abs(share - 0.1) < 0.01
    assert abs(sum(d is not None and d.kind == "rate_limit" for d in draws) / len(draws) - 0.05) < 0.008


def test_control_endpoint_sets_rates(live: BackgroundServer) -> None:
    import httpx2

    with httpx2.Client(base_url=live.base_url.removesuffix("/v1")) as http:
        assert http.put("/_mock/faults", json={"rates": {"server_error": 1.0}}).status_code == 200
        with pytest.raises(openai.InternalServerError):
            sdk(live).chat.completions.create(model="gpt-4", messages=MESSAGES)
        snapshot = http.get("/_mock/faults").json()
        assert snapshot["injected"]["server_error"] >= 1
        bad = http.put("/_mock/faults", json={"rates": {"gremlins": 0.5}})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "rates"
        too_much = http.put("/_mock/faults", json={"rates": {"server_error": 0.7, "timeout": 0.6}})
        assert too_much.status_code == 400
        http.put("/_mock/faults", json={"rates": {}})
    assert sdk(live).chat.completions.create(model="gpt-4", messages=MESSAGES).choices


def test_parsers() -> None:
    assert parse_rates("rate_limit=0.1, timeout=0.05") == {"rate_limit": 0.1, "timeout": 0.05}
    for bad in ["nonsense=0.1", "rate_limit", "rate_limit=abc", "rate_limit=2", "rate_limit=0.6,timeout=0.6"]:
        with pytest.raises(ValueError):
            parse_rates(bad)
    fault = parse_fault_header("rate_limit; attempts=2; retry_after_ms=20; should_retry=true")
    assert (fault.kind, fault.attempts, fault.retry_after_ms, fault.should_retry) == ("rate_limit", 2, 20, True)
    assert set(FAULT_KINDS) >= {
        "rate_limit",
        "timeout",
        "server_error",
        "unavailable",
        "malformed_json",
        "truncated",
        "corrupted",
        "slow_stream",
    }
