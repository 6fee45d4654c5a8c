"""Request bodies of the OpenAI endpoints the mock serves (Pydantic 2).

Unknown parameters are accepted and ignored, as older and newer SDKs send fields the
mock has no use for; the fields it uses are validated as strictly as OpenAI does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

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


def as_dict(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=True)
