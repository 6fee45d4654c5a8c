"""Do hostile or broken submissions cost their own lab only, with a clear message, and get caught?"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from grader import ROOT, SOLUTIONS
from grader.registry import checks_for
from grader.runner import Limits, grade
from grader.sandbox import Sandbox

from .helpers import LABS, STEMS, notebook_with

COSINE_DOC = '    """Cosine of the angle between two vectors; 0.0 when either is the zero vector."""'


def in_cosine(code: str) -> dict[str, str]:
    """Replace-map that puts ``code`` at the top of cosine_similarity's body."""
    return {COSINE_DOC: COSINE_DOC + "\n" + code}


FAST = Limits(wall_seconds=40, check_seconds=4, memory_mb=2048)


def grade_pair(hostile: Path, lab: str, *, with_other: bool = False, limits: Limits = FAST) -> tuple[dict, dict | None]:
    """Grade the hostile notebook, with the other lab's reference solution in the same run if asked."""
    if not with_other:
        return grade([(lab, hostile)], limits)[0].as_dict(), None
    other = "01" if lab == "02" else "02"
    results = grade([(lab, hostile), (other, SOLUTIONS / f"{STEMS[other]}.ipynb")], limits)
    bad, good = results[0].as_dict(), results[1].as_dict()
    assert good["score"] == good["max_score"], "another lab's score was hurt"
    return bad, good


# The top-level infinite loop burns a core until the loading limit stops it, so that limit is
# kept short here; lab 02's and lab 01's references load in about a second (four on a loaded
# 2-core machine).
LOADING_LIMIT = Limits(wall_seconds=15, check_seconds=4, memory_mb=2048)


def test_infinite_loop_at_top_level(tmp_path: Path) -> None:
    started = time.monotonic()
    hostile = notebook_with("02", tmp_path, append=["while True:\n    pass"])
    bad, _ = grade_pair(hostile, "02", with_other=True, limits=LOADING_LIMIT)
    assert bad["score"] == 0 and "longer than 15 s" in bad["error"]
    assert bad["status"].startswith("ungradable")
    assert time.monotonic() - started < 60


def test_infinite_loop_in_one_function_costs_its_checks(tmp_path: Path) -> None:
    path = notebook_with("02", tmp_path, replace=in_cosine("    while True:\n        pass"))
    bad, _ = grade_pair(path, "02")
    checks = {c["id"]: c for c in bad["checks"]}
    message = checks["02-cosine-fixed"]["message"]
    assert "Timed out" in message
    assert re.search(r"stopped in cell \d+ .*line [34]\b", message), f"the loop's own line: {message}"
    assert checks["02-cosine-fixed"]["hint"], "a timeout has a hint too"
    assert checks["02-lru"]["passed"], "checks that do not call it keep their points"


def test_a_call_that_never_returns_is_stopped_at_its_line(tmp_path: Path) -> None:
    """The wall-time limit asks the check to stop before killing it: the report names where it waited."""
    path = notebook_with("02", tmp_path, replace=in_cosine("    import time\n    time.sleep(10**6)"))
    bad, _ = grade_pair(path, "02")
    message = {c["id"]: c for c in bad["checks"]}["02-cosine-fixed"]["message"]
    assert "Timed out" in message and "never returns" in message
    assert re.search(r"stopped in cell \d+ .*line 4\b", message), f"the sleep's own line: {message}"


def test_a_timeout_names_the_line_another_thread_is_running() -> None:
    """Async checks run the learner's code in a thread of their own, and a limit's signal reaches
    only the main thread: the verdict still names the line the learner's thread was on."""
    import threading

    from grader.registry import OutOfTime, explain, running_learner_line

    namespace: dict[str, object] = {}
    exec(compile("def wait(event):\n    event.wait()\n", "<notebook cell 7>", "exec"), namespace)
    release = threading.Event()
    thread = threading.Thread(target=namespace["wait"], args=(release,))  # type: ignore[arg-type]
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while running_learner_line() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        message = explain(OutOfTime("the check ran for more than 12 s", running_learner_line()))
    finally:
        release.set()
        thread.join()
    assert message == "Timed out: the check ran for more than 12 s, stopped in cell 7, line 2."
    assert running_learner_line() is None, "no learner code runs now"


