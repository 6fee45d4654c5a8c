"""Do the notebooks run top to bottom in a real Jupyter kernel, as a learner's Run All does?"""

from __future__ import annotations

import json
import re
import socket
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.registry import checks_for

from .helpers import LABS, SOLUTIONS, STEMS

pytestmark = pytest.mark.slow

KERNEL = "llm-prod-kit"
DEMO_SECONDS = 30.0  # the most any demo cell may take, whatever the learner wrote


@pytest.fixture(autouse=True)
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel inherits this: a free port for the mock it may start, no simulated latency, no GUI.

    NBGRADER_EXECUTION is unset, as in JupyterLab: a failed self-check shows its verdict and does not raise.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MOCK_LLM_PORT", str(port))
    monkeypatch.setenv("MOCK_LLM_LATENCY", "off")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def execute(nb: nbformat.NotebookNode, folder: Path, cell_timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started in ``folder``, recording each cell's timing."""
    NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name=KERNEL,
        allow_errors=True,
        record_timing=True,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return nb


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def text_of(cell: nbformat.NotebookNode) -> str:
    """What a cell shows as text: its streams and the text/plain of what it displays."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif output.get("output_type") in {"display_data", "execute_result"}:
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    return [
        (index, output["ename"], output["evalue"][:200])
        for index, cell in enumerate(nb.cells)
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def check_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The self-check cells that call a check (hidden ones only where their code is present), by grade_id."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade") and "nb.check(" in cell.source
    }


def verdicts(cell: nbformat.NotebookNode) -> list[str]:
    """The verdict lines a self-check cell displays: one per check, starting with a tick or a cross."""
    return [line for line in text_of(cell).splitlines() if line.startswith(("\u2713", "\u2717"))]


def is_demo(cell: nbformat.NotebookNode) -> bool:
    return "demo" in cell.metadata.get("tags", [])


def seconds(cell: nbformat.NotebookNode) -> float:
    timing = cell.metadata["execution"]
    started = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    return (ended - started).total_seconds()


def slow_demos(nb: nbformat.NotebookNode) -> list[tuple[int, str, float]]:
    return [
        (index, cell.source.splitlines()[0], seconds(cell))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and is_demo(cell) and seconds(cell) > DEMO_SECONDS
    ]


def summaries(nb: nbformat.NotebookNode, lab: str) -> list[str]:
    return [text for cell in nb.cells if f"Lab {lab}, public self-checks:" in (text := text_of(cell))]


def assert_ran_to_the_end(nb: nbformat.NotebookNode) -> None:
    not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    assert not not_run, f"cells never ran: {not_run}"
    assert errors(nb) == [], "no cell may raise: Run All must reach the last cell"
    tracebacks = [i for i, c in enumerate(nb.cells) if "Traceback" in text_of(c)]
    assert not tracebacks, f"cells printing a traceback: {tracebacks}"


# Chromium runs every notebook in JupyterLab (tests/browser) and makes the same assertions on
# what it saved; where it cannot, or its test is not among those selected, a plain kernel runs
# the notebook here instead (tests/conftest.py skips these when the browser's will run).


@pytest.mark.parametrize("lab", STEMS)
def test_solution_notebook_runs_clean(lab: str) -> None:
    assert_solution_ran_clean(execute(read(SOLUTIONS / f"{STEMS[lab]}.ipynb"), SOLUTIONS), lab)


@pytest.mark.parametrize("lab", STEMS)
def test_untouched_student_notebook_runs_to_the_last_cell(lab: str) -> None:
    assert_untouched_lab_ran_to_the_end(execute(read(LABS / f"{STEMS[lab]}.ipynb"), LABS), lab)


def assert_solution_ran_clean(nb: nbformat.NotebookNode, lab: str) -> None:
    """The reference: no error, every self-check cell (hidden ones included) shows a pass, demos on time."""
    assert_ran_to_the_end(nb)
    cells = check_cells(nb)
    assert set(cells) == {c.id for c in checks_for(lab)}
    for check_id, cell in cells.items():
        shown = verdicts(cell)
        assert len(shown) == 1 and shown[0].startswith(f"\u2713 {check_id} "), (check_id, text_of(cell)[:500])
        stderr = [o for o in cell.get("outputs", []) if o.get("name") == "stderr"]
        assert not stderr, f"{check_id}: nbgrader scores any stderr in a test cell as 0"
    [summary] = summaries(nb, lab)
    assert "  core: " in summary and "  stretch: " in summary
    assert slow_demos(nb) == []


def assert_untouched_lab_ran_to_the_end(nb: nbformat.NotebookNode, lab: str) -> None:
    """A fresh lab under Run All: no cell raises, every public self-check shows its failure, one summary."""
    assert_ran_to_the_end(nb)
    cells = check_cells(nb)
    assert set(cells) == {c.id for c in checks_for(lab) if c.visibility == "public"}
    for check_id, cell in cells.items():
        shown = verdicts(cell)
        assert len(shown) == 1 and shown[0].startswith(f"\u2717 {check_id} "), (check_id, text_of(cell)[:500])
        assert "hint:" in text_of(cell), check_id
    [summary] = summaries(nb, lab)
    assert "  core: 0 of " in summary and "  stretch: 0 of " in summary, summary
    for index, cell in enumerate(nb.cells):
        if is_demo(cell):
            assert text_of(cell).strip(), f"demo cell {index} shows nothing: it should say what to finish first"
        if cell.metadata.get("nbgrader", {}).get("grade") and "nb.check(" not in cell.source:
            assert not cell.get("outputs"), f"hidden check cell {index} shows {text_of(cell)!r}"
    assert slow_demos(nb) == []


# --- a naive learner: demos stay bounded whatever the code they call does -----------------------

NAIVE_SEMANTIC_CACHE = '''
class SemanticCache:
    """A first attempt: a list scanned in Python{extra_doc}."""

    def __init__(self, similarity_threshold=0.85, *, max_entries=10_000, ttl_seconds=None, clock=time.monotonic,
                 embed=None, client=None, model=EMBEDDING_MODEL):
        self.similarity_threshold = similarity_threshold
        self._embed, self._client, self.model = embed, client, model
        self.entries = []
        self.matrix = None

    def get_embedding(self, text):
        if self._embed is not None:
            return np.asarray(self._embed(text), dtype=float)
        if self._client is None:
            self._client = mock_llm.openai_client()
        return np.asarray(self._client.embeddings.create(model=self.model, input=text).data[0].embedding)

    def add(self, query, response, scope=""):
        vector = self.get_embedding(query)
        self.entries.append((query, vector, response))
{add_extra}
    def find_similar(self, query, scope=""):
        q = self.get_embedding(query)
        best, best_score = None, -2.0
        for _, vector, response in self.entries:
            score = cosine_similarity(q, vector)
            if score > best_score:
                best, best_score = response, score
        return best if best_score >= self.similarity_threshold else None

    def __len__(self):
        return len(self.entries)
'''

PURE_PYTHON_COSINE = '''
def cosine_similarity(a, b):
    """Cosine similarity, one Python multiplication at a time."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    norm_a, norm_b = sum(x * x for x in a) ** 0.5, sum(x * x for x in b) ** 0.5
    if norm_a == 0 or norm_b == 0:
        return 0.0
    return max(-1.0, min(1.0, sum(x * y for x, y in zip(a, b)) / (norm_a * norm_b)))
'''

VSTACK_ADD = "        self.matrix = vector[None] if self.matrix is None else np.vstack([self.matrix, vector])\n"

HANGING_CLASSIFY = '''
class UpstreamError(Exception):
    def __init__(self, kind, message, retry_after=None):
        super().__init__(message)
        self.kind, self.message, self.retry_after = kind, message, retry_after


async def classify_sentiment(client, text, *, model=DEFAULT_MODEL, timeout=10.0):
    """Forgets the timeout, and the upstream never answers."""
    await asyncio.sleep(3600)
'''

BLOCKING_RATE_LIMIT = '''
class RateLimitFallback(Fallback):
    """A first attempt: "wait and retry" with time.sleep, the way synchronous code does it."""

    name = "rate_limit"
    degraded = False

    def __init__(self, max_attempts=3, base_delay=0.5, max_delay=8.0, *, sleep=asyncio.sleep, rng=None,
                 clock=time.monotonic):
        self.max_attempts = max_attempts

    def can_handle(self, error):
        return isinstance(error, openai.RateLimitError)

    async def execute(self, request, error, call):
        for _ in range(self.max_attempts):
            time.sleep(2)  # blocks the event loop: every other request waits too
            try:
                return Answer(await call(request), source=self.name)
            except openai.RateLimitError as exc:
                error = exc
        raise error
'''

REAL_SLEEP_RETRIES = '''
def retry_delay(error, attempt, *, base_delay=0.5, max_delay=8.0):
    return min(base_delay * 2**attempt, max_delay)


async def resilient_ask(client, prompt, *, attempts=3, timeout=5.0, retry_timeout=2.0, sleep=asyncio.sleep):
    """A first attempt: retries that wait in real time, whatever sleep it is given."""
    for attempt in range(attempts):
        try:
            return Answer(await ask(client, prompt, timeout=timeout))
        except Exception as exc:
            await asyncio.sleep(retry_delay(exc, attempt))
    return Answer(FALLBACK_TEXT, source="fallback", degraded=True)
'''

REAL_SLEEP_BOUNDARY = '''
class Boundary:
    """A first attempt: retries that wait in real time, whatever clock it is given."""

    def __init__(self, upstream, clock, *, call_timeout=1.0, retries=1, failure_threshold=5, cooldown_seconds=5.0):
        self.upstream, self.clock, self.call_timeout, self.retries = upstream, clock, call_timeout, retries

    async def call(self, model, text, deadline_at):
        for attempt in range(self.retries + 1):
            try:
                return await self.upstream.classify(model, text, timeout=self.call_timeout)
            except ProviderError as exc:
                if attempt == self.retries:
                    raise
                await asyncio.sleep(1.0)  # a second to let the provider recover
'''

NAIVE = {
    # (lab, {solution cell grade_id: replacement source}, a phrase the demos must print)
    "02-python-loop": (
        "02",
        {
            "02-cosine-solution": PURE_PYTHON_COSINE,
            "02-cache-solution": NAIVE_SEMANTIC_CACHE.format(extra_doc="", add_extra=""),
        },
        None,
    ),
    "02-vstack-on-every-add": (
        "02",
        {
            "02-cache-solution": NAIVE_SEMANTIC_CACHE.format(
                extra_doc=", with a matrix copied on every add",
                add_extra=VSTACK_ADD,
            )
        },
        "stopped early",
    ),
    "01-upstream-hangs": ("01", {"01-classify-solution": HANGING_CLASSIFY}, "Stopped early"),
    "03-blocking-backoff": ("03", {"03-rate-limit-solution": BLOCKING_RATE_LIMIT}, "Stopped early"),
    "06-real-sleep-retries": ("06", {"06-resilient-solution": REAL_SLEEP_RETRIES}, "Stopped early"),
    "07-real-sleep-boundary": ("07", {"07-boundary-solution": REAL_SLEEP_BOUNDARY}, "stopped early"),
}


def naive_notebook(lab: str, replacements: dict[str, str]) -> nbformat.NotebookNode:
    """The reference with some exercises replaced by naive code, and no self-check cells (graded elsewhere)."""
    nb = read(SOLUTIONS / f"{STEMS[lab]}.ipynb")
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            continue
        if meta.get("grade_id") in replacements:
            cell.source = replacements[meta["grade_id"]].strip()
        cells.append(cell)
    assert len({c.metadata.get("nbgrader", {}).get("grade_id") for c in cells} & set(replacements)) == len(replacements)
    nb.cells = cells
    return nb


@pytest.mark.parametrize("learner", NAIVE)
def test_demos_stay_bounded_with_a_naive_learner(learner: str) -> None:
    """Every demo cell finishes within DEMO_SECONDS, and says so when it stopped early."""
    lab, replacements, phrase = NAIVE[learner]
    nb = execute(naive_notebook(lab, replacements), SOLUTIONS, cell_timeout=120)
    assert_ran_to_the_end(nb)
    timed = [(i, round(seconds(c), 1)) for i, c in enumerate(nb.cells) if c.cell_type == "code" and is_demo(c)]
    print(f"{learner}: demo cell seconds {timed}")
    assert slow_demos(nb) == []
    if phrase:
        assert any(phrase in text_of(c) for c in nb.cells if is_demo(c)), f"no demo said {phrase!r}"


# --- how each lab reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("lab", STEMS)
def test_hint_cells_stay_collapsed_in_the_lab(lab: str) -> None:
    """Hint cells are closed <details> blocks: collapsed in JupyterLab, nbconvert and on GitHub alike."""

    def hints(path: Path) -> list[str]:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [
            "".join(c["source"])
            for c in cells
            if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("<details>")
        ]

    source, released = hints(SOLUTIONS / f"{STEMS[lab]}.ipynb"), hints(LABS / f"{STEMS[lab]}.ipynb")
    assert source and released == source
    for hint in source:
        assert hint.startswith("<details><summary>Hint for ") and hint.rstrip().endswith("</details>")
        assert "<details open" not in hint


@pytest.mark.parametrize("lab", STEMS)
def test_intro_states_core_and_stretch_points_as_the_registry_counts_them(lab: str) -> None:
    intro = "".join(json.loads((SOLUTIONS / f"{STEMS[lab]}.ipynb").read_text(encoding="utf-8"))["cells"][0]["source"])
    stated = {part: int(n) for part, n in re.findall(r"\*\*(Core|Stretch): (\d+) points\*\*", intro)}
    counted = {
        part.capitalize(): sum(c.points for c in checks_for(lab) if c.part == part) for part in ("core", "stretch")
    }
    assert stated == counted
