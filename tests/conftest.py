from __future__ import annotations

from collections.abc import Iterator

import pytest

from mock_llm import InProcessMock, Settings
from mock_llm.server import BackgroundServer, start_background


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `pytest -n` (make test), a test runs on the same worker as the rest of its file, since module
    fixtures (a JupyterLab, a graded class, a server) are built once per worker, unless it names its own
    xdist_group (a catalogue's lab, a course per lab): those spread over the workers."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


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