def test_sys_exit_and_os_exit(tmp_path: Path) -> None:
    exit_in_cell = notebook_with("02", tmp_path, append=["import sys\nsys.exit(3)"])
    bad, _ = grade_pair(exit_in_cell, "02")
    assert bad["score"] == bad["max_score"], "sys.exit in a cell is a cell error, the rest still loads"
    assert any("SystemExit" in e["error"] for e in bad["cell_errors"])

    os_exit_at_load = notebook_with("02", tmp_path, append=["import os\nos._exit(7)"])
    bad, _ = grade_pair(os_exit_at_load, "02", with_other=True)
    assert bad["score"] == 0 and "exited with code 7" in bad["error"]

    os_exit_in_function = notebook_with("02", tmp_path, replace=in_cosine("    import os\n    os._exit(0)"))
    bad, _ = grade_pair(os_exit_in_function, "02")
    checks = {c["id"]: c for c in bad["checks"]}
    assert "ended the process" in checks["02-cosine-fixed"]["message"]
    assert checks["02-ttl"]["passed"]


def test_segfault(tmp_path: Path) -> None:
    bad, _ = grade_pair(
        notebook_with("02", tmp_path, append=["import faulthandler\nfaulthandler._sigsegv()"]), "02", with_other=True
    )
    assert bad["score"] == 0 and "SIGSEGV" in bad["error"]


def test_memory_bomb(tmp_path: Path) -> None:
    in_cell = notebook_with("02", tmp_path, append=["hog = bytearray(8 * 1024**3)"])
    bad, _ = grade_pair(in_cell, "02", with_other=True)
    assert any("MemoryError" in e["error"] for e in bad["cell_errors"])
    in_function = notebook_with("02", tmp_path, replace=in_cosine("    hog = [0] * (10**9)"))
    bad, _ = grade_pair(in_function, "02")
    checks = {c["id"]: c for c in bad["checks"]}
    assert not checks["02-cosine-fixed"]["passed"] and "Memory" in checks["02-cosine-fixed"]["message"]
    assert checks["02-lru"]["passed"]


def test_output_flood(tmp_path: Path) -> None:
    flood = notebook_with("02", tmp_path, append=["for _ in range(300):\n    print('x' * 1_000_000)"])
    started = time.monotonic()
    results = grade([("02", flood)], FAST)
    assert results[0].score == results[0].max_score
    assert len(results[0].output) <= 20_000
    assert time.monotonic() - started < 90


def test_invalid_notebook_json(tmp_path: Path) -> None:
    path = tmp_path / "02_semantic_cache.ipynb"
    path.write_text('{"cells": [ this is not json')
    bad, _ = grade_pair(path, "02")
    assert bad["score"] == 0 and "not valid notebook JSON" in bad["error"]
    assert bad["status"].startswith("ungradable: ")
    not_a_notebook = tmp_path / "x" / "02_semantic_cache.ipynb"
    not_a_notebook.parent.mkdir()
    not_a_notebook.write_text(json.dumps([1, 2, 3]))
    bad, _ = grade_pair(not_a_notebook, "02")
    assert "not a Jupyter notebook" in bad["error"]


# --- integrity: graded with the original checks, and flagged ------------------------------------------


def test_patches_are_put_back_and_flagged(tmp_path: Path) -> None:
    """A 'solution' that patches the checks, the registry, numpy or builtins is graded as if it had not, and flagged."""
    cheats = {
        "grader": "import grader.checks.lab02 as g\ng.threshold = lambda learner, ref: None",
        "registry": "import grader.registry as r\nr.CheckFailed = type('Nope', (Exception,), {})",
        "numpy": "import numpy\nnumpy.allclose = lambda *a, **k: True",
        "builtins": "import builtins\nbuiltins.len = lambda x: 3",
        "noop": "import grader.nb\ngrader.nb.check = lambda *a, **k: None",
    }
    paths = [notebook_with("02", tmp_path, append=[cheat], name=name) for name, cheat in cheats.items()]
    for name, result in zip(cheats, grade([("02", p) for p in paths], FAST), strict=True):
        assert result.score == result.max_score, (name, "graded with the original checks")
        assert result.status.startswith("flagged"), name
        assert any("put back" in f or "assigns to" in f or "imports the grader" in f for f in result.flags), name


def test_a_stub_that_borrows_the_reference_gets_nothing(tmp_path: Path) -> None:
    """The untouched student lab plus a cell that takes the reference's class: no points, flagged, and why."""
    lab = json.loads((LABS / "02_semantic_cache.ipynb").read_text())
    lab["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "cheat",
            "metadata": {},
            "outputs": [],
            "source": "from grader import nb\nref = nb.reference('02')\n"
            "SemanticCache = ref.live.SemanticCache\ncosine_similarity = ref.live.cosine_similarity",
        }
    )
    path = tmp_path / "02_semantic_cache.ipynb"
    path.write_text(json.dumps(lab))
    (result,) = grade([("02", path)], FAST)
    assert result.score == 0
    assert any("imports the grader" in f for f in result.flags)
    assert any("tried to read" in f and "solutions" in f for f in result.flags), result.flags


