"""``POST /v1/completions``: the legacy endpoint, so the handout's "before" code runs."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ..errors import OpenAIError
from ..responses import EventStream, dumps, json_response, sse
from ..schemas import CompletionRequest, parse_body
from ..state import MockState
from ..tokens import InvalidTokens, count_prompt_tokens, decode, tokenize
from . import BodyRoute
from .generation import Choice, base_headers, bill, context_check, generate, off_loop, quote, stream_events


async def create_completion(request: Request) -> Response:
    """Creates a completion for the provided prompt (legacy)."""
    body = await parse_body(request, CompletionRequest)
    started = time.perf_counter()
    state: MockState = request.app.state.mock
    spec = state.model(body.model, ("completion",), "/v1/completions")
    if body.best_of is not None and body.best_of < body.n:
        message = f"best_of must be greater than or equal to n (got best_of={body.best_of}, n={body.n})."
        raise OpenAIError(400, message, param="best_of", code="invalid_value")
    if body.suffix:
        raise OpenAIError(
            400,
            "The mock LLM does not support 'suffix' (inserting text); leave it out or null.",
            param="suffix",
            code="unsupported_parameter",
        )
    raw = body.prompt
    size = len(raw) if isinstance(raw, str) else sum(len(p) if isinstance(p, str | list) else 1 for p in raw)
    prompts, counts = await off_loop(size, _prompts, raw)
    prompt_tokens = sum(counts)
    limit = body.max_tokens
    context_check(spec, max(counts), limit, "prompt")
    fault = state.choose_fault(request)
    extra = await state.before_answer(spec, fault, prompt_tokens + (limit or 0) * len(prompts), body.stream)
    stop = [body.stop] if isinstance(body.stop, str) else body.stop or []
    # Legacy models continue the prompt, so the answer starts with a space.
    answers = await off_loop(
        size, lambda: [generate(state, spec, "", p, limit, False, fault, prefix=" ", stop=stop) for p in prompts]
    )
    choices = [choice for choice in answers for _ in range(body.n)]
    usage = bill(state, spec, prompt_tokens, choices)
    created = int(time.time())
    completion_id = f"cmpl-{state.next_id()}"

    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        head = (
            f'{{"id":"{completion_id}","object":"text_completion","created":{created},'
            f'"model":{quote(spec.id)},"choices":['
        )

        def chunk(index: int, text: str | None, finish: str | None, first: bool, position: int) -> bytes:
            logprobs = "null"
            if first:
                if not body.echo:
                    return b""
                text = prompts[index // body.n]  # the prompt comes back first, as the API sends it
            elif text is not None and body.logprobs is not None:
                lp = _logprobs(choices[index], body.logprobs, "")
                logprobs = dumps({key: values[position : position + 1] for key, values in lp.items()}).decode()
            reason = "null" if finish is None else f'"{finish}"'
            return (
                f'data: {head}{{"text":{quote(text or "")},"index":{index},"logprobs":{logprobs},'
                f'"finish_reason":{reason}}}]}}\n\n'
            ).encode()

        def usage_chunk(u: dict[str, int]) -> bytes:
            return sse(
                {
                    "id": completion_id,
                    "object": "text_completion",
                    "created": created,
                    "model": spec.id,
                    "choices": [],
                    "usage": u,
                }
            )

        events = stream_events(state, spec, choices, fault, chunk, usage if include_usage else None, usage_chunk)
        return EventStream(events, base_headers(state, started, extra))

    await state.wait(spec, max(c.tokens for c in choices))
    payload = {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": spec.id,
        "choices": []
        if fault is not None and fault.kind == "empty"
        else [_choice(i, c, body.logprobs, prompts[i // body.n] if body.echo else "") for i, c in enumerate(choices)],
        "usage": usage,
    }
    return json_response(payload, base_headers(state, started, extra), fault)


def _prompts(prompt: str | list[str] | list[int] | list[list[int]]) -> tuple[list[str], list[int]]:
    """The prompts as text with their token counts; token arrays are the text they encode."""
    if isinstance(prompt, str):
        return [prompt], [count_prompt_tokens(prompt)]
    if prompt and isinstance(prompt[0], str):
        texts = [p for p in prompt if isinstance(p, str)]
        return texts, [count_prompt_tokens(p) for p in texts]
    arrays = [prompt] if prompt and isinstance(prompt[0], int) else prompt
    texts, counts = [], []
    for ids in arrays:
        assert isinstance(ids, list)
        try:
            texts.append(decode(ids))
        except InvalidTokens as exc:
            raise OpenAIError(400, f"Invalid token array in 'prompt': {exc}.", param="prompt") from None
        counts.append(len(ids))
    return texts, counts


def _choice(index: int, choice: Choice, logprobs: int | None, echo: str) -> dict[str, object]:
    lp = None if logprobs is None else _logprobs(choice, logprobs, echo)
    return {"text": echo + choice.text, "index": index, "logprobs": lp, "finish_reason": choice.finish_reason}


def _logprobs(choice: Choice, top: int, echo: str) -> dict[str, list[object]]:
    """Legacy logprobs, one entry per piece of the answer; offsets count from the start of ``echo``."""
    tokens = list(tokenize(choice.text))
    top_logprobs: list[object] = []
    token_lps: list[object] = []
    for i, token in enumerate(tokens):
        if i == 0 and choice.sentiment is not None:
            ranked = sorted(choice.sentiment.logprobs().items(), key=lambda kv: -kv[1])
            token_lps.append(ranked[0][1])
            top_logprobs.append({" " + label: value for label, value in ranked[: max(1, top)]})
        else:
            token_lps.append(-0.01)
            top_logprobs.append({token: -0.01})
    offsets: list[object] = []
    pos = len(echo)
    for token in tokens:
        offsets.append(pos)
        pos += len(token)
    return {"tokens": list(tokens), "token_logprobs": token_lps, "top_logprobs": top_logprobs, "text_offset": offsets}


route = BodyRoute("/v1/completions", create_completion, CompletionRequest, "completions")
