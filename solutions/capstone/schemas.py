"""The API's bodies: lab 01's request and response models, the response extended for the cascade."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from . import labs

Tier = Literal["local", "cheap", "strong"]


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable error code (lab 01's kinds).")
    message: str = Field(description="What went wrong, for a person.")
    field: str | None = Field(default=None, description="The request field at fault, for invalid requests.")


class ErrorBody(BaseModel):
    """Lab 01's one error format."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (413, "The body is too large."),
        (422, "The body is not a valid request (lab 01's validation)."),
        (429, "The model provider is rate limiting us (with Retry-After); only when degradation is off."),
        (502, "The model provider failed or answered nonsense; only when degradation is off."),
        (503, "The model provider is unreachable; only when degradation is off."),
        (504, "The model provider did not answer within the deadline; only when degradation is off."),
    ]
}


def models() -> tuple[type[Any], type[Any]]:
    """``(SentimentRequest, CapstoneResponse)``: lab 01's request, and its response with three more fields."""
    lab01 = labs.lab("01")
    response = create_model(
        "CapstoneResponse",
        __base__=lab01.SentimentResponse,
        __doc__="What POST /classify answers: lab 01's fields, and where the answer came from.",
        tier=(Tier, Field(description="The cascade tier whose model gave the answer.")),
        degraded=(bool, Field(description="True when a fallback answered: not the healthy cascade's answer.")),
        source=(
            str | None,
            Field(
                default=None,
                description="'exact' or 'semantic' (a cache), 'fallback:...', or null (the tier answered now).",
            ),
        ),
    )
    return lab01.SentimentRequest, response
