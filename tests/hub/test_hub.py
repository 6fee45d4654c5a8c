"""Does a hosted room work as an organiser runs it: three attendees, one mock, their own ledgers, graded?

A real JupyterHub (hub/jupyterhub_config.py, its configurable-http-proxy from npm) on
loopback ports, with the student kit built fresh from labs/. Three attendees log in
through headless Chromium with the codes on their cards; each gets a server of their own
with a copy of the kit, opens lab 01, runs its code and a self-check, saves, and runs the
room check, which must show their own ledger on the room's one mock. The instructor then
collects the notebooks (copies) and grades them with `make grade`'s engine.

Screenshots: build/screenshots/hub-*.png. Every process the hub starts is stopped by the
hub itself (checked), or by this test when the hub fails to.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.registry import checks_for

from ..browser import CHROMIUM, CHROMIUM_ARGS, SHOTS

ROOT = Path(__file__).resolve().parents[2]
NPM_PREFIX = ROOT / "build" / "hub-npm"  # where the test installs configurable-http-proxy when it is missing
LAB = "01_production_api"
# How many times each attendee runs lab 01's legacy-call cell: with the room check's one
# call, their ledgers must say 1, 2 and 3 calls, whatever the others did.
LEGACY_RUNS = {"ada": 0, "grace": 1, "linus": 2}
# What each attendee does: ada finished the lab, grace has not started its code, linus has
# an off-by-one in the length limit (caught by 01-request-invalid).
SELF_CHECK = {"ada": "01-request-valid", "grace": "01-request-valid", "linus": "01-request-invalid"}
OFF_BY_ONE = ("if len(value) > MAX_TEXT_CHARS:", "if len(value) > MAX_TEXT_CHARS + 1:")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.hub,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (the dev extra)")
pytest.importorskip("jupyterhub", reason="needs JupyterHub from PyPI (the dev extra)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proxy_command() -> str:
    """configurable-http-proxy from PATH, else installed with npm under build/ (once; reruns reuse it)."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    local = NPM_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("needs configurable-http-proxy from npm, and npm is not installed (apt-get install nodejs npm)")
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX), "configurable-http-proxy"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm could not install configurable-http-proxy within 5 minutes (no registry?)")
    if done.returncode != 0 or not local.exists():
        pytest.skip(f"npm could not install configurable-http-proxy: {(done.stderr or done.stdout)[-500:]}")
    return str(local)


