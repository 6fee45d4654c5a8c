"""``make lab`` and ``make lab-instructor``: the mock LLM in the background, JupyterLab in the foreground.

Reuses a mock that already answers on the port; refuses, with advice, a port held by
something else; stops the mock it started when JupyterLab exits.

Attendees get JupyterLab on ``labs/`` without nbgrader's authoring tools (Create
Assignment, Formgrader, assignment and course lists) and without the news prompt:
nbgrader stays installed, and a Jupyter config directory the kit writes under
``build/jupyter/`` turns those parts off for this launch only, through
``JUPYTER_CONFIG_PATH``, which outranks the environment's own settings and leaves the
user's ``~/.jupyter`` alone. Instructors get the same on the kit's root, with nbgrader
on. The browser test starts JupyterLab through :func:`jupyter_launch`, so it sees what
attendees see.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import zmq

from mock_llm.server import PortInUse, check_port, probe

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
)
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
# Asks "Would you like to receive official Jupyter news?" on first start, then fetches
# news and checks for updates over the network: noise in a workshop room, and offline
# a request that can only fail.
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"


@dataclass(frozen=True)
class Launch:
    """How to start JupyterLab: the command, its environment, what it serves."""

    command: list[str]
    env: dict[str, str]
    notebook_dir: Path
    config_dir: Path


def _write_json(path: Path, data: object) -> None:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(text)
    scratch.replace(path)


def write_config(instructor: bool, build: Path = BUILD) -> Path:
    """The kit's Jupyter config directory for one audience, written afresh on every launch."""
    config = build / "jupyter" / ("instructor" if instructor else "attendee")
    # A conf.d file, as extensions enable themselves: jupyter_server merges these by key,
    # so this switches nbgrader alone and leaves every other extension's setting as it is.
    _write_json(
        config / "jupyter_server_config.d" / "llm-prod-kit.json",
        {"ServerApp": {"jpserver_extensions": dict.fromkeys(NBGRADER_SERVER_EXTENSIONS, instructor)}},
    )
    _write_json(
        config / "labconfig" / "page_config.json",
        {"disabledExtensions": {NEWS_PLUGIN: True, NBGRADER_LAB_EXTENSION: not instructor}},
    )
    return config


def jupyter_launch(
    *,
    instructor: bool = False,
    notebook_dir: Path | None = None,
    mock_host: str = "127.0.0.1",
    mock_port: int = 8000,
    port: int | None = None,
    token: str | None = None,
    open_browser: bool = True,
    build: Path = BUILD,
    environ: dict[str, str] | None = None,
) -> Launch:
    """The JupyterLab command and environment ``make lab`` (or ``make lab-instructor``) uses.

    ``port`` and ``token`` default to JupyterLab's own (``JUPYTER_PORT`` or 8888, and a
    random token); tests pass their own, and ``open_browser=False``.
    """
    if notebook_dir is None:
        # The formgrader needs the course folder inside the server's root.
        notebook_dir = ROOT if instructor else ROOT / "labs"
    config = write_config(instructor, build)
    base = dict(os.environ if environ is None else environ)
    config_path = os.pathsep.join(p for p in (str(config), base.get("JUPYTER_CONFIG_PATH", "")) if p)
    env = {**base, "JUPYTER_CONFIG_PATH": config_path, "MOCK_LLM_HOST": mock_host, "MOCK_LLM_PORT": str(mock_port)}
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={notebook_dir}",
    ]
    if zmq.has("curve"):
        # The kit's kernel spec declares CurveZMQ support: with it, kernels start encrypted
        # instead of warning in the terminal that they talk over plain TCP. ("auto" is
        # refused outright by a libzmq built without curve, hence the test.)
        command.append("--KernelManager.transport_encryption=auto")
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        command.append("--no-browser")
    # containers and cloud VMs often run as root; JupyterLab refuses without this (Windows has no geteuid)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return Launch(command, env, notebook_dir, config)


def start_mock(host: str, port: int, environ: dict[str, str] | None = None) -> subprocess.Popen[bytes] | None:
    """Start the mock on host:port unless one already answers there; None when reusing one.

    Raises PortInUse when something else holds the port, RuntimeError when the mock does
    not come up.
    """
    if probe(host, port) is not None:
        print(f"Using the mock LLM already running on http://{host}:{port}/v1")
        return None
    check_port(host, port)
    mock = subprocess.Popen(
        [sys.executable, "-m", "mock_llm", "--host", host, "--port", str(port)],
        env=dict(os.environ if environ is None else environ),
        # Out of the terminal's process group: a Ctrl-C that JupyterLab answers with
        # "Shut down this Jupyter server? n" must not take the mock down with it.
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while probe(host, port) is None:
        if mock.poll() is not None or time.monotonic() > deadline:
            stop(mock)
            raise RuntimeError("the mock LLM did not start; see the messages above.")
        time.sleep(0.1)
    return mock


def stop(process: subprocess.Popen[bytes], timeout: float = 5) -> None:
    """Ask a child to stop (SIGTERM), kill it if it has not within the timeout."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_jupyter(launch: Launch) -> int:
    """Run JupyterLab in the foreground until it exits; its exit status.

    Ctrl-C reaches JupyterLab from the terminal, and JupyterLab decides (it asks to
    confirm): this process keeps waiting rather than killing it mid-question. A SIGTERM
    or SIGHUP sent to this process alone is passed on, so JupyterLab still shuts its
    kernels down and removes its runtime files.
    """
    jupyter = subprocess.Popen(launch.command, env=launch.env)

    def pass_on(signum: int, _frame: object) -> None:
        if jupyter.poll() is None:
            jupyter.send_signal(signum)

    # Windows has no SIGHUP
    passed = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    previous = {sig: signal.signal(sig, pass_on) for sig in passed}
    try:
        while True:
            try:
                return jupyter.wait()
            except KeyboardInterrupt:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if jupyter.poll() is None:
            stop(jupyter, timeout=15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--instructor", action="store_true", help="serve the kit's root with nbgrader's tools (make lab-instructor)"
    )
    args = parser.parse_args(argv)
    host = os.environ.get("MOCK_LLM_HOST", "127.0.0.1")
    port = int(os.environ.get("MOCK_LLM_PORT", "8000"))
    name = "make lab-instructor" if args.instructor else "make lab"
    try:
        mock = start_mock(host, port)
    except (PortInUse, RuntimeError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    try:
        return run_jupyter(jupyter_launch(instructor=args.instructor, mock_host=host, mock_port=port))
    finally:
        if mock is not None:
            stop(mock)


if __name__ == "__main__":
    sys.exit(main())
