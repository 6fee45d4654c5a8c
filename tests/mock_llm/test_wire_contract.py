"""The request side of OpenAI's contract: what the API accepts, the mock accepts, and honours or refuses clearly.

Raw HTTP for what the SDK would never send (explicit nulls, 2.0 for an integer), the
official SDK for the rest, so its own parsing (typed tool calls, ``.parse`` with a
pydantic model, the stream helpers) is the judge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import httpx2
import openai
import pytest
from jsonschema import Draft202012Validator
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)
from pydantic import BaseModel

from mock_llm import InProcessMock
from mock_llm.inprocess import SyncASGITransport
from mock_llm.tokens import encode

HOURS = "Chat support is open 24/7; phone support runs 8am-8pm ET, Monday to Friday."
FAQ: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What are your support hours?"}]
SENTIMENT: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Classify the sentiment: The blender is terrible, it broke in a day."}
]
LEGACY_PROMPT = "Classify the sentiment: This product is amazing!\n\nSentiment:"
WEATHER: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", None]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["query", "unit", "days"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
LOOKUP: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def mock() -> InProcessMock:
    return InProcessMock()


@pytest.fixture(scope="module")
def client(mock: InProcessMock) -> Iterator[openai.OpenAI]:
    sdk = mock.client()
    yield sdk
    sdk.close()


@pytest.fixture(scope="module")
def http(mock: InProcessMock) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        transport=SyncASGITransport(mock.app, client=("127.0.0.1", 50002)), base_url="http://mock-llm.local"
    ) as raw:
        yield raw


def post_chat(http: httpx2.Client, **body: Any) -> httpx2.Response:
    body.setdefault("model", "gpt-4")
    body.setdefault("messages", FAQ)
    return http.post("/v1/chat/completions", json=body)


def post_completion(http: httpx2.Client, **body: Any) -> httpx2.Response:
    body.setdefault("model", "text-davinci-003")
    body.setdefault("prompt", LEGACY_PROMPT)
    return http.post("/v1/completions", json=body)


def error_of(response: httpx2.Response, param: str | None) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"
    return error


def without_ids(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"id", "created"}}


# --- 1. what the spec accepts -----------------------------------------------------------------------

CHAT_NULLABLE = [
    "stream",
    "logprobs",
    "n",
    "stream_options",
    "top_logprobs",
    "stop",
    "seed",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "response_format",
    "tools",
    "tool_choice",
    "modalities",
    "audio",
]


@pytest.mark.parametrize("field", CHAT_NULLABLE)
def test_chat_null_means_the_default(http: httpx2.Client, field: str) -> None:
    plain = post_chat(http)
    nulled = post_chat(http, **{field: None})
    assert nulled.status_code == 200, nulled.text
    assert without_ids(nulled.json()) == without_ids(plain.json())


COMPLETION_NULLABLE = [
    "stream",
    "logprobs",
    "n",
    "echo",
    "stream_options",
    "stop",
    "seed",
    "temperature",
    "suffix",
    "best_of",
    "max_tokens",
    "top_p",
    "logit_bias",
]


@pytest.mark.parametrize("field", COMPLETION_NULLABLE)
def test_completion_null_means_the_default(http: httpx2.Client, field: str) -> None:
    plain = post_completion(http, prompt="Write a long story about a dragon")
    nulled = post_completion(http, prompt="Write a long story about a dragon", **{field: None})
    assert nulled.status_code == 200, nulled.text
    assert without_ids(nulled.json()) == without_ids(plain.json())
    if field == "max_tokens":
        assert nulled.json()["usage"]["completion_tokens"] == 16, "null is the default of 16"


def test_null_prompt_is_the_spec_default(http: httpx2.Client) -> None:
    response = post_completion(http, prompt=None)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"]


def test_whole_floats_are_integers(http: httpx2.Client) -> None:
    chat = post_chat(http, n=2.0, max_tokens=50.0, top_logprobs=2.0, logprobs=True, messages=SENTIMENT).json()
    assert len(chat["choices"]) == 2
    assert len(chat["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 2
    legacy = post_completion(http, n=2.0, max_tokens=5.0, logprobs=1.0, prompt="Write about dragons").json()
    assert len(legacy["choices"]) == 2
    assert legacy["usage"]["completion_tokens"] == 10


@pytest.mark.parametrize("field", ["n", "max_tokens", "max_completion_tokens", "top_logprobs", "seed"])
@pytest.mark.parametrize("value", [2.5, "2", True])
def test_non_integers_are_400_naming_the_field(http: httpx2.Client, field: str, value: object) -> None:
    error = error_of(post_chat(http, **{field: value}), field)
    if value == 2.5:
        assert "whole number" in error["message"]


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [("n", 128, 129), ("top_logprobs", 20, 21), ("max_tokens", 1, 0), ("seed", 2**63 - 1, 2**63)],
)
def test_chat_limits_are_the_specs(http: httpx2.Client, field: str, good: int, bad: int) -> None:
    ok = post_chat(http, **{field: good})
    assert ok.status_code == 200, ok.text
    if field == "n":
        assert len(ok.json()["choices"]) == 128
    error_of(post_chat(http, **{field: bad}), field)


@pytest.mark.parametrize(("field", "good", "bad"), [("n", 128, 129), ("logprobs", 5, 6), ("max_tokens", 0, -1)])
def test_completion_limits_are_the_specs(http: httpx2.Client, field: str, good: int, bad: int) -> None:
    ok = post_completion(http, **{field: good})
    assert ok.status_code == 200, ok.text
    error_of(post_completion(http, **{field: bad}), field)


def test_max_tokens_zero_echoes_only_the_prompt(http: httpx2.Client) -> None:
    body = post_completion(http, max_tokens=0, echo=True).json()
    assert body["choices"][0]["text"] == LEGACY_PROMPT
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 0


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_beyond_the_context_is_the_context_length_400(http: httpx2.Client, field: str) -> None:
    error = error_of(post_chat(http, **{field: 10**12}), "messages")
    assert error["code"] == "context_length_exceeded"
    assert "8192" in error["message"]
    legacy = error_of(post_completion(http, max_tokens=5000), "prompt")
    assert legacy["code"] == "context_length_exceeded"


# --- 2. stop sequences ------------------------------------------------------------------------------


def test_stop_cuts_before_the_first_stop_sequence(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4", messages=FAQ, stop=[" ET", "24/7"])
    assert reply.choices[0].message.content == HOURS[: HOURS.index("24/7")]
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and 0 < reply.usage.completion_tokens < 10
    single = client.chat.completions.create(model="gpt-4", messages=FAQ, stop="phone")
    assert single.choices[0].message.content == HOURS[: HOURS.index("phone")]
    absent = client.chat.completions.create(model="gpt-4", messages=FAQ, stop=["zebra"])
    assert absent.choices[0].message.content == HOURS


def test_a_limit_before_the_stop_sequence_wins(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4", messages=FAQ, stop=["Friday"], max_tokens=3)
    assert reply.choices[0].finish_reason == "length"
    assert "Friday" not in (reply.choices[0].message.content or "")


def test_streamed_answer_stops_at_the_same_place(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4", messages=FAQ, stop=["ET"], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == HOURS[: HOURS.index("ET")]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_more_than_four_stop_sequences_is_400(http: httpx2.Client) -> None:
    error_of(post_chat(http, stop=["a", "b", "c", "d", "e"]), "stop")
    error_of(post_completion(http, stop=["a", "b", "c", "d", "e"]), "stop")
    assert post_chat(http, stop=["a", "b", "c", "d"]).status_code == 200


def test_legacy_stop(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="text-davinci-003", prompt="What are your support hours?", stop=["phone"])
    assert reply.choices[0].text == " " + HOURS[: HOURS.index("phone")]
    assert reply.choices[0].finish_reason == "stop"


# --- 3. streamed logprobs ---------------------------------------------------------------------------


def test_streamed_logprobs_carry_each_chunks_token(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="gpt-4", messages=SENTIMENT, logprobs=True, top_logprobs=3)
    chunks = list(
        client.chat.completions.create(model="gpt-4", messages=SENTIMENT, logprobs=True, top_logprobs=3, stream=True)
    )
    streamed = []
    for chunk in chunks:
        choice = chunk.choices[0]
        if choice.delta.content:
            assert choice.logprobs is not None and choice.logprobs.content is not None
            assert "".join(t.token for t in choice.logprobs.content) == choice.delta.content
            streamed.extend(choice.logprobs.content)
    assert whole.choices[0].logprobs is not None
    assert streamed == whole.choices[0].logprobs.content
    assert streamed[0].token == "Negative" and len(streamed[0].top_logprobs) == 3


def test_long_answer_streams_a_logprob_per_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4", messages=FAQ, logprobs=True, stream=True))
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) > 10
    assert all(c.choices[0].logprobs and len(c.choices[0].logprobs.content or []) == 1 for c in content)


def test_streamed_legacy_logprobs(client: openai.OpenAI) -> None:
    chunks = list(
        client.completions.create(model="text-davinci-003", prompt="Write about dragons", logprobs=2, stream=True)
    )
    with_text = [c for c in chunks if c.choices and c.choices[0].text]
    assert with_text
    for chunk in with_text:
        logprobs = chunk.choices[0].logprobs
        assert logprobs is not None and logprobs.tokens == [chunk.choices[0].text]


def test_streamed_echo_sends_the_prompt_first(client: openai.OpenAI) -> None:
    chunks = list(client.completions.create(model="text-davinci-003", prompt=LEGACY_PROMPT, echo=True, stream=True))
    assert chunks[0].choices[0].text == LEGACY_PROMPT
    assert "".join(c.choices[0].text for c in chunks if c.choices).strip().endswith("Positive")


# --- 4. structured outputs ----------------------------------------------------------------------------


class Verdict(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    confidence: float
    reasons: list[str]


class Answer(BaseModel):
    answer: str
    escalate: bool


def test_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    reply = client.chat.completions.parse(model="gpt-4", messages=SENTIMENT, response_format=Verdict)
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, Verdict)
    assert parsed.sentiment == "negative"
    assert 0.5 < parsed.confidence < 1
    assert reply.choices[0].finish_reason == "stop"


def test_faq_answer_fills_the_answer_field(client: openai.OpenAI) -> None:
    reply = client.chat.completions.parse(model="gpt-4", messages=FAQ, response_format=Answer)
    assert reply.choices[0].message.parsed == Answer(answer=HOURS, escalate=True)
    stream = list(
        client.chat.completions.create(
            model="gpt-4",
            messages=FAQ,
            stream=True,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Answer", "schema": Answer.model_json_schema()},
            },
        )
    )
    assert json.loads("".join(c.choices[0].delta.content or "" for c in stream if c.choices))["answer"] == HOURS


def test_strict_schema_openai_would_refuse_is_400(client: openai.OpenAI) -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="gpt-4",
            messages=FAQ,
            response_format={"type": "json_schema", "json_schema": {"name": "thing", "strict": True, "schema": schema}},
        )
    assert info.value.param == "response_format"
    assert "Invalid schema for response_format 'thing'" in info.value.message
    assert "'additionalProperties' is required to be supplied and to be false" in info.value.message


def test_schema_the_mock_cannot_honour_is_400_saying_so(http: httpx2.Client) -> None:
    schema = {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "address", "schema": schema}}
    error = error_of(post_chat(http, response_format=fmt), "response_format")
    assert "does not support" in error["message"] and "'pattern'" in error["message"]
    assert error["code"] == "unsupported_value"
    missing = error_of(post_chat(http, response_format={"type": "json_schema"}), "response_format.json_schema")
    assert missing["code"] == "missing_required_parameter"
    error_of(
        post_chat(http, response_format={"type": "json_schema", "json_schema": {"name": "a b"}}),
        "response_format.json_schema.name",
    )


# --- 5. tools -------------------------------------------------------------------------------------------


def test_required_tool_choice_calls_a_tool_with_valid_arguments(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4", messages=FAQ, tools=[WEATHER, LOOKUP], tool_choice="required")
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "get_weather" and call.id.startswith("call_")
    arguments = json.loads(call.function.arguments)
    assert Draft202012Validator(WEATHER["function"]["parameters"]).is_valid(arguments), arguments
    assert arguments["query"] == "What are your support hours?"
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_named_tool_choice_calls_that_tool(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gpt-4",
        messages=FAQ,
        tools=[WEATHER, LOOKUP],
        tool_choice={"type": "function", "function": {"name": "lookup_order"}},
        n=2,
    )
    for choice in reply.choices:
        assert choice.message.tool_calls is not None
        call = choice.message.tool_calls[0]
        assert isinstance(call, ChatCompletionMessageFunctionToolCall)
        assert call.function.name == "lookup_order"
        assert Draft202012Validator(LOOKUP["function"]["parameters"]).is_valid(json.loads(call.function.arguments))


@pytest.mark.parametrize("choice", ["auto", "none", None])
def test_auto_and_none_answer_in_text(client: openai.OpenAI, choice: Literal["auto", "none"] | None) -> None:
    kwargs: dict[str, Any] = {} if choice is None else {"tool_choice": choice}
    reply = client.chat.completions.create(model="gpt-4", messages=FAQ, tools=[WEATHER], **kwargs)
    assert reply.choices[0].message.content == HOURS
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].finish_reason == "stop"


def test_allowed_tools_required_calls_an_allowed_one(http: httpx2.Client) -> None:
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "lookup_order"}}]},
    }
    body = post_chat(http, tools=[WEATHER, LOOKUP], tool_choice=choice).json()
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup_order"


def test_tool_choice_naming_no_tool_is_400(client: openai.OpenAI, http: httpx2.Client) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="gpt-4", messages=FAQ, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}
        )
    assert info.value.param == "tool_choice"
    assert "function 'nope' not found in 'tools'" in info.value.message
    alone = error_of(post_chat(http, tool_choice="required"), "tool_choice")
    assert "only allowed when 'tools' are specified" in alone["message"]


def test_strict_tool_schema_openai_would_refuse_is_400(http: httpx2.Client) -> None:
    loose = {"type": "function", "function": {**LOOKUP["function"], "strict": True}}
    error = error_of(post_chat(http, tools=[loose], tool_choice="required"), "tools[0].function.parameters")
    assert error["message"].startswith("Invalid schema for function 'lookup_order'")


def test_tool_call_stream_accumulates_with_the_sdk_helper(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="gpt-4", messages=SENTIMENT, tools=[WEATHER], tool_choice="required"
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    whole = client.chat.completions.create(model="gpt-4", messages=SENTIMENT, tools=[WEATHER], tool_choice="required")
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.choices[0].message.tool_calls is not None and whole.choices[0].message.tool_calls is not None
    streamed, plain = final.choices[0].message.tool_calls[0], whole.choices[0].message.tool_calls[0]
    assert isinstance(plain, ChatCompletionMessageFunctionToolCall)
    assert (streamed.id, streamed.function.name, streamed.function.arguments) == (
        plain.id,
        plain.function.name,
        plain.function.arguments,
    )


def test_parse_tool_arguments_into_the_model(client: openai.OpenAI) -> None:
    tool = openai.pydantic_function_tool(Verdict, name="record_verdict")
    reply = client.chat.completions.parse(model="gpt-4", messages=SENTIMENT, tools=[tool], tool_choice="required")
    assert reply.choices[0].message.tool_calls is not None
    parsed = reply.choices[0].message.tool_calls[0].function.parsed_arguments
    assert isinstance(parsed, Verdict) and parsed.sentiment == "negative"


def test_tool_arguments_cut_by_max_tokens_say_length(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gpt-4", messages=FAQ, tools=[WEATHER], tool_choice="required", max_tokens=6
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.tool_calls is not None
    call = reply.choices[0].message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    with pytest.raises(json.JSONDecodeError):
        json.loads(call.function.arguments)


# --- 6. token-array prompts -----------------------------------------------------------------------------


def test_token_prompts_are_the_text_they_encode(client: openai.OpenAI) -> None:
    text = client.completions.create(model="text-davinci-003", prompt=LEGACY_PROMPT, max_tokens=5)
    ids = encode(LEGACY_PROMPT)
    tokens = client.completions.create(model="text-davinci-003", prompt=ids, max_tokens=5, echo=True)
    assert tokens.choices[0].text == LEGACY_PROMPT + text.choices[0].text
    assert tokens.usage is not None and tokens.usage.prompt_tokens == len(ids)
    batch = client.completions.create(
        model="text-davinci-003", prompt=[ids, encode("Write about dragons")], max_tokens=5
    )
    assert batch.choices[0].text == text.choices[0].text
    assert len(batch.choices) == 2


def test_bad_token_id_is_400_on_prompt(http: httpx2.Client) -> None:
    for prompt in ([1, 2, 10**7], [[1], [-5]], [100256]):
        error = error_of(post_completion(http, prompt=prompt), "prompt")
        assert "not in the vocabulary" in error["message"]


# --- 7. what the mock cannot honour says so --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"functions": [{"name": "f"}], "function_call": {"name": "f"}}, "function_call"),
        ({"tools": [{"type": "custom", "custom": {"name": "c"}}], "tool_choice": "required"}, "tool_choice"),
        (
            {
                "tools": [{"type": "custom", "custom": {"name": "c"}}],
                "tool_choice": {"type": "custom", "custom": {"name": "c"}},
            },
            "tool_choice",
        ),
    ],
)
def test_chat_features_the_mock_lacks_are_400_saying_so(http: httpx2.Client, body: dict[str, Any], param: str) -> None:
    error = error_of(post_chat(http, **body), param)
    assert error["message"].startswith("The mock LLM does not support")
    assert error["code"] in {"unsupported_parameter", "unsupported_value"}


def test_suffix_is_400_saying_so(http: httpx2.Client) -> None:
    error = error_of(post_completion(http, suffix=" and that is all."), "suffix")
    assert "does not support" in error["message"]
    assert post_completion(http, suffix="").status_code == 200


def test_function_call_naming_no_function_is_400(http: httpx2.Client) -> None:
    error = error_of(post_chat(http, functions=[{"name": "f"}], function_call={"name": "g"}), "function_call")
    assert "not found in 'functions'" in error["message"]
    assert post_chat(http, functions=[{"name": "f"}], function_call="auto").json()["choices"][0]["message"]["content"]
