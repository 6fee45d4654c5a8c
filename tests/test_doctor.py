"""Does `make doctor` find what is really wrong, say what to do, and pass a healthy setup?"""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_llm import Settings
from mock_llm.server import start_background
from scripts import doctor

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def squatter() -> Iterator[int]:
    """A port held by a program that is not the mock (this test process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def run_doctor(**env: str) -> subprocess.CompletedProcess[str]:
    """`make doctor` as a user runs it: a fresh process, with these environment variables."""
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "OPENAI_BASE_URL", "JUPYTER_PATH"}}
    base.update(MOCK_LLM_PORT=str(free_port()), JUPYTER_PORT=str(free_port()))
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "doctor.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**base, **env},
    )


def test_a_healthy_setup_passes() -> None:
    done = run_doctor()
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ") and line.split()]
    assert "FAIL" not in statuses and statuses.count("ok") >= 6, done.stdout
    assert "All clear" in done.stdout and "Traceback" not in done.stderr


def test_cli_reports_a_broken_kernel_and_a_taken_port_with_fixes(tmp_path: Path, squatter: int) -> None:
    """A kernel spec earlier on JUPYTER_PATH that runs a missing Python, and the mock's port held by another program."""
    spec = tmp_path / "kernels" / doctor.KERNEL
    spec.mkdir(parents=True)
    missing = tmp_path / "gone" / "python"
    (spec / "kernel.json").write_text(
        json.dumps(
            {"argv": [str(missing), "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python"}
        )
    )
    done = run_doctor(JUPYTER_PATH=str(tmp_path), MOCK_LLM_PORT=str(squatter))
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    kernel = next(i for i, line in enumerate(lines) if line.startswith("  FAIL  Kernel:"))
    assert str(missing) in lines[kernel] and "does not exist" in lines[kernel]
    assert "ipykernel install" in lines[kernel + 1] and "fix:" in lines[kernel + 1]
    port = next(i for i, line in enumerate(lines) if line.startswith("  FAIL  Mock LLM:"))
    assert f"port {squatter}" in lines[port] and f"(pid {os.getpid()})" in lines[port]
    assert f"MOCK_LLM_PORT={squatter + 1} make lab" in lines[port + 1]
    assert "2 problem(s) to fix" in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_doctor_stays_parseable_by_old_pythons() -> None:
    """It must live long enough on Python 3.8 to say that 3.8 is too old."""
    ast.parse((ROOT / "scripts" / "doctor.py").read_text(), feature_version=(3, 8))
    result = doctor.check_python((3, 9, 2), "/usr/bin/python3")
    assert result.status == doctor.FAIL and "3.9.2" in result.what and "3.11" in result.fix
    assert doctor.check_python((3, 11, 7), "x").status == doctor.OK


def test_environment_names_missing_and_outdated_packages(tmp_path: Path) -> None:
    results = doctor.check_environment(requirements=["numpy>=999", "no-such-package-for-doctor>=1", "pytest>=1"])
    failed = [r for r in results if r.status == doctor.FAIL]
    assert len(failed) == 1 and failed[0].fix == "make setup"
    assert "no-such-package-for-doctor is not installed" in failed[0].what
    assert "numpy" in failed[0].what and "needs >=999" in failed[0].what and "pytest" not in failed[0].what
    (tmp_path / "pyproject.toml").write_text("[project]\ndependencies = []\n")
    [missing] = doctor.check_environment(root=tmp_path)
    assert missing.status == doctor.FAIL and "no .venv" in missing.what and "make setup" in missing.fix


def test_kernel_not_installed(tmp_path: Path) -> None:
    result = doctor.check_kernel(kernel_dirs=[str(tmp_path)])
    assert result.status == doctor.FAIL and "not installed" in result.what and "make setup" in result.fix


def test_the_kit_kernel_runs() -> None:
    result = doctor.check_kernel()
    assert result.status == doctor.OK, result


def test_mock_not_running_running_and_squatted(squatter: int) -> None:
    idle = free_port()
    result = doctor.check_mock_port("127.0.0.1", idle)
    assert result.status == doctor.NOTE and "not running" in result.what and "make lab starts it" in result.what
    result = doctor.check_mock_port("127.0.0.1", squatter)
    assert result.status == doctor.FAIL and f"MOCK_LLM_PORT={squatter + 1}" in result.fix
    server = start_background(Settings(port=0, latency=0.0))
    try:
        result = doctor.check_mock_port("127.0.0.1", server.port)
        assert result.status == doctor.OK and "answers the SDK" in result.what
    finally:
        server.stop()
    assert doctor.check_mock_in_process().status == doctor.OK


def test_jupyter_port_taken_is_a_warning_with_a_way_out(squatter: int) -> None:
    """JupyterLab moves to the next free port by itself: worth a warning, not a failure."""
    result = doctor.check_jupyter_port(squatter)
    assert result.status == doctor.WARN and f"(pid {os.getpid()})" in result.what
    assert f"JUPYTER_PORT={squatter + 2} make lab" in result.fix
    assert doctor.check_jupyter_port(free_port()).status == doctor.OK


def test_widget_manager_disabled_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page_config that disables JupyterLab's widget manager: widgets would say 'Loading widget...'."""
    labconfig = tmp_path / "labconfig"
    labconfig.mkdir()
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": {doctor.WIDGET_MANAGER: True}}))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path))
    results = doctor.check_jupyterlab()
    assert results[-1].status == doctor.FAIL and "not usable" in results[-1].what, results
    assert f"labextension enable {doctor.WIDGET_MANAGER}" in results[-1].fix  # (healthy: test_a_healthy_setup_passes)


def test_widget_manager_missing_or_mismatched() -> None:
    found = doctor.check_jupyterlab(listing=lambda: "JupyterLab v4\n  jupyterlab_pygments v0.3.0 enabled OK\n")
    assert found[-1].status == doctor.FAIL and "Loading widget" in found[-1].what


class FakeServer:
    """A one-line-per-request TCP server standing in for what REDIS_URL might point at."""

    def __init__(self, answer: bytes) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.answer = answer
        self.heard: list[bytes] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        with self.sock, self.sock.accept()[0] as conn:
            while data := conn.recv(1024):
                self.heard.append(data)
                conn.sendall(self.answer)


def test_redis_not_configured_absent_and_impostors() -> None:
    assert doctor.check_redis(None).status == doctor.SKIP
    closed = free_port()
    result = doctor.check_redis(f"redis://127.0.0.1:{closed}/0")
    assert result.status == doctor.FAIL and "nothing listens" in result.what and "redis-server" in result.fix
    fake = FakeServer(b"-NOAUTH Authentication required.\r\n")
    result = doctor.check_redis(f"redis://127.0.0.1:{fake.port}/0")
    assert result.status == doctor.FAIL and "wants a password" in result.what and "redis://:PASSWORD@" in result.fix
    fake = FakeServer(b"-WRONGPASS invalid username-password pair\r\n")
    result = doctor.check_redis(f"redis://:hunter2@127.0.0.1:{fake.port}/0")
    assert result.status == doctor.FAIL and "refused the password" in result.what
    assert "hunter2" not in result.what and b"hunter2" in fake.heard[0]
    fake = FakeServer(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    result = doctor.check_redis(f"redis://127.0.0.1:{fake.port}/0")
    assert result.status == doctor.FAIL and "not Redis" in result.what and "HTTP/1.1 400" in result.what
    fake = FakeServer(b"+PONG\r\n")
    assert doctor.check_redis(f"redis://127.0.0.1:{fake.port}/0").status == doctor.OK


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)")
def test_a_real_redis_with_and_without_its_password(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", "s3cret", "--save", ""],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while "nothing listens" in doctor.check_redis(f"redis://127.0.0.1:{port}/0").what:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        result = doctor.check_redis(f"redis://127.0.0.1:{port}/0")
        assert result.status == doctor.FAIL and "wants a password" in result.what
        assert doctor.check_redis(f"redis://:s3cret@127.0.0.1:{port}/0").status == doctor.OK
        assert "refused the password" in doctor.check_redis(f"redis://:wrong@127.0.0.1:{port}/0").what
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_provider_url_is_pointed_out() -> None:
    assert doctor.check_provider({}) is None
    note = doctor.check_provider({"OPENAI_BASE_URL": "https://api.example.com/v1"})
    assert note is not None and note.status == doctor.NOTE and "not the mock" in note.what
