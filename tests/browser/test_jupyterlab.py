"""Do the labs and solutions run in JupyterLab, started as `make lab` starts it, in a real browser?

Headless Chromium (Debian's, driven by Playwright; nothing is downloaded) opens every
notebook in a copy of labs/ and solutions/, runs all cells from the Run menu, and reads
what an attendee would see: error outputs, widgets, plots. A full-page screenshot of
each notebook lands in build/screenshots/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from scripts.lab import jupyter_launch, start_mock, stop
from tests.grader.test_notebooks_execute import assert_solution_ran_clean, assert_untouched_lab_ran_to_the_end

from . import CHROMIUM, CHROMIUM_ARGS, ROOT, SHOTS
from .outputs import Cell, inspect

RUN_TIMEOUT_MS = 150_000  # one notebook, Run All to idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (the dev extra)")

NOTEBOOKS = sorted(
    nb.relative_to(ROOT).as_posix() for folder in ("labs", "solutions") for nb in (ROOT / folder).glob("*.ipynb")
)

READ_CELLS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')).map(cell => ({
    code: cell.classList.contains('jp-CodeCell'),
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    outputs: Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(out => ({
        mime: out.getAttribute('data-mime-type') || '',
        text: out.textContent,
        images: out.querySelectorAll('img').length,
        widgets: out.querySelectorAll('.jupyter-widgets').length,
    })),
}))"""
# textContent, not innerText: JupyterLab skips rendering off-screen cells (content-visibility),
# and innerText of an unrendered element is empty.
PROMPTS = "Array.from(document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')).map(p => p.textContent)"
FINISHED = f"""() => {{
    const prompts = {PROMPTS};
    const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('*'))
        && indicator !== null && indicator.getAttribute('data-status') === 'idle';
}}"""