def test_locked_cells_edited_or_deleted_are_flagged(tmp_path: Path) -> None:
    nb = json.loads((SOLUTIONS / "02_semantic_cache.ipynb").read_text())
    cells = []
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id == "02-lru":
            continue  # deleted
        if grade_id == "02-ttl":
            cell["source"] = "print('all good')"  # edited
        cells.append(cell)
    nb["cells"] = cells
    path = tmp_path / "02_semantic_cache.ipynb"
    path.write_text(json.dumps(nb))
    (result,) = grade([("02", path)], FAST)
    assert result.score == result.max_score, "the engine runs the original checks, whatever the cells say"
    assert "the locked cell 02-lru was deleted" in result.flags
    assert "the locked cell 02-ttl was edited" in result.flags
    assert not any("02-cosine" in f for f in result.flags), "untouched cells make no noise"


# --- the sandbox ---------------------------------------------------------------------------------------

ATTEMPTS = {
    "read": "open({path!r}).read()",
    "list": "__import__('os').listdir({path!r})",
    "write": "open({path!r}, 'w').write('x')",
    "connect": "__import__('socket').create_connection(('192.0.2.1', 80), timeout=1)",
    "exec": "__import__('subprocess').run(['true'])",
}


def attempt(kind: str, path: str = "") -> str:
    code = ATTEMPTS[kind].format(path=path)
    return (
        f"try:\n    {code}\n    print('SANDBOX-MISS {kind}')\n"
        f"except Exception as exc:\n    print('SANDBOX-HIT {kind}', type(exc).__name__)"
    )


def test_the_sandbox_refuses_and_flags(tmp_path: Path) -> None:
    """Reading the reference, hidden checks or git history, writing outside the scratch folder, network, programs."""
    course = tmp_path / "course" / "submitted"
    other = course / "bob" / STEMS["02"]
    other.mkdir(parents=True)
    (other / "secret.txt").write_text("bob's work")
    target = ROOT / "grader" / "written-by-a-notebook.txt"
    cells = [
        attempt("read", str(SOLUTIONS / "02_semantic_cache.ipynb")),
        attempt("read", str(ROOT / "grader" / "hidden" / "lab02.py")),
        attempt("list", str(ROOT / ".git")),
        attempt("read", str(other / "secret.txt")),
        attempt("write", str(target)),
        attempt("write", "/tmp/outside-the-scratch-folder.txt"),
        attempt("connect"),
        attempt("exec"),
        "open('inside-the-scratch-folder.txt', 'w').write('fine')\nprint('SCRATCH-OK')",
    ]
    mine = course / "ada" / STEMS["02"]
    mine.mkdir(parents=True)
    path = notebook_with("02", mine, append=cells, name=".")
    (result,) = grade([("02", path)], FAST, protect=[course.parent])
    assert not target.exists() and not Path("/tmp/outside-the-scratch-folder.txt").exists()
    assert "SANDBOX-MISS" not in result.output, result.output
    assert result.output.count("SANDBOX-HIT") == len(cells) - 1, result.output
    assert "SCRATCH-OK" in result.output
    assert result.score == result.max_score, "refusals cost nothing by themselves"
    flags = " | ".join(result.flags)
    for needle in ("02_semantic_cache.ipynb", "hidden", ".git", "secret.txt", "written-by-a-notebook", "program"):
        assert needle in flags, (needle, flags)
    assert "outside-the-scratch-folder" not in flags, "a harmless write is refused, not flagged"


def test_imports_that_rescan_the_kit_are_not_listings(tmp_path: Path) -> None:
    """Python's path finder lists a folder on sys.path again when it changed (a file added to the kit during a
    class's grading): an import is not the notebook listing the kit. A finder the notebook drives itself is."""
    rescan = (
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nsys.path_importer_cache.clear()  # new finders list again\n"
        "import tabnanny  # not imported yet: every folder on sys.path is listed again to find it"
    )
    path = notebook_with("02", tmp_path, append=[rescan], name="import")
    (result,) = grade([("02", path)], FAST)
    assert result.cell_errors == [] and result.status == "ok", (result.status, result.cell_errors)
    direct = f"import importlib.machinery\nimportlib.machinery.FileFinder({str(ROOT)!r})._fill_cache()"
    path = notebook_with("02", tmp_path, append=[direct], name="finder")
    (result,) = grade([("02", path)], FAST)
    assert any(f"listed {ROOT}" in flag for flag in result.flags), result.flags


