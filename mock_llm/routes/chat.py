"""``POST /v1/chat/completions``."""

from __future__ import annotations

import json
import time
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response

from ..errors import OpenAIError
from ..responses import EventStream, dumps, json_response, sse
from ..schemas import (
    AllowedToolsChoice,
    ChatCompletionRequest,
    CustomChoice,
    FunctionChoice,
    FunctionDefinition,
    FunctionTool,
    parse_body,
)
from ..state import MockState
from ..structured import SchemaError, Unsupported, strict_problems
from ..tokens import count_chat_tokens
from . import BodyRoute
from .generation import (
    CACHED_PROMPT_CHARS,
    INLINE_CHARS,
    Choice,
    base_headers,
    bill,
    call_tool,
    context_check,
    generate,
    off_loop,
    quote,
    stream_events,
    token_logprobs,
)

# A schema's instance may take the generator's whole work budget (structured.MAX_WORK, a tenth of
# a second or so), however short the schema: it is always made off the event loop.
SCHEMA_WORK = INLINE_CHARS + 1


def unsupported(message: str, param: str, code: str = "unsupported_parameter") -> OpenAIError:
    """A 400 for something OpenAI accepts and the mock cannot honour, saying so."""
    return OpenAIError(400, f"The mock LLM does not support {message}", param=param, code=code)


async def create_chat_completion(request: Request) -> Response:
    """Creates a model response for the given chat conversation."""
    body = await parse_body(request, ChatCompletionRequest)
    started = time.perf_counter()
    state: MockState = request.app.state.mock
    spec = state.model(body.model, ("chat",), "/v1/chat/completions")
    _refuse_unsupported(body)
    tool = _forced_tool(body)
    schema_text, schema_name = _response_schema(body)
    texts = tuple((m.role, m.text(), m.name) for m in body.messages)
    size = sum(len(text) for _, text, _ in texts)
    system, user, prompt_tokens = await off_loop(size, _prompt, texts)
    limit = body.output_limit()
    context_check(spec, prompt_tokens, limit, "messages")
    fault = state.choose_fault(request)
    extra = await state.before_answer(spec, fault, prompt_tokens + (limit or 0), body.stream)
    if tool is not None:
        parameters = None if tool.parameters is None else json.dumps(tool.parameters)
        try:
            tool_args = (state.seed, spec.id, spec.quality_tier, system, user, tool.name, parameters, limit)
            make_call = call_tool if size <= CACHED_PROMPT_CHARS else call_tool.__wrapped__
            choice = await off_loop(size if parameters is None else SCHEMA_WORK, make_call, *tool_args)
        except SchemaError as exc:
            raise _schema_error(exc, f"function '{tool.name}'", _tool_param(body, tool.name)) from None
    else:
        want_json = body.response_format is not None and body.response_format.type != "text"
        stop = [body.stop] if isinstance(body.stop, str) else body.stop or []
        try:
            choice = await off_loop(
                size if schema_text is None else SCHEMA_WORK,
                lambda: generate(state, spec, system, user, limit, want_json, fault, stop=stop, schema=schema_text),
            )
        except SchemaError as exc:
            raise _schema_error(exc, f"response_format '{schema_name}'", "response_format") from None
    choices = [choice] * body.n
    usage = bill(state, spec, prompt_tokens, choices)
    created = int(time.time())
    completion_id = f"chatcmpl-{state.next_id()}"

    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        head = (
            f'{{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
            f'"model":{quote(spec.id)},"system_fingerprint":"fp_mock","choices":['
        )
        tail = ',"usage":null}' if include_usage else "}"
        top = body.top_logprobs or 0
        call = choice.tool_call
        first_delta = '{"role":"assistant","content":"","refusal":null}'
        if call is not None:
            first_delta = dumps(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ],
                    "refusal": None,
                }
            ).decode()

        def chunk(index: int, text: str | None, finish: str | None, first: bool, position: int) -> bytes:
            logprobs = "null"
            if first:
                delta = first_delta
            elif text is not None and call is not None:
                delta = f'{{"tool_calls":[{{"index":0,"function":{{"arguments":{quote(text)}}}}}]}}'
            elif text is not None:
                delta = f'{{"content":{quote(text)}}}'
                if body.logprobs:
                    token = dumps(token_logprobs(choices[index], top)[position]).decode()
                    logprobs = f'{{"content":[{token}],"refusal":null}}'
            else:
                delta = "{}"
            reason = "null" if finish is None else f'"{finish}"'
            return (
                f'data: {head}{{"index":{index},"delta":{delta},"logprobs":{logprobs},'
                f'"finish_reason":{reason}}}]{tail}\n\n'
            ).encode()

        def usage_chunk(u: dict[str, int]) -> bytes:
            return sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": spec.id,
                    "system_fingerprint": "fp_mock",
                    "choices": [],
                    "usage": u,
                }
            )

        events = stream_events(state, spec, choices, fault, chunk, usage if include_usage else None, usage_chunk)
        return EventStream(events, base_headers(state, started, extra))

    if state.settings.latency > 0:
        await state.wait(spec, choice.tokens)
    empty = fault is not None and fault.kind == "empty"
    choices_json = "[]" if empty else _choices_json(choice, body.n, body.logprobs, body.top_logprobs or 0)
    data = (
        f'{{"id":"{completion_id}","object":"chat.completion","created":{created},"model":{quote(spec.id)},'
        f'"system_fingerprint":"fp_mock","choices":{choices_json},"usage":{{"prompt_tokens":{usage["prompt_tokens"]},'
        f'"completion_tokens":{usage["completion_tokens"]},"total_tokens":{usage["total_tokens"]}}}}}'
    ).encode()
    return json_response(data, base_headers(state, started, extra), fault)


