"""Does `make setup` install the kit from a wheelhouse with the network blocked, as from a USB stick?

The wheelhouse for this machine (`scripts/wheelhouse.py --platform host`, what `make
wheelhouse` does for every platform) is built once under build/ and reused. A copy of the
kit then runs `make setup` with every way out closed: pip's configuration ignored, its
index and every proxy variable pointing at a closed loopback port. The same setup without
the wheelhouse must fail, which shows the block is real.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.tags import Tag

from scripts.wheelhouse import PLATFORMS, Target, missing, requirements, supported_pythons

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / "build" / "wheelhouse-host"  # cached: a rerun fetches nothing
KIT_FILES = ["Makefile", "pyproject.toml", "README.md", "mock_llm", "grader"]


# --- the script's own logic, fast ------------------------------------------------------------------


def test_each_target_takes_only_its_own_wheels() -> None:
    windows = Target(PLATFORMS["windows-amd64"], "3.12").tags()
    assert Tag("cp312", "cp312", "win_amd64") in windows and Tag("py3", "none", "any") in windows
    assert Tag("cp312", "cp312", "manylinux_2_17_x86_64") not in windows
    assert Tag("cp311", "cp311", "win_amd64") not in windows, "another Python's binary wheel"
    linux = Target(PLATFORMS["linux-aarch64"], "3.11").tags()
    assert Tag("cp311", "cp311", "manylinux2014_aarch64") in linux
    assert Tag("cp311", "abi3", "manylinux_2_28_aarch64") in linux
    assert Tag("cp311", "cp311", "manylinux_2_34_aarch64") not in linux, "newer than glibc 2.28"
    mac = Target(PLATFORMS["macos-arm64"], "3.13").tags()
    assert Tag("cp313", "cp313", "macosx_11_0_arm64") in mac
    assert Tag("cp313", "cp313", "macosx_14_0_arm64") not in mac, "newer than the macOS the kit supports"


def test_a_lock_is_complete_only_with_a_wheel_for_the_target(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==2.1.0\nsix==1.17.0\npywinpty==3.1.2\n")
    for name in ("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "six-1.17.0-py2.py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    windows = Target(PLATFORMS["windows-amd64"], "3.12")
    assert missing(windows, lock, tmp_path) == ["numpy==2.1.0", "pywinpty==3.1.2"]
    (tmp_path / "numpy-2.1.0-cp312-cp312-win_amd64.whl").write_bytes(b"")
    (tmp_path / "pywinpty-3.1.2-cp312-cp312-win_amd64.whl").write_bytes(b"")
    assert missing(windows, lock, tmp_path) == []


def test_requirements_are_the_kits_and_its_build_backend() -> None:
    wanted = requirements(ROOT, ["dev"])
    assert any(r.startswith("jupyterlab") for r in wanted) and any(r.startswith("ruff") for r in wanted)
    assert any(r.startswith("setuptools") for r in wanted), "pip -e . builds the kit: its backend must be there"
    assert supported_pythons(ROOT)[0] == "3.11"


# --- the offline install, slow ---------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def blocked_environment() -> dict[str, str]:
    """The environment with every route to a package index closed."""
    dead = f"http://127.0.0.1:{closed_port()}"
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {
        k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "UV_")) and k.lower() not in proxies
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,  # no site or user pip.conf: no extra index, no local find-links
        PIP_INDEX_URL=f"{dead}/simple",
        PIP_RETRIES="0",
        PIP_DEFAULT_TIMEOUT="5",
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        ALL_PROXY=dead,
        http_proxy=dead,
        https_proxy=dead,
        all_proxy=dead,
        NO_PROXY="",
        no_proxy="",
    )
    return env


def kit_copy(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in KIT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)
    return target


def make_setup(kit: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        ["make", "setup", f"PYTHON={sys.executable}"],
        cwd=kit,
        env=blocked_environment(),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    return done, time.monotonic() - started


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    built = subprocess.run(
        [sys.executable, "scripts/wheelhouse.py", "--platform", "host", "--extra", "dev", "--out", str(WHEELHOUSE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return WHEELHOUSE


@pytest.mark.slow
def test_make_setup_installs_from_the_wheelhouse_with_no_network(wheelhouse: Path, tmp_path: Path) -> None:
    kit = kit_copy(tmp_path / "kit")
    (kit / "wheelhouse").symlink_to(wheelhouse, target_is_directory=True)  # the USB stick's folder
    done, seconds = make_setup(kit)
    assert done.returncode == 0, f"make setup from the wheelhouse failed offline:\n{done.stdout}\n{done.stderr}"
    print(f"\nmake setup from the wheelhouse, network blocked: {seconds:.0f} s")
    python = kit / ".venv" / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import grader, jupyterlab, mock_llm, nbgrader, numpy, openai; print(mock_llm.__file__)"],
        cwd=tmp_path,  # not a folder with a mock_llm/ of its own: the import must come from the install
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(kit), "the kit's own package, installed editable"
    checked = subprocess.run(
        [str(python), "-m", "pip", "check"], env=blocked_environment(), capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (kit / ".venv" / "share" / "jupyter" / "kernels" / "llm-prod-kit" / "kernel.json").exists()


@pytest.mark.slow
def test_without_the_wheelhouse_the_blocked_setup_fails(tmp_path: Path) -> None:
    """The control: the same blocked setup with no wheelhouse cannot reach an index, so the block is real."""
    kit = kit_copy(tmp_path / "kit")
    done, _ = make_setup(kit)
    assert done.returncode != 0, "make setup succeeded with the network blocked and no wheelhouse"
    assert "Could not find a version that satisfies the requirement" in done.stderr, done.stderr[-2000:]
