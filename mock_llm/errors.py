"""Errors in OpenAI's wire shape, so the official SDK raises its own exception classes."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Scope

# uvicorn's own logger: its handler and format, and its level (warning unless --log-level says otherwise)
server_log = logging.getLogger("uvicorn.error")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "service_unavailable",
    504: "server_error",
}


class OpenAIError(Exception):
    """An error the mock answers with ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or ERROR_TYPES.get(status, "api_error")
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self, extra_headers: Mapping[str, str] | None = None) -> Response:
        headers = {**self.headers, **(extra_headers or {})}
        return Response(
            json.dumps(self.body()), status_code=self.status, headers=headers, media_type="application/json"
        )


_TYPE_TAGS = {"str", "int", "float", "bool", "dict", "list", "none", "json-or-python"}


def _param_of(loc: tuple[Any, ...]) -> str | None:
    """``("body", "messages", 0, "content", "constrained-str")`` -> ``messages[0].content``.

    Pydantic puts the union member it tried into the location; those tags are dropped.
    """
    parts = [str(p) for p in loc if p != "body" and not _is_type_tag(p)]
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _is_type_tag(part: object) -> bool:
    if not isinstance(part, str):
        return False
    return part in _TYPE_TAGS or "[" in part or "-" in part or part[:1].isupper()


def validation_error(errors: Sequence[Mapping[str, Any]]) -> OpenAIError:
    """Turn Pydantic's (or FastAPI's 422) errors into OpenAI's 400, naming the first offending field."""
    first = errors[0] if errors else {"loc": (), "msg": "Invalid request", "type": "value_error"}
    kind = first.get("type", "")
    if (
        kind in {"json_invalid", "json_type", "model_type", "model_attributes_type"}
        and _param_of(tuple(first.get("loc", ()))) is None
    ):
        return OpenAIError(
            400,
            "We could not parse the JSON body of your request. The API expects a JSON object "
            "with the request's parameters.",
            code="invalid_json" if kind == "json_invalid" else "invalid_body",
        )
    param = _param_of(tuple(first.get("loc", ())))
    if kind == "missing":
        message = f"Missing required parameter: '{param}'."
        code = "missing_required_parameter"
    else:
        shown = first.get("input")
        try:
            shown_text = json.dumps(shown)
        except (TypeError, ValueError):
            shown_text = repr(shown)
        if len(shown_text) > 80:
            shown_text = shown_text[:77] + "..."
        message = f"Invalid value for '{param}': {first.get('msg', 'invalid')} (got {shown_text})."
        code = "invalid_value" if kind != "extra_forbidden" else "unknown_parameter"
    if len(errors) > 1:
        message += f" {len(errors) - 1} more problem(s) in the body."
    return OpenAIError(400, message, param=param, code=code)


# Set in a request's scope when the server itself cut the connection (a client too slow to
# send its request, see mock_llm.protocols), which has logged why: the app logs nothing more.
CUT_MARK = "mock_llm.cut"


def log_client_gone(scope: Scope, when: str) -> None:
    """One line for a client that went away mid-request: routine (a timeout, a Ctrl-C), not a server error."""
    if scope.get(CUT_MARK):
        return
    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "a client"
    server_log.warning("mock_llm: client %s disconnected %s (%s %s)", who, when, scope.get("method"), scope.get("path"))


def request_id(request: Request) -> dict[str, str]:
    """The ``x-request-id`` header of an error answer, as successful answers carry one."""
    state = getattr(request.app.state, "mock", None)
    return {"x-request-id": f"req_{state.next_id()}"} if state is not None else {}


def client_gone(request: Request) -> Response:
    """The answer to a request whose client went away before sending all of it: one log line."""
    log_client_gone(request.scope, "before sending the whole request")
    # Nobody reads this answer: the server drops what is sent to a closed connection.
    return OpenAIError(400, "The client disconnected before sending the whole request.").response()


def install_handlers(app: FastAPI) -> None:
    """Every error leaves the server in OpenAI's shape, never as a traceback."""

    @app.exception_handler(OpenAIError)
    async def _openai_error(request: Request, exc: OpenAIError) -> Response:
        return exc.response(request_id(request))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return validation_error(list(exc.errors())).response(request_id(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"Invalid URL ({request.method} {request.url.path})"
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return OpenAIError(exc.status_code, message, headers=exc.headers).response(request_id(request))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _: ClientDisconnect) -> Response:
        # Without this handler the disconnect reaches uvicorn, which logs a full traceback.
        return client_gone(request)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:  # pragma: no cover - defence in depth
        return OpenAIError(500, "The mock server had an internal error; see its log.", type="server_error").response()
