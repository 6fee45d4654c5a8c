"""The API's bodies: lab 01's request and response models, the response extended for the cascade."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from . import labs


def models() -> tuple[type[Any], type[Any]]:
    """``(SentimentRequest, CapstoneResponse)``: lab 01's request, and its response with three more fields."""
    lab01 = labs.lab("01")
    response = create_model(
        "CapstoneResponse",
        __base__=lab01.SentimentResponse,
        __doc__="What POST /classify answers: lab 01's fields, and where the answer came from.",
        tier=(Literal["local", "cheap", "strong"], Field(description="The cascade tier whose model gave the answer.")),
        degraded=(bool, Field(description="True when a fallback answered: not the healthy cascade's answer.")),
        source=(str | None, Field(default=None, description="'exact' or 'semantic' (a cache), 'fallback:...', "
                                  "or null (the tier answered now).")),
    )
    return lab01.SentimentRequest, response