@dataclass
class Server:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """JupyterLab as `make lab` starts it, with its mock, on free ports, over a copy of labs/ and solutions/."""
    root = tmp_path_factory.mktemp("jupyterlab")
    for folder in ("labs", "solutions"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    # The labs must reach the mock, not a provider someone's shell points at.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    # JupyterLab's user settings in a folder of the test's own, with cell timing recorded in
    # the saved notebook (the demo time limits are checked on it). The kit sets nothing there.
    settings = root / "user-settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"recordTiming": True}))
    environ["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    mock_port, port, token = free_port(), free_port(), secrets.token_hex(16)
    mock = start_mock("127.0.0.1", mock_port, environ)
    launch = jupyter_launch(
        notebook_dir=root, mock_port=mock_port, port=port, token=token, open_browser=False, environ=environ
    )
    log = root / "jupyterlab.log"
    with log.open("wb") as out:
        lab = subprocess.Popen(launch.command, env=launch.env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    try:
        running = Server(f"http://127.0.0.1:{port}", token, root, log)
        deadline = time.monotonic() + 60
        while True:
            try:
                running.api("GET", "/api/status")
                break
            except OSError:
                assert lab.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        errors = [line for line in log.read_text().splitlines() if line.startswith("[E ")]
        assert errors == [], "JupyterLab logged errors at start:\n" + "\n".join(errors)
        yield running
    finally:
        stop(lab, timeout=20)
        if mock is not None:
            stop(mock)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def run_all(page: Any, server: Server, notebook: str) -> None:
    workspace = re.sub(r"\W", "-", notebook)  # a fresh workspace: no tabs restored from another test
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={server.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # The status bar says "LLM production kit | Idle" once the kernel has started and connected.
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))"
        ".some(e => e.textContent.endsWith('| Idle'))",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)  # time for any start-up dialog or notification to show
    chrome = page.evaluate(
        """() => ({
            kernel: (document.querySelector('.jp-Toolbar-kernelName') || {}).textContent,
            dialogs: Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText),
            toasts: Array.from(document.querySelectorAll('.Toastify__toast')).map(t => t.innerText),
            menus: Array.from(document.querySelectorAll('.lm-MenuBar-itemLabel')).map(m => m.innerText),
            tabs: Array.from(document.querySelectorAll('.lm-TabBar-tab')).map(t => t.getAttribute('title') || ''),
        })"""
    )
    assert chrome["dialogs"] == [] and chrome["toasts"] == [], f"pop-ups on opening {notebook}: {chrome}"
    assert chrome["kernel"] == "LLM production kit", f"{notebook} opened with kernel {chrome['kernel']!r}"
    assert "Run" in chrome["menus"], chrome["menus"]
    nbgrader = [m for m in chrome["menus"] + chrome["tabs"] if "nbgrader" in m.lower()]
    assert nbgrader == [], f"attendees must not see nbgrader's authoring tools: {nbgrader}"
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(FINISHED, timeout=RUN_TIMEOUT_MS, polling=250)
    # Widgets render after their models arrive: give "Loading widget..." a bounded chance to go.
    with contextlib.suppress(sync_api.TimeoutError):  # if it stays, it is reported as widget trouble
        page.wait_for_function(
            "() => !Array.from(document.querySelectorAll('.jp-OutputArea-output'))"
            ".some(o => o.textContent.includes('Loading widget...'))",
            timeout=15_000,
        )


def save(page: Any, server: Server, notebook: str) -> nbformat.NotebookNode:
    """Save the notebook as JupyterLab holds it, outputs and cell timings included; read it back."""
    path = server.root / notebook
    before = path.stat().st_mtime_ns
    # From the File menu, as Run All came from the Run menu: a click in the notebook could land on a widget.
    page.click(".lm-MenuBar-itemLabel:text-is('File')")
    page.click(".lm-Menu-itemLabel:text-is('Save Notebook')")
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"JupyterLab did not save {notebook}"
        time.sleep(0.1)
    while True:  # the file is written in one piece by JupyterLab's server; a read may race the write
        try:
            return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        except (ValueError, nbformat.reader.NotJSONError):
            assert time.monotonic() < deadline, f"{notebook} as saved is not a notebook"
            time.sleep(0.1)


def screenshot(page: Any, notebook: str) -> Path:
    """The whole notebook in one image: a window as tall as its content, scrolled to the top."""
    panel = "document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')"
    height = page.evaluate(f"() => {panel} ? {panel}.scrollHeight : 750")
    # Headless Chromium renders in software, so a window this tall is fine (checked to 30,000 px).
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 150, 40_000)})
    page.evaluate(f"() => {{ if ({panel}) {panel}.scrollTop = 0; }}")
    page.wait_for_timeout(1000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / notebook.replace("/", "-").replace(".ipynb", ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.mark.parametrize("notebook", NOTEBOOKS)  # labs/ and solutions/ may run on two workers
def test_notebook_runs_in_jupyterlab(server: Server, browser: Any, notebook: str) -> None:
    """Run All: solutions show no error at all; labs only their stubs' NotImplementedError; plots and widgets render."""
    student = notebook.startswith("labs/")
    source = json.loads((server.root / notebook).read_text())["cells"]
    page = browser.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        try:
            run_all(page, server, notebook)
        finally:
            shot = screenshot(page, notebook)  # also when the run failed: the picture says why
        shown = page.evaluate(READ_CELLS)
        died = page.evaluate("() => Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText)")
        saved = save(page, server, notebook) if died == [] else None
    finally:
        page.close()
        with contextlib.suppress(OSError):  # free the kernel's memory before the next notebook
            for session in server.api("GET", "/api/sessions"):
                server.api("DELETE", f"/api/sessions/{session['id']}")

    assert len(shown) == len(source), "JupyterLab left cells out of the page (windowing?); cannot inspect them"
    cells = [
        Cell(i, "".join(raw["source"]), bool(re.search(r"\[\d+\]", cell["prompt"])), cell["outputs"])
        for i, (raw, cell) in enumerate(zip(source, shown, strict=True))
        if cell["code"]
    ]
    found = inspect(cells, student=student)
    where = f"{notebook} ({found.summary()}; screenshot {shot.relative_to(ROOT)})"
    # Stub errors are expected in a fresh lab, so they do not fail the test: this report counts them.
    report = [where, *(f"  stub: {e}" for e in found.stub_errors), *(f"  unexpected: {e}" for e in found.unexpected)]
    shot.with_suffix(".txt").write_text("\n".join(report) + "\n")
    assert died == [], f"{where}: a dialog opened while running: {died}"
    assert found.unexpected == [], f"{where}: unexpected error output:\n" + "\n".join(found.unexpected)
    assert found.widget_trouble == [], f"{where}: widgets did not render:\n" + "\n".join(found.widget_trouble)
    assert found.missing_plots == [], f"{where}: plotting cells ran without showing an image: {found.missing_plots}"
    assert found.missing_widgets == [], f"{where}: widget cells ran without showing a widget: {found.missing_widgets}"
    assert page_errors == [], f"{where}: JavaScript errors in the page: {page_errors}"
    if not student:
        assert found.ran == len(cells), f"{where}: Run All stopped before the end"
        if any("plt." in c.source for c in cells):
            assert found.images, f"{where}: the notebook plots, but no image was rendered"
    # What the plain-kernel tests check (tests/grader/test_notebooks_execute.py), on the notebook
    # as JupyterLab saved it: every self-check's verdict, the summary, each demo within its time.
    assert saved is not None
    lab = Path(notebook).name[:2]
    if student:
        assert_untouched_lab_ran_to_the_end(saved, lab)
    else:
        assert_solution_ran_clean(saved, lab)
