"""Do the notebooks run top to bottom in a real Jupyter kernel?"""

from __future__ import annotations

import socket
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .helpers import LABS, SOLUTIONS, STEMS

KERNEL = "llm-prod-kit"


@pytest.fixture(autouse=True)
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel inherits this: a free port for the mock it may start, no simulated latency, no GUI."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MOCK_LLM_PORT", str(port))
    monkeypatch.setenv("MOCK_LLM_LATENCY", "off")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name=KERNEL, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str, str, bool]]:
    out = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                is_test = bool(cell.metadata.get("nbgrader", {}).get("grade"))
                out.append((index, output["ename"], output["evalue"][:200], is_test))
    return out


@pytest.mark.parametrize("stem", STEMS.values())
def test_solution_notebook_runs_clean(stem: str) -> None:
    nb = execute(SOLUTIONS / f"{stem}.ipynb")
    assert errors(nb) == []
    ticks = [o["text"] for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout"]
    assert any("\u2713" in t for t in ticks), "the self-check cells report their passes"
    assert not [
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stderr" and c.metadata.get("nbgrader", {}).get("grade")
    ], "nbgrader scores any stderr in a test cell as 0"


@pytest.mark.parametrize("stem", STEMS.values())
def test_student_notebook_runs_with_only_expected_failures(stem: str) -> None:
    """Exercises raise NotImplementedError, self-checks fail with AssertionError; nothing else breaks."""
    nb = execute(LABS / f"{stem}.ipynb")
    found = errors(nb)
    assert found, "a fresh notebook has failing exercises"
    for index, name, value, is_test in found:
        assert name == "NotImplementedError" or (is_test and name == "AssertionError"), (index, name, value)
    summary = [o["text"] for c in nb.cells for o in c.get("outputs", []) if "public checks passed" in o.get("text", "")]
    assert summary and "0 of" in summary[-1]
