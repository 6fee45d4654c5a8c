"""``POST /v1/chat/completions``."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..responses import EventStream, json_response, sse
from ..schemas import ChatCompletionRequest
from ..state import MockState
from ..tokens import count_chat_tokens
from .generation import Choice, base_headers, bill, context_check, generate, quote, stream_events, token_logprobs

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat/completions")
async def create_chat_completion(body: ChatCompletionRequest, request: Request) -> Response:
    """Creates a model response for the given chat conversation."""
    started = time.perf_counter()
    state: MockState = request.app.state.mock
    spec = state.model(body.model, ("chat",), "/v1/chat/completions")
    texts = [(m.role, m.text(), m.name) for m in body.messages]
    system = "\n".join(text for role, text, _ in texts if role in {"system", "developer"})
    users = [text for role, text, _ in texts if role == "user"]
    user = users[-1] if users else texts[-1][1]
    prompt_tokens = count_chat_tokens(texts)
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

    await state.wait(spec, choice.tokens)
    payload = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": spec.id,
        "system_fingerprint": "fp_mock",
        "choices": []
        if fault is not None and fault.kind == "empty"
        else [_choice(i, c, body) for i, c in enumerate(choices)],
        "usage": usage,
    }
    return json_response(payload, base_headers(state, started, extra), fault)


def _choice(index: int, choice: Choice, body: ChatCompletionRequest) -> dict[str, object]:
    logprobs = None
    if body.logprobs:
        logprobs = {"content": token_logprobs(choice, body.top_logprobs or 0), "refusal": None}
    return {
        "index": index,
        "message": {"role": "assistant", "content": choice.text, "refusal": None},
        "logprobs": logprobs,
        "finish_reason": choice.finish_reason,
    }