def ours(markers: list[str]) -> list[int]:
    """PIDs of processes whose environment holds one of these exact NAME=value strings (this test's only)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(m.encode() in environ for m in markers):
            found.append(int(proc.name))
    return found


def wait_until(what: str, predicate: Any, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{tail}")
        time.sleep(0.3)


def answers(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5):
            return True
    except urllib.error.HTTPError as answer:
        answer.close()
        return True  # an answer, even a 4xx, means it is up
    except OSError:
        return False


def get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class Hub:
    url: str
    env: dict[str, str]
    state: Path
    homes: Path
    kit: Path
    log: Path
    mock_url: str

    def room(self) -> Any:
        from hub.room import Room

        return Room.from_env(self.env)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The room's hub on loopback ports, with a student kit built from labs/ and a roster of three."""
    from grader.release import build_kit

    proxy = proxy_command()
    base = tmp_path_factory.mktemp("hub")
    kit = base / "student"
    build_kit(kit)  # the student kit as `make release` writes it (labs/ itself is left alone)
    roster = base / "roster.txt"
    roster.write_text("# the room\n" + "\n".join(LEGACY_RUNS) + "\n")
    state = base / "state"
    ports = {name: free_port() for name in ("KIT_HUB_PORT", "KIT_HUB_API_PORT", "KIT_HUB_PROXY_API_PORT")}
    mock_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "KIT_HUB_", "MOCK_LLM_"))}
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        KIT_HUB_STATE=str(state),
        KIT_HUB_KIT=str(kit),
        KIT_HUB_ROSTER=str(roster),
        KIT_HUB_MOCK_PORT=str(mock_port),
        KIT_HUB_PROXY=proxy,
        KIT_HUB_IP="127.0.0.1",
    )
    log = base / "jupyterhub.log"
    running = Hub(
        f"http://127.0.0.1:{ports['KIT_HUB_PORT']}",
        env,
        state,
        state / "homes",
        kit,
        log,
        f"http://127.0.0.1:{mock_port}",
    )
    operator = running.room().operator_token  # made now, so this test can find the mock by it
    # The servers carry KIT_SOURCE, the mock its token, the proxy and culler the hub's KIT_HUB_STATE.
    markers = [f"KIT_SOURCE={kit}", f"MOCK_LLM_OPERATOR_TOKEN={operator}", f"KIT_HUB_STATE={state}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "hub" / "jupyterhub_config.py")],
            cwd=base,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until("the hub answers", lambda: answers(f"{running.url}/hub/api/"), 120, log)
        wait_until("the room's mock answers", lambda: answers(f"{running.mock_url}/v1/models"), 60, log)
        yield running
    finally:
        # The hub stops what it started (servers, proxy, services) on SIGTERM: give it the time it needs.
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        leftovers = ours(markers)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert leftovers == [], f"the hub left processes running (now killed): {leftovers}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: Any, name: str, whole: bool = False) -> Path:
    """A screenshot in build/screenshots; ``whole``: the open notebook top to bottom (a window as tall as it)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"hub-{name}.png"
    if whole:
        panel = "document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')"
        height = page.evaluate(f"() => {panel} ? {panel}.scrollHeight : 750")
        page.set_viewport_size({"width": 1280, "height": min(int(height) + 150, 10_000)})
        page.evaluate(f"() => {{ if ({panel}) {panel}.scrollTop = 0; }}")
        page.wait_for_timeout(1000)
    page.screenshot(path=str(path), full_page=True)
    return path


def open_notebook(page: Any, hub: Hub, name: str, notebook: str) -> None:
    """Open one notebook in a fresh workspace (no tabs restored), as the browser test does; no pop-ups."""
    workspace = re.sub(r"\W", "-", notebook)
    page.goto(f"{hub.url}/user/{name}/lab/workspaces/{workspace}/tree/{notebook}?reset")
    wait_for_kernel(page, f"{name}'s {notebook}")


def wait_for_kernel(page: Any, what: str) -> None:
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))"
        ".some(e => e.textContent.endsWith('| Idle'))",
        timeout=90_000,
    )
    page.wait_for_timeout(1500)  # time for any start-up dialog to show
    chrome = page.evaluate(
        """() => ({
            kernel: (document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName')
                     || {}).textContent,
            dialogs: Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText),
        })"""
    )
    assert chrome["dialogs"] == [], f"pop-ups on opening {what}: {chrome['dialogs']}"
    assert chrome["kernel"] == "LLM production kit", f"{what} opened with kernel {chrome['kernel']!r}"


def visible_cells(page: Any) -> Any:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


def run_cell(page: Any, index: int, timeout_ms: int = 90_000) -> str:
    """Run one cell as an attendee does (select it, Shift+Enter); the text of its output."""
    cell = visible_cells(page).nth(index)
    prompt = cell.locator(".jp-InputArea-prompt")
    before = prompt.text_content() or ""
    cell.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Shift+Enter")
    handle = prompt.element_handle()
    page.wait_for_function(
        "([el, before]) => /\\[\\d+\\]/.test(el.textContent) && el.textContent !== before",
        arg=[handle, before],
        timeout=timeout_ms,
        polling=250,
    )
    return str(cell.locator(".jp-OutputArea").text_content() or "")


def index_of(notebook: Path, needle: str) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return next(i for i, c in enumerate(cells) if needle in "".join(c["source"]))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def attend(browser: Any, hub: Hub, name: str, results: dict[str, dict[str, str]]) -> None:
    """One attendee's first half hour: log in with their card, work on lab 01, save, run the room check."""
    room = hub.room()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", name)
        page.fill("#password_input", "not-the-code")
        page.click("#login_submit")
        page.wait_for_selector("#password_input", timeout=30_000)
        assert "Invalid username or password" in page.content(), "a wrong code must be refused"
        page.fill("#username_input", name)
        page.fill("#password_input", room.card_code(name))
        if name == "ada":
            shot(page, "login")
        page.click("#login_submit")
        # Spawning: the hub copies the kit and starts JupyterLab on the room check.
        page.wait_for_url(re.compile(rf"/user/{name}/lab"), timeout=180_000)
        wait_for_kernel(page, f"{name}'s first page")
        shot(page, f"{name}-first")

        labs = hub.homes / name / "kit" / "labs"
        notebook = labs / f"{LAB}.ipynb"
        assert digest(notebook) == digest(hub.kit / "labs" / f"{LAB}.ipynb"), "a fresh copy of the released lab"
        # The attendee's work, as it stands when they open the lab (written as their editor would).
        solution = json.loads((ROOT / "solutions" / f"{LAB}.ipynb").read_text())
        if name in ("ada", "linus"):
            text = json.dumps(solution, indent=1)
            if name == "linus":
                old, new = OFF_BY_ONE
                assert old in text
                text = text.replace(old, new)
            notebook.write_text(text)

        open_notebook(page, hub, name, f"{LAB}.ipynb")
        legacy = index_of(notebook, "legacy_client = mock_llm.openai_client")
        for _ in range(LEGACY_RUNS[name]):
            output = run_cell(page, legacy)
            assert "Positive" in output or "positive" in output.lower(), output
        run_cell(page, index_of(notebook, "MAX_TEXT_CHARS = "))
        run_cell(page, index_of(notebook, "class SentimentRequest("))
        check = SELF_CHECK[name]
        verdict = run_cell(page, index_of(notebook, f"nb.check('{check}')"))
        before = digest(notebook)
        page.keyboard.press("Control+s")
        wait_until(f"{name}'s save reaches the disk", lambda: digest(notebook) != before, 30)
        lab_shot = shot(page, f"{name}-lab01")

        open_notebook(page, hub, name, "room_check.ipynb")
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        # Finished: a cell numbered, none waiting ([*]), the kernel idle (a failing cell stops Run All).
        page.wait_for_function(
            """() => {
                const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                const prompts = Array.from(panel.querySelectorAll('.jp-InputArea-prompt')).map(p => p.textContent);
                const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
                return prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('*'))
                    && indicator !== null && indicator.getAttribute('data-status') === 'idle';
            }""",
            timeout=90_000,
            polling=250,
        )
        check_text = str(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").text_content())
        room_shot = shot(page, f"{name}-room-check", whole=True)
        results[name] = {
            "verdict": verdict,
            "room_check": check_text,
            "shots": f"{lab_shot.name}, {room_shot.name}",
            "errors": "; ".join(page_errors),
        }
    except Exception:
        shot(page, f"{name}-failed")  # what the attendee saw when it went wrong
        raise
    finally:
        context.close()


def memory_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@pytest.fixture(scope="module")
def room_day(hub: Hub, browser: Any) -> dict[str, dict[str, str]]:
    results: dict[str, dict[str, str]] = {}
    for name in LEGACY_RUNS:
        attend(browser, hub, name, results)
    # For sizing a room (docs/hosting.md): what one attendee's server and kernels hold after lab 01 and the check.
    room = hub.room()
    sizes = {name: memory_mb(ours([f"OPENAI_API_KEY={room.api_key(name)}"])) for name in LEGACY_RUNS}
    report = ROOT / "build" / "hub-sizing.txt"
    report.write_text("".join(f"{name}: {mb:.0f} MB resident (server and kernels)\n" for name, mb in sizes.items()))
    return results


def test_each_attendee_has_their_own_kit_kernel_and_ledger(hub: Hub, room_day: dict[str, dict[str, str]]) -> None:
    """The room check, in each attendee's browser: their own copy of the kit, and their own calls only."""
    for name, runs in LEGACY_RUNS.items():
        seen = room_day[name]["room_check"]
        kit = hub.homes / name / "kit"
        assert f"ok    kit: {kit}" in seen, seen
        assert "ok    the mock at" in seen, seen
        ledger = re.search(r"(\w+(?: \w+)?)\s+your ledger \(key ([^)]*)\): (\d+) call\(s\)", seen)
        assert ledger, seen
        assert ledger.group(1).endswith("ok") and not ledger.group(1).startswith("NOT"), seen
        key = hub.room().api_key(name)  # shown masked by the mock, as any long key
        assert ledger.group(2) == f"{key[:8]}…{key[-4:]}", f"{name} sees someone else's key: {ledger.group(2)}"
        assert int(ledger.group(3)) == runs + 1, f"{name} made {runs + 1} call(s) but sees {ledger.group(3)}: {seen}"
        assert room_day[name]["errors"] == "", room_day[name]["errors"]


def test_the_operator_sees_the_room_and_each_key_its_own(hub: Hub, room_day: dict[str, dict[str, str]]) -> None:
    """The instructor's view: the room's total, and each attendee's ledger read with their key."""
    room = hub.room()
    everyone = get_json(f"{hub.mock_url}/_mock/ledger", room.operator_token)
    assert everyone["total"]["calls"] == sum(LEGACY_RUNS.values()) + len(LEGACY_RUNS)
    assert sorted(k["total"]["calls"] for k in everyone["keys"].values()) == [1, 2, 3]
    for name, runs in LEGACY_RUNS.items():
        mine = get_json(f"{hub.mock_url}/_mock/ledger", room.api_key(name))
        assert (mine["scope"], mine["total"]["calls"]) == ("key", runs + 1)
    # Without a key, even from the hub's own loopback, nobody is the operator: a token is required.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{hub.mock_url}/_mock/ledger", timeout=10)
    refused.value.close()
    assert refused.value.code == 401
    shown = subprocess.run(
        [sys.executable, "-m", "hub", "ledger", "--json"],
        cwd=ROOT,
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert {n: d["total"]["calls"] for n, d in data["attendees"].items()} == {n: r + 1 for n, r in LEGACY_RUNS.items()}


def test_self_checks_answer_in_the_attendees_notebooks(room_day: dict[str, dict[str, str]]) -> None:
    assert "passed" in room_day["ada"]["verdict"], room_day["ada"]["verdict"]
    assert "passed" not in room_day["grace"]["verdict"] and "NotImplementedError" in room_day["grace"]["verdict"]
    assert "01-request-invalid" in room_day["linus"]["verdict"] or "invalid" in room_day["linus"]["verdict"]
    assert "passed" not in room_day["linus"]["verdict"], room_day["linus"]["verdict"]


def test_the_instructor_collects_and_grades(hub: Hub, room_day: dict[str, dict[str, str]], tmp_path: Path) -> None:
    """Collect copies each started lab (the attendees' files untouched); make grade scores them."""
    course = tmp_path / "course"
    before = {p: digest(p) for p in hub.homes.rglob("*.ipynb")}
    collect = [sys.executable, "-m", "hub", "collect", "--course", str(course)]
    done = subprocess.run(collect, cwd=ROOT, env=hub.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p: digest(p) for p in hub.homes.rglob("*.ipynb")} == before, "collect must only read the attendees' files"
    for name in LEGACY_RUNS:
        copied = course / "submitted" / name / LAB / f"{LAB}.ipynb"
        assert digest(copied) == digest(hub.homes / name / "kit" / "labs" / f"{LAB}.ipynb")
        assert (copied.parent / "timestamp.txt").read_text().strip().endswith("UTC")
        assert not (course / "submitted" / name / "02_semantic_cache").exists(), "an untouched lab is not started"
    again = subprocess.run(collect, cwd=ROOT, env=hub.env, capture_output=True, text=True, timeout=120)
    assert "Collected 0 notebook(s)" in again.stdout, again.stdout

    graded = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--course", str(course), "--timeout", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert graded.returncode == 0, graded.stdout + graded.stderr
    shutil.copy(course / "grades.csv", ROOT / "build" / "hub-grades.csv")  # for the organiser's eyes
    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    full = sum(c.points for c in checks_for("01"))
    scores = {name: int(rows[name][LAB]) for name in LEGACY_RUNS}
    assert scores["ada"] == full, (scores, graded.stdout)
    assert 0 < scores["linus"] < full, (scores, graded.stdout)
    assert scores["grace"] < scores["linus"], (scores, graded.stdout)
    for name in LEGACY_RUNS:
        assert "missing: lab 02" in rows[name]["status"], rows[name]["status"]
