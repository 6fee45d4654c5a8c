"""The baseline the capstone is measured against: lab 01's service as the lab builds it.

No cache, no cascade, no boundary: every request is one call to the default model, through
lab 01's own ``create_app``. ``python -m solutions.capstone --naive`` serves it.
"""

from __future__ import annotations

from typing import Any

import httpx2
import openai

from . import labs
from .settings import Settings


def create_naive_app(settings: Settings | None = None) -> Any:
    settings = settings or Settings.from_env()
    client = openai.AsyncOpenAI(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(
            limits=httpx2.Limits(max_connections=512, max_keepalive_connections=256)
        ),
    )
    lab01 = labs.lab("01")
    return lab01.create_app(client, timeout=settings.deadline_seconds, max_retries=0)
