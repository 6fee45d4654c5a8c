"""mock_llm: an OpenAI-compatible mock LLM server for offline workshops.

Three ways to use it:

- ``python -m mock_llm`` (or ``make mock``): a real HTTP server;
- ``mock_llm.ensure_server()`` from a notebook: reuses a running server or starts one
  in a background thread, and returns its base URL for ``openai.OpenAI(base_url=...)``;
- ``mock_llm.InProcessMock()``: the app behind in-process SDK clients for fast tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

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

# Imported on first use: the server pulls in uvicorn and the clients the openai SDK,
# which graders and tests that need neither should not pay for.
_LAZY = {
    "create_app": "app",
    "CATALOGUE": "catalogue",
    "ModelSpec": "catalogue",
    "openai_client": "connect",
    "InProcessMock": "inprocess",
    "ensure_server": "server",
    "stop_servers": "server",
    "Settings": "settings",
}

if TYPE_CHECKING:
    from .app import create_app
    from .catalogue import CATALOGUE, ModelSpec
    from .connect import openai_client
    from .inprocess import InProcessMock
    from .server import ensure_server, stop_servers
    from .settings import Settings


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mock_llm' has no attribute {name!r}")
