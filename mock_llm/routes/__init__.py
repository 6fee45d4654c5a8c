"""HTTP routes of the mock, one module per area."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class BodyRoute:
    """A POST endpoint that parses its own JSON body (see ``schemas.parse_body``).

    The model endpoints are the hot path of every load test, so they are mounted as plain
    Starlette routes inside the FastAPI app: FastAPI's per-request dependency solving
    costs about 30 us, a third of a request's budget (bench/mock_throughput.py). Their
    request schemas still appear in ``/openapi.json`` through :meth:`operation`.
    """

    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    body: type[BaseModel]
    tag: str

    def route(self) -> Route:
        return Route(self.path, self.endpoint, methods=["POST"])

    def operation(self) -> dict[str, Any]:
        error = {"description": "OpenAI-shaped error: {'error': {message, type, param, code}}"}
        return {
            "tags": [self.tag],
            "summary": (self.endpoint.__doc__ or "").strip().splitlines()[0],
            "operationId": self.endpoint.__name__,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{self.body.__name__}"}}},
            },
            "responses": {
                "200": {"description": "The answer, as JSON or as server-sent events when stream=true"},
                "400": error,
                "404": error,
                "429": error,
                "500": error,
            },
        }
