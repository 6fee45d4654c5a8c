"""``POST /v1/chat/completions``."""

from __future__ import annotations

import time
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response

from ..responses import EventStream, dumps, json_response, sse
from ..schemas import ChatCompletionRequest, parse_body
from ..state import MockState
from ..tokens import count_chat_tokens
from . import BodyRoute
from .generation import Choice, base_headers, bill, context_check, generate, quote, stream_events, token_logprobs


async def create_chat_completion(request: Request) -> Response:
    """Creates a model response for the given chat conversation."""
    body = await parse_body(request, ChatCompletionRequest)
    started = time.perf_counter()
    state: MockState = request.app.state.mock
    spec = state.model(body.model, ("chat",), "/v1/chat/completions")
    system, user, prompt_tokens = _prompt(tuple((m.role, m.text(), m.name) for m in body.messages))
    limit = body.output_limit()
    context_check(spec, prompt_tokens, limit, "messages")
    fault = state.choose_fault(request)
    extra = await state.before_answer(spec, fault, prompt_tokens + (limit or 0), body.stream)
    want_json = body.response_format is not None and body.response_format.type != "text"
    choice = generate(state, spec, system, user, limit, want_json, fault)
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

        def chunk(index: int, text: str | None, finish: str | None, first: bool) -> bytes:
            if first:
                delta = '{"role":"assistant","content":"","refusal":null}'
            elif text is not None:
                delta = f'{{"content":{quote(text)}}}'
            else:
                delta = "{}"
            reason = "null" if finish is None else f'"{finish}"'
            return (
                f'data: {head}{{"index":{index},"delta":{delta},"logprobs":null,"finish_reason":{reason}}}]{tail}\n\n'
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


@lru_cache(maxsize=4096)
def _prompt(texts: tuple[tuple[str, str, str | None], ...]) -> tuple[str, str, int]:
    """System text, last user text and prompt tokens of a conversation."""
    system = "\n".join(text for role, text, _ in texts if role in {"system", "developer"})
    users = [text for role, text, _ in texts if role == "user"]
    return system, users[-1] if users else texts[-1][1], count_chat_tokens(texts)


@lru_cache(maxsize=4096)
def _choices_json(choice: Choice, n: int, logprobs: bool, top: int) -> str:
    """The serialised ``choices`` array; identical requests reuse it."""
    lp = {"content": token_logprobs(choice, top), "refusal": None} if logprobs else None
    message = {"role": "assistant", "content": choice.text, "refusal": None}
    return dumps(
        [{"index": i, "message": message, "logprobs": lp, "finish_reason": choice.finish_reason} for i in range(n)]
    ).decode()


route = BodyRoute("/v1/chat/completions", create_chat_completion, ChatCompletionRequest, "chat")
