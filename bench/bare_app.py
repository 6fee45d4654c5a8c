"""The ceiling for the throughput benchmark: a bare FastAPI endpoint with a fixed JSON body.

It does no validation and no work, so the difference between it and the mock is what the
mock's own request handling costs.
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Telemetry off, as in the mock, so the two differ only in what the endpoints do.
app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

FIXED = {
    "id": "chatcmpl-fixed",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-3.5-turbo",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Chat support is open 24/7.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20},
}


@app.post("/v1/chat/completions")
async def fixed() -> dict[str, object]:
    """Returns the same completion whatever is posted."""
    return FIXED


async def _fixed_route(request: Request) -> Response:
    return Response(FIXED_BYTES, media_type="application/json")


FIXED_BYTES = json.dumps(FIXED).encode()
# For reference only: the same answer from a plain Starlette route, the floor of the stack
# (the mock mounts its model endpoints this way inside its FastAPI app).
starlette_app = Starlette(routes=[Route("/v1/chat/completions", _fixed_route, methods=["POST"])])
