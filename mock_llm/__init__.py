"""mock_llm: an OpenAI-compatible mock LLM server for offline workshops.

Three ways to use it:

- ``python -m mock_llm`` (or ``make mock``): a real HTTP server;
- ``mock_llm.ensure_server()`` from a notebook: reuses a running server or starts one
  in a background thread, and returns its base URL for ``openai.OpenAI(base_url=...)``;
- ``mock_llm.InProcessMock()``: the app behind in-process SDK clients for fast tests.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .app import create_app
from .catalogue import CATALOGUE, ModelSpec
from .connect import openai_client
from .inprocess import InProcessMock
from .server import ensure_server, stop_servers
from .settings import Settings

__all__ = [
    "CATALOGUE",
    "InProcessMock",
    "ModelSpec",
    "Settings",
    "create_app",
    "ensure_server",
    "openai_client",
    "stop_servers",
]
