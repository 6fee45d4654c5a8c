"""Request bodies of the OpenAI endpoints the mock serves (Pydantic 2).

Unknown parameters are accepted and ignored, as older and newer SDKs send fields the
mock has no use for; the fields it uses are validated as strictly as OpenAI does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from starlette.requests import Request

from .errors import validation_error

MAX_STR = 2_000_000  # characters in one field; whole bodies are capped by the size guard


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Body):
    type: StrictStr
    text: StrictStr | None = None


class ChatMessage(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Annotated[StrictStr, Field(max_length=MAX_STR)] | list[ContentPart] | None = None
    name: StrictStr | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content)


class StreamOptions(_Body):
    include_usage: StrictBool = False


class ResponseFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]


Temperature = Annotated[float, Field(ge=0, le=2)]
MaxTokens = Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class ChatCompletionRequest(_Body):
    model: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=2048)]
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    n: Annotated[StrictInt, Field(ge=1, le=16)] = 1
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    logprobs: StrictBool = False
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    seed: StrictInt | None = None
    response_format: ResponseFormat | None = None
    stop: StrictStr | list[StrictStr] | None = None
    user: StrictStr | None = None

    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Body):
    model: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    prompt: (
        Annotated[StrictStr, Field(max_length=MAX_STR)] | Annotated[list[StrictStr], Field(min_length=1, max_length=64)]
    )
    max_tokens: MaxTokens | None = 16  # the legacy endpoint's default
    temperature: Temperature | None = None
    n: Annotated[StrictInt, Field(ge=1, le=16)] = 1
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    logprobs: Annotated[StrictInt, Field(ge=0, le=5)] | None = None
    echo: StrictBool = False
    seed: StrictInt | None = None
    stop: StrictStr | list[StrictStr] | None = None
    user: StrictStr | None = None


EmbeddingInput = (
    Annotated[StrictStr, Field(max_length=MAX_STR)]
    | Annotated[list[Annotated[StrictStr, Field(max_length=MAX_STR)]], Field(min_length=1, max_length=2048)]
    | Annotated[list[StrictInt], Field(min_length=1)]
    | Annotated[list[list[StrictInt]], Field(min_length=1, max_length=2048)]
)


class EmbeddingRequest(_Body):
    model: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[StrictInt, Field(ge=1)] | None = None
    user: StrictStr | None = None


BodyT = TypeVar("BodyT", bound=BaseModel)
BODIES: tuple[type[BaseModel], ...] = (ChatCompletionRequest, CompletionRequest, EmbeddingRequest)


async def parse_body(request: Request, model: type[BodyT]) -> BodyT:
    """Validate the raw JSON body with Pydantic's own parser.

    Routes read their bodies this way instead of declaring a body parameter: FastAPI's
    body dependency costs ~20 us a request (bench/), a fifth of the mock's budget. The
    schema still reaches the OpenAPI document through :func:`body_schema`.
    """
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise validation_error(exc.errors(include_url=False)) from None


def openapi_components() -> dict[str, Any]:
    """The request models' schemas, for the OpenAPI document's components."""
    out: dict[str, Any] = {}
    for model in BODIES:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out