@pytest.mark.skipif(os.geteuid() != 0 and not Path("/proc/self/ns/user").exists(), reason="no namespaces here")
def test_the_kernel_layer_holds_without_the_audit_hook(tmp_path: Path) -> None:
    """Where Linux allows namespaces, the kit is read-only and the reference invisible even to raw system calls."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_fd)
        report = {}
        try:
            sandbox = Sandbox(tmp_path, [ROOT], [], [])
            report["applied"] = sandbox.isolate(hide=[SOLUTIONS], read_only=[ROOT])
            report["solutions"] = os.listdir(SOLUTIONS)
            try:
                fd = os.open(ROOT / "grader" / "raw-write.txt", os.O_WRONLY | os.O_CREAT)
                os.close(fd)
                report["write"] = "allowed"
            except OSError as exc:
                report["write"] = exc.strerror
            (tmp_path / "scratch.txt").write_text("ok")
            report["scratch"] = "ok"
        finally:
            os.write(write_fd, json.dumps(report).encode())
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd) as pipe:
        report = json.loads(pipe.read())
    if not report.get("applied"):
        pytest.skip("this system refuses new namespaces; the audit hook alone guards grading here")
    assert report["solutions"] == []
    assert report["write"] == "Read-only file system"
    assert report["scratch"] == "ok"
    assert not (ROOT / "grader" / "raw-write.txt").exists()


# --- attacks found in review: each gets nothing, and the dangerous ones are flagged ------------------

REF_BY_NAME = """import sys
_mods = vars(sys)['modules']
def _ref():
    for k, m in list(_mods.items()):
        if k.startswith('__refer') and hasattr(m, 'SemanticCache'):
            return m
class SemanticCache:
    def __new__(cls, *a, **k):
        return _ref().SemanticCache(*a, **k)
def cosine_similarity(a, b):
    return _ref().cosine_similarity(a, b)
"""
FORGED_REPORT = """import json, os
_real = os.write
def _forge(fd, data):
    try:
        payload = json.loads(bytes(data))
        for c in payload.get('checks', []):
            c['passed'], c['points'] = True, c.get('max_points', 1)
        payload['flags'] = []
        data = (json.dumps(payload) + '\\n').encode()
    except Exception:
        pass
    return _real(fd, data) and len(data)
os.write = _forge
"""
MORE_POINTS = """import sys
_reg = vars(sys)['modules']['grader' + '.registry']
for _c in vars(_reg)['_REGISTRY']['02'].values():
    object.__setattr__(_c, 'points', 50)
"""
DIR_FD = """import os
root = os.open('/', os.O_RDONLY)
fd = os.open('proc/%d/root{target}' % os.getppid(), os.O_WRONLY | os.O_CREAT, dir_fd=root)
os.write(fd, b'written from a learner cell')
"""


def test_attacks_on_the_report_the_registry_and_the_sandbox(tmp_path: Path) -> None:
    target = ROOT / "grader" / "escaped.txt"
    cheats = {
        "reference by name": REF_BY_NAME,
        "forged report": FORGED_REPORT,
        "more points": MORE_POINTS,
        "dir_fd escape": DIR_FD.replace("{target}", str(target)),
    }
    paths = []
    for name, cheat in cheats.items():
        lab = json.loads((LABS / "02_semantic_cache.ipynb").read_text())
        lab["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "source": cheat})
        path = tmp_path / name.replace(" ", "_") / "02_semantic_cache.ipynb"
        path.parent.mkdir()
        path.write_text(json.dumps(lab))
        paths.append(path)
    results = grade([("02", p) for p in paths], FAST)
    assert not target.exists(), "the sandbox was escaped"
    for name, result in zip(cheats, results, strict=True):
        assert result.score == 0, (name, [c["id"] for c in result.checks if c["passed"]])
        assert result.max_score == sum(c.points for c in checks_for("02")), name
        if name != "reference by name":  # that one simply finds nothing
            assert result.status.startswith("flagged"), (name, result.status)


def test_a_process_left_running_cannot_hold_grading_open(tmp_path: Path) -> None:
    """A notebook that forks a child which sleeps for ever: grading still ends, and says why."""
    path = notebook_with("02", tmp_path, append=["import os, time\nif os.fork() == 0:\n    time.sleep(10**6)"])
    started = time.monotonic()
    (result,) = grade([("02", path)], FAST)
    assert time.monotonic() - started < 60
    assert result.score == result.max_score
    assert any("os.fork" in f or "process of its own" in f for f in result.flags)