def _refuse_unsupported(body: ChatCompletionRequest) -> None:
    """Parameters OpenAI honours and the mock cannot: a clear 400, never a silently different answer."""
    if body.modalities is not None and "audio" in body.modalities:
        raise unsupported("audio output; leave 'audio' out of 'modalities'.", "modalities", "unsupported_value")
    if body.audio is not None:
        raise unsupported("audio output ('audio').", "audio")
    if body.function_call is not None and not isinstance(body.function_call, str):
        names = {f.name for f in body.functions or []}
        if body.function_call.name not in names:
            raise OpenAIError(
                400,
                f"Invalid value for 'function_call': function '{body.function_call.name}' not found in 'functions'.",
                param="function_call",
                code="invalid_value",
            )
        raise unsupported(
            "forcing a call with the deprecated 'function_call'; use 'tools' and 'tool_choice'.",
            "function_call",
            "unsupported_value",
        )


def _forced_tool(body: ChatCompletionRequest) -> FunctionDefinition | None:
    """The function the answer must call (tool_choice "required" or a named function), or None for text.

    Raises OpenAI's 400s: a tool_choice without tools, a named tool not in ``tools``, a
    strict schema OpenAI would refuse.
    """
    tools = body.tools or []
    choice = body.tool_choice
    if choice is not None and not tools:
        raise OpenAIError(
            400,
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
            code="invalid_value",
        )
    functions = {t.function.name: t.function for t in tools if isinstance(t, FunctionTool)}
    customs = {t.custom.name for t in tools if not isinstance(t, FunctionTool)}
    for i, tool in enumerate(tools):
        if isinstance(tool, FunctionTool):
            _check_parameters(tool.function, f"tools[{i}].function.parameters")
    if choice is None or choice in ("none", "auto"):
        return None  # the mock answers in text when it may
    if choice == "required":
        return _first_function(list(functions.values()))
    if isinstance(choice, FunctionChoice):
        if choice.function.name not in functions:
            raise _not_in_tools("function", choice.function.name)
        return functions[choice.function.name]
    if isinstance(choice, CustomChoice):
        if choice.custom.name not in customs:
            raise _not_in_tools("custom tool", choice.custom.name)
        raise unsupported("calling custom tools; give the tool as a function.", "tool_choice", "unsupported_value")
    assert isinstance(choice, AllowedToolsChoice)
    allowed: list[FunctionDefinition] = []
    for entry in choice.allowed_tools.tools:
        kind = entry.get("type")
        named = entry.get(kind) if isinstance(kind, str) else None
        name = named.get("name") if isinstance(named, dict) else None
        if kind == "function" and name in functions:
            allowed.append(functions[name])
        elif not (kind == "custom" and name in customs):
            raise _not_in_tools(str(kind), str(name), "tool_choice.allowed_tools.tools")
    if choice.allowed_tools.mode == "auto":
        return None
    return _first_function(allowed)


def _first_function(functions: list[FunctionDefinition]) -> FunctionDefinition:
    if not functions:
        raise unsupported("calling custom tools; give at least one function tool.", "tool_choice", "unsupported_value")
    return functions[0]


