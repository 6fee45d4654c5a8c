from __future__ import annotations

from collections.abc import Iterator

import pytest

from mock_llm import InProcessMock, Settings
from mock_llm.server import BackgroundServer, start_background


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mock() -> InProcessMock:
    """A fresh in-process mock: no latency, seed 0, no faults."""
    return InProcessMock(Settings(latency=0.0))


@pytest.fixture(scope="session")
def server() -> Iterator[BackgroundServer]:
    """A real uvicorn server on a free loopback port, shared by the session."""
    background = start_background(Settings(port=0, latency=0.0))
    yield background
    background.stop()


@pytest.fixture
def live(server: BackgroundServer) -> Iterator[BackgroundServer]:
    """The shared real server with its ledger and faults reset around each test."""
    state = server.server.config.app.state.mock
    state.ledger.reset()
    state.accounts.clear()  # every API key's ledger and faults
    state.faults.configure(rates={}, seed=0)
    yield server
    state.faults.configure(rates={}, seed=0)
    state.accounts.clear()
