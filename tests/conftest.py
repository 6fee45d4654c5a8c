from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from mock_llm import InProcessMock, Settings
from mock_llm.server import BackgroundServer, start_background
from tests.browser import BROWSER_CAN_RUN

# Under `pytest -n` (make test) a file's tests run on one worker, as its module fixtures (a JupyterLab,
# a graded class, a server) are built once per worker; these files spread their tests over the workers
# by a part of the test's parameter, each part with fixtures of its own.
SPREAD = {
    "tests/grader/test_catalogue.py": r"(\d\d)-",  # a lab's entries are graded in one run
    "tests/grader/test_nbgrader.py": r"(\d\d)$",  # a course per lab for raw nbgrader
    "tests/browser/test_jupyterlab.py": r"(labs|solutions)/",  # a JupyterLab and a browser per folder
}


def worker_group(nodeid: str) -> str:
    """The tests that must share a worker: the file, or the file and the part of the parameter SPREAD names."""
    path, _, rest = nodeid.partition("::")
    param = re.search(r"\[(.*)\]$", rest)
    pattern = SPREAD.get(path)
    part = re.match(pattern, param.group(1)) if pattern and param else None
    return f"{path}::{part.group(1)}" if part else path


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scope scheduling with the groups above (its own xdist_group marks need pytest < 9.2)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return ByGroup(config, log)


# The plain-kernel runs of the shipped notebooks, and the browser test that makes the same assertions.
PLAIN_KERNEL_RUNS = (
    "tests/grader/test_notebooks_execute.py::test_solution_notebook_runs_clean",
    "tests/grader/test_notebooks_execute.py::test_untouched_student_notebook_runs_to_the_last_cell",
)
BROWSER_RUNS = "tests/browser/test_jupyterlab.py::test_notebook_runs_in_jupyterlab"


@pytest.hookimpl(trylast=True)  # after `-m` and `-k` have deselected what they deselect
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run each shipped notebook once: in JupyterLab when the browser test will run, else in a plain kernel."""
    if not BROWSER_CAN_RUN or not any(item.nodeid.startswith(BROWSER_RUNS) for item in items):
        return
    skip = pytest.mark.skip(reason="tests/browser runs this notebook in JupyterLab and asserts the same on it")
    for item in items:
        if item.nodeid.startswith(PLAIN_KERNEL_RUNS):
            item.add_marker(skip)


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