def _not_in_tools(kind: str, name: str, param: str = "tool_choice") -> OpenAIError:
    return OpenAIError(
        400, f"Invalid value for '{param}': {kind} '{name}' not found in 'tools'.", param=param, code="invalid_value"
    )


def _check_parameters(function: FunctionDefinition, param: str) -> None:
    parameters = function.parameters
    if parameters is None:
        return
    kind = parameters.get("type", "object")
    if kind != "object":
        raise OpenAIError(
            400,
            f"Invalid schema for function '{function.name}': schema must be a JSON Schema of 'type: \"object\"', "
            f"got 'type: {json.dumps(kind)}'.",
            param=param,
            code="invalid_function_parameters",
        )
    if function.strict:
        _refuse_strict(parameters, f"function '{function.name}'", param, "invalid_function_parameters")


def _tool_param(body: ChatCompletionRequest, name: str) -> str:
    for i, tool in enumerate(body.tools or []):
        if isinstance(tool, FunctionTool) and tool.function.name == name:
            return f"tools[{i}].function.parameters"
    return "tools"


def _response_schema(body: ChatCompletionRequest) -> tuple[str | None, str]:
    """The json_schema response format's schema as JSON text (hashable, key order kept), and its name."""
    fmt = body.response_format
    if fmt is None or fmt.type != "json_schema":
        return None, ""
    if fmt.json_schema is None:
        raise OpenAIError(
            400,
            "Missing required parameter: 'response_format.json_schema'.",
            param="response_format.json_schema",
            code="missing_required_parameter",
        )
    spec = fmt.json_schema
    schema = spec.json_schema if spec.json_schema is not None else {}
    if spec.strict:
        _refuse_strict(schema, f"response_format '{spec.name}'", "response_format", "invalid_json_schema")
    return json.dumps(schema), spec.name


def _refuse_strict(schema: object, what: str, param: str, code: str) -> None:
    """OpenAI's 400 for a strict schema it would not accept (structured outputs' rules)."""
    problem = strict_problems(schema)
    if problem is not None:
        raise OpenAIError(400, f"Invalid schema for {what}: {problem}", param=param, code=code)


def _schema_error(exc: SchemaError, what: str, param: str) -> OpenAIError:
    where = f"In context={tuple(exc.where)!r}, "
    if isinstance(exc, Unsupported):
        return unsupported(f"this schema for {what}: {where}{exc.message}.", param, "unsupported_value")
    message = f"Invalid schema for {what}: {where}{exc.message}."
    return OpenAIError(400, message, param=param, code="invalid_json_schema")


def _prompt(texts: tuple[tuple[str, str, str | None], ...]) -> tuple[str, str, int]:
    """System text, last user text and prompt tokens of a conversation (short ones cached)."""
    if sum(len(text) for _, text, _ in texts) <= CACHED_PROMPT_CHARS:
        return _prompt_cached(texts)
    return _prompt_cached.__wrapped__(texts)


@lru_cache(maxsize=4096)
def _prompt_cached(texts: tuple[tuple[str, str, str | None], ...]) -> tuple[str, str, int]:
    system = "\n".join(text for role, text, _ in texts if role in {"system", "developer"})
    users = [text for role, text, _ in texts if role == "user"]
    return system, users[-1] if users else texts[-1][1], count_chat_tokens(texts)


def _choices_json(choice: Choice, n: int, logprobs: bool, top: int) -> str:
    """The serialised ``choices`` array: written directly for one plain answer, else cached."""
    if n == 1 and not logprobs and choice.tool_call is None:  # nearly every request: no dict to serialise
        return (
            f'[{{"index":0,"message":{{"role":"assistant","content":{quote(choice.text)},"refusal":null}},'
            f'"logprobs":null,"finish_reason":"{choice.finish_reason}"}}]'
        )
    return _choices_json_cached(choice, n, logprobs, top)


@lru_cache(maxsize=4096)
def _choices_json_cached(choice: Choice, n: int, logprobs: bool, top: int) -> str:
    call = choice.tool_call
    lp = None
    if logprobs:
        lp = {"content": None if call else token_logprobs(choice, top), "refusal": None}
    message: dict[str, object] = {"role": "assistant", "content": None if call else choice.text, "refusal": None}
    if call is not None:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        ]
    return dumps(
        [{"index": i, "message": message, "logprobs": lp, "finish_reason": choice.finish_reason} for i in range(n)]
    ).decode()


route = BodyRoute("/v1/chat/completions", create_chat_completion, ChatCompletionRequest, "chat")
