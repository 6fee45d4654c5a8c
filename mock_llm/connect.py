"""One switch between the mock and a real provider, for notebooks and services.

Labs build their SDK clients with :func:`openai_client`. With no configuration it
starts (or reuses) the local mock and needs no key. Set ``OPENAI_BASE_URL`` (and
``OPENAI_API_KEY``) to send the same code to a real OpenAI-compatible provider.
"""

from __future__ import annotations

import os
from typing import Any

import openai

from .server import ensure_server

MOCK_KEY = "mock-key-not-secret"


def base_url() -> str:
    """``OPENAI_BASE_URL`` when set, else the URL of a running (or newly started) mock."""
    configured = os.environ.get("OPENAI_BASE_URL")
    return configured if configured else ensure_server()


def openai_client(*, asynchronous: bool = False, **kwargs: Any) -> openai.OpenAI | openai.AsyncOpenAI:
    """An official SDK client for the mock, or for the provider ``OPENAI_BASE_URL`` names."""
    kwargs.setdefault("base_url", base_url())
    kwargs.setdefault("api_key", os.environ.get("OPENAI_API_KEY") or MOCK_KEY)
    return openai.AsyncOpenAI(**kwargs) if asynchronous else openai.OpenAI(**kwargs)
