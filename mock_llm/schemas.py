"""Request bodies of the OpenAI endpoints the mock serves (Pydantic 2).

Unknown parameters are accepted and ignored, as older and newer SDKs send fields the
mock has no use for; the fields it uses are validated as strictly as OpenAI does, and as
leniently: ``null`` for an optional field means its default, and a whole number written
as a float (``"n": 2.0``) is an integer, as OpenAI's spec and API allow.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
)
from pydantic_core import PydanticCustomError, from_json
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .errors import validation_error
from .tokens import ENDOFTEXT

MAX_STR = 2_000_000  # characters in one field; whole bodies are capped by the size guard


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _whole_number(value: object) -> object:
    """OpenAI accepts an integer written as a float (``2.0``) and rejects ``2.5``."""
    if isinstance(value, float) and math.isfinite(value):
        if not value.is_integer():
            raise PydanticCustomError("int_from_float", "Input should be a whole number")
        return int(value)
    return value


def _null_is(default: object) -> BeforeValidator:
    """An explicit ``null`` means the parameter's default, as in OpenAI's spec (``nullable`` + ``default``)."""
    return BeforeValidator(lambda value: default if value is None else value)


WholeInt = Annotated[StrictInt, BeforeValidator(_whole_number)]
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Flag = Annotated[StrictBool, _null_is(False)]
Temperature = Annotated[Number, Field(ge=0, le=2)]
TopP = Annotated[Number, Field(ge=0, le=1)]
Penalty = Annotated[Number, Field(ge=-2, le=2)]
MaxTokens = Annotated[WholeInt, Field(ge=1)]  # no upper bound: beyond the context window is a context-length 400
Seed = Annotated[WholeInt, Field(ge=-(2**63), le=2**63 - 1)]
Choices = Annotated[WholeInt, Field(ge=1, le=128), _null_is(1)]
# Up to 4 stop sequences; an empty list means none, as an absent field does.
Stop = StrictStr | Annotated[list[StrictStr], Field(max_length=4)] | None
Name = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
SchemaObject = dict[str, Any]


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
    include_usage: Flag = False


class JsonSchemaFormat(_Body):
    name: Name
    description: StrictStr | None = None
    # "schema" would shadow a BaseModel attribute, hence the alias
    json_schema: SchemaObject | None = Field(None, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class FunctionDefinition(_Body):
    name: Name
    description: StrictStr | None = None
    parameters: SchemaObject | None = None
    strict: StrictBool | None = None


class FunctionTool(_Body):
    type: Literal["function"]
    function: FunctionDefinition


class CustomToolDefinition(_Body):
    name: StrictStr
    description: StrictStr | None = None
    format: dict[str, Any] | None = None


class CustomTool(_Body):
    type: Literal["custom"]
    custom: CustomToolDefinition


class NamedFunction(_Body):
    name: StrictStr


class FunctionChoice(_Body):
    type: Literal["function"]
    function: NamedFunction


class CustomChoice(_Body):
    type: Literal["custom"]
    custom: NamedFunction


class AllowedTools(_Body):
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class AllowedToolsChoice(_Body):
    type: Literal["allowed_tools"]
    allowed_tools: AllowedTools


def _by_type(value: Any) -> str | None:
    """The tag of a union member: a mode string, or by its ``type``; tags carry a '-' so error params omit them."""
    if isinstance(value, str):
        return "mode-tool"
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"{kind}-tool" if isinstance(kind, str) else None


Tool = Annotated[
    Annotated[FunctionTool, Tag("function-tool")] | Annotated[CustomTool, Tag("custom-tool")],
    Discriminator(
        _by_type, custom_error_type="invalid_tool_type", custom_error_message="Expected a function or custom tool"
    ),
]
ToolChoice = (
    Annotated[
        Annotated[Literal["none", "auto", "required"], Tag("mode-tool")]
        | Annotated[FunctionChoice, Tag("function-tool")]
        | Annotated[CustomChoice, Tag("custom-tool")]
        | Annotated[AllowedToolsChoice, Tag("allowed_tools-tool")],
        Discriminator(
            _by_type,
            custom_error_type="invalid_tool_choice",
            custom_error_message="Expected 'none', 'auto', 'required' or an object with type function, custom"
            " or allowed_tools",
        ),
    ]
    | None
)


class ChatCompletionRequest(_Body):
    model: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=2048)]
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logit_bias: dict[StrictStr, WholeInt] | None = None
    n: Choices = 1
    stream: Flag = False
    stream_options: StreamOptions | None = None
    logprobs: Flag = False
    top_logprobs: Annotated[WholeInt, Field(ge=0, le=20)] | None = None
    seed: Seed | None = None
    response_format: ResponseFormat | None = None
    stop: Stop = None
    user: StrictStr | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice = None
    parallel_tool_calls: StrictBool | None = None
    functions: Annotated[list[FunctionDefinition], Field(max_length=128)] | None = None
    function_call: Literal["none", "auto"] | NamedFunction | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    audio: dict[str, Any] | None = None

    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def _text_or_tokens(value: Any) -> str:
    """The shape of a prompt or embedding input (its union's tag).

    A long token array is then validated once, not tried against every shape, and an
    error speaks of the shape that was sent.
    """
    if isinstance(value, str):
        return "one-text"
    if isinstance(value, list) and value:
        first = value[0]
        if isinstance(first, list):
            return "token-arrays"
        if isinstance(first, int | float) and not isinstance(first, bool):
            return "token-ids"
    return "many-texts"


Prompt = Annotated[
    Annotated[StrictStr, Field(max_length=MAX_STR), Tag("one-text")]
    | Annotated[
        list[Annotated[StrictStr, Field(max_length=MAX_STR)]], Field(min_length=1, max_length=64), Tag("many-texts")
    ]
    | Annotated[list[WholeInt], Field(min_length=1, max_length=MAX_STR), Tag("token-ids")]
    | Annotated[
        list[Annotated[list[WholeInt], Field(min_length=1)]], Field(min_length=1, max_length=64), Tag("token-arrays")
    ],
    Discriminator(_text_or_tokens),
]


class CompletionRequest(_Body):
    model: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    # null is the spec's default, "<|endoftext|>": the model starts a new document
    prompt: Annotated[Prompt, _null_is(ENDOFTEXT)]
    max_tokens: Annotated[WholeInt, Field(ge=0), _null_is(16)] = 16  # the legacy endpoint's default
    temperature: Temperature | None = None
    top_p: TopP | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logit_bias: dict[StrictStr, WholeInt] | None = None
    n: Choices = 1
    best_of: Annotated[WholeInt, Field(ge=0, le=20)] | None = None
    stream: Flag = False
    stream_options: StreamOptions | None = None
    logprobs: Annotated[WholeInt, Field(ge=0, le=5)] | None = None
    echo: Flag = False
    seed: Seed | None = None
    stop: Stop = None
    suffix: StrictStr | None = None
    user: StrictStr | None = None


# Tags carry a "-" so error locations drop them (errors._param_of): 'input[1]', not 'input.many-texts[1]'.
EmbeddingInput = Annotated[
    Annotated[StrictStr, Field(max_length=MAX_STR), Tag("one-text")]
    | Annotated[
        list[Annotated[StrictStr, Field(max_length=MAX_STR)]], Field(min_length=1, max_length=2048), Tag("many-texts")
    ]
    | Annotated[list[WholeInt], Field(min_length=1), Tag("token-ids")]
    | Annotated[list[list[WholeInt]], Field(min_length=1, max_length=2048), Tag("token-arrays")],
    Discriminator(_text_or_tokens),
]


class EmbeddingRequest(_Body):
    model: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[WholeInt, Field(ge=1)] | None = None
    user: StrictStr | None = None


BodyT = TypeVar("BodyT", bound=BaseModel)
INLINE_BODY_BYTES = 256 * 1024
BODIES: tuple[type[BaseModel], ...] = (ChatCompletionRequest, CompletionRequest, EmbeddingRequest)


async def parse_body(request: Request, model: type[BodyT]) -> BodyT:
    """Validate the raw JSON body with Pydantic's own parser.

    Routes read their bodies this way instead of declaring a body parameter: FastAPI's
    body dependency costs ~20 us a request (bench/), a fifth of the mock's budget. The
    schema still reaches the OpenAPI document through :func:`body_schema`.
    """
    raw = await request.body()
    try:
        if len(raw) > INLINE_BODY_BYTES:  # a megabyte body takes a tenth of a second: off the loop
            return await run_in_threadpool(_validate, model, raw)
        return _validate(model, raw)
    except ValidationError as exc:
        raise validation_error(exc.errors(include_url=False)) from None


def _validate(model: type[BodyT], raw: bytes) -> BodyT:
    """``raw`` as a ``model``; NaN, Infinity and -Infinity make it a body that is not JSON.

    Pydantic's parser takes those constants (as Python's does), even where a field is
    ``Any``, such as a JSON schema's ``const``, and they would come back out as text no JSON
    parser reads; OpenAI answers with its invalid-JSON 400. Only a body holding one of
    those words is parsed twice.
    """
    if b"NaN" in raw or b"Infinity" in raw:
        try:
            from_json(raw, allow_inf_nan=False)
        except ValueError:
            raise validation_error([{"type": "json_invalid", "loc": (), "msg": "Invalid JSON"}]) from None
    return model.model_validate_json(raw)


def openapi_components() -> dict[str, Any]:
    """The request models' schemas, for the OpenAPI document's components."""
    out: dict[str, Any] = {}
    for model in BODIES:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out
