"""``make wheelhouse``: every wheel the kit needs, for each platform and Python it supports, in one folder.

Copy the folder to a USB stick; on a laptop, ``make setup`` finds ``wheelhouse/`` beside
the Makefile and installs from it with no network (``pip install --no-index
--find-links wheelhouse``). Without the Makefile (Windows without ``make``)::

    py -3.12 -m venv .venv
    .venv\\Scripts\\python -m pip install --no-index --find-links wheelhouse -e .[dev]

Each target (a platform and a Python version) is resolved on its own by ``uv pip
compile --python-platform``: pip's own ``download --platform`` evaluates environment
markers for the machine it runs on, so from Linux it asks for uvloop on Windows (and
fails) and never fetches pywinpty or colorama. The pins land in
``wheelhouse/locks/<target>.txt``; ``pip download --no-deps`` then fetches exactly those
wheels for that target's tags. A target whose lock is current and whose every pin has a
matching wheel in the folder is not fetched again, so a rerun is quick and needs no
network. Only wheels: nothing in the folder needs a compiler on the laptop.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms, sys_tags
from packaging.utils import canonicalize_name, canonicalize_version, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
# Python versions the kit may claim; the ones pyproject's requires-python allows are built.
KNOWN_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
MACOS = (12, 0)  # Monterey (2021) or later: wheels tagged for newer macOS are not taken


def _manylinux(arch: str) -> list[str]:
    """glibc 2.28 (2018: Debian 10, Ubuntu 20.04, RHEL 8) and every older manylinux tag."""
    return [f"manylinux_2_{minor}_{arch}" for minor in range(28, 4, -1)] + [
        f"manylinux2014_{arch}",
        f"manylinux2010_{arch}",
        f"manylinux1_{arch}",
    ]


@dataclass(frozen=True)
class Platform:
    name: str
    uv: str  # uv's --python-platform
    tags: tuple[str, ...] = field(default=())  # pip's --platform values (every one it may take)


PLATFORMS = {
    p.name: p
    for p in (
        Platform("linux-x86_64", "x86_64-manylinux_2_28", tuple(_manylinux("x86_64"))),
        Platform("linux-aarch64", "aarch64-manylinux_2_28", tuple(_manylinux("aarch64"))),
        Platform("macos-x86_64", "x86_64-apple-darwin", tuple(mac_platforms(MACOS, "x86_64"))),
        Platform("macos-arm64", "aarch64-apple-darwin", tuple(mac_platforms(MACOS, "arm64"))),
        Platform("windows-amd64", "x86_64-pc-windows-msvc", ("win_amd64",)),
    )
}


@dataclass(frozen=True)
class Target:
    platform: Platform | None  # None: this machine's own interpreter
    python: str  # "3.12"

    @property
    def name(self) -> str:
        return f"{self.platform.name if self.platform else 'host'}-py{self.python}"

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")

    def tags(self) -> set[Tag]:
        if self.platform is None:
            return set(sys_tags())
        version = tuple(int(p) for p in self.python.split("."))
        platforms = list(self.platform.tags)
        return set(cpython_tags(version, [self.abi, "abi3", "none"], platforms)) | set(
            compatible_tags(version, self.abi, platforms)
        )


def requirements(project: Path, extras: list[str]) -> list[str]:
    """What the kit installs: its dependencies, the extras asked for, and its build backend (for ``pip -e``)."""
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = list(data["project"].get("dependencies", []))
    optional = data["project"].get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"wheelhouse: pyproject.toml has no extra {extra!r} (it has: {', '.join(optional)})")
        wanted += optional[extra]
    wanted += data.get("build-system", {}).get("requires", [])
    return wanted


def supported_pythons(project: Path) -> list[str]:
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    allowed = SpecifierSet(data["project"].get("requires-python", ""))
    return [v for v in KNOWN_PYTHONS if allowed.contains(v + ".0")]


def wheels(folder: Path) -> dict[tuple[str, str], list[set[Tag]]]:
    """The wheels in the folder: (name, version) -> the tag sets of its files."""
    found: dict[tuple[str, str], list[set[Tag]]] = {}
    for path in folder.glob("*.whl"):
        try:
            name, version, _, tags = parse_wheel_filename(path.name)
        except ValueError:
            continue
        found.setdefault((str(name), canonicalize_version(version)), []).append(set(tags))
    return found


def pins(lock: Path) -> list[tuple[str, str]]:
    out = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # uv writes name==version, one per line
        out.append((str(canonicalize_name(req.name)), spec.version))
    return out


def missing(target: Target, lock: Path, folder: Path) -> list[str]:
    """Pins of the lock with no wheel in the folder that this target can install."""
    have = wheels(folder)
    usable = target.tags()
    return [
        f"{name}=={version}"
        for name, version in pins(lock)
        if not any(tags & usable for tags in have.get((name, canonicalize_version(version)), []))
    ]


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{(done.stderr or done.stdout)[-3000:]}")


def lock(target: Target, wanted: Path, out: Path) -> Path:
    path = out / "locks" / f"{target.name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "uv", "pip", "compile", str(wanted), "--quiet", "--no-header"]
    command += ["--no-annotate", "--only-binary", ":all:", "--python-version", target.python, "-o", str(path)]
    env = dict(os.environ)
    if target.platform is not None:
        command += ["--python-platform", target.platform.uv]
        env["MACOSX_DEPLOYMENT_TARGET"] = ".".join(map(str, MACOS))
    run(command, env)
    return path


def download(target: Target, lock_file: Path, out: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    command += ["--only-binary=:all:", "--dest", str(out), "-r", str(lock_file)]
    if target.platform is not None:
        command += ["--python-version", target.python, "--implementation", "cp"]
        command += [f"--abi={abi}" for abi in (target.abi, "abi3", "none")]
        command += [f"--platform={tag}" for tag in target.platform.tags]
    run(command)


def build(out: Path, targets: list[Target], wanted: list[str]) -> dict[str, str]:
    """Fill ``out`` for every target; what happened to each (``fetched``, ``up to date`` or the error)."""
    out.mkdir(parents=True, exist_ok=True)
    source = out / "locks" / "requirements.in"
    source.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(wanted) + "\n"
    if not source.exists() or source.read_text(encoding="utf-8") != text:
        source.write_text(text, encoding="utf-8")
    report: dict[str, str] = {}
    for target in targets:
        started = time.monotonic()
        lock_file = out / "locks" / f"{target.name}.txt"
        try:
            current = lock_file.exists() and lock_file.stat().st_mtime >= source.stat().st_mtime
            if current and not missing(target, lock_file, out):
                report[target.name] = "up to date"
            else:
                lock_file = lock(target, source, out)
                download(target, lock_file, out)
                left = missing(target, lock_file, out)
                if left:
                    raise RuntimeError(f"no wheel for {', '.join(left)}")
                report[target.name] = f"fetched ({time.monotonic() - started:.0f} s)"
        except RuntimeError as exc:
            report[target.name] = f"FAILED: {exc}"
        print(f"  {target.name:<26} {report[target.name].splitlines()[0]}", flush=True)
    return report


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/wheelhouse.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "wheelhouse", help="the folder (default: wheelhouse/)")
    parser.add_argument("--project", type=Path, default=ROOT, help="the kit whose pyproject.toml to read")
    parser.add_argument(
        "--platform",
        action="append",
        choices=[*PLATFORMS, "host"],
        help="a platform (repeatable; default: all five). host: this machine's own interpreter",
    )
    parser.add_argument("--python", action="append", help="a Python version, e.g. 3.12 (default: all supported)")
    parser.add_argument("--extra", action="append", default=[], help="an optional-dependencies group to include")
    args = parser.parse_args(argv)

    wanted = requirements(args.project, args.extra)
    names = args.platform or list(PLATFORMS)
    pythons = args.python or supported_pythons(args.project)
    targets = []
    for name in names:
        if name == "host":
            targets.append(Target(None, host_python()))
        else:
            targets += [Target(PLATFORMS[name], version) for version in pythons]
    print(f"Wheelhouse {args.out}: {len(targets)} target(s), {len(wanted)} requirement(s)", flush=True)
    report = build(args.out.resolve(), targets, wanted)
    files = list(args.out.glob("*.whl"))
    size = sum(p.stat().st_size for p in files) / 1e6
    print(f"{len(files)} wheels, {size:.0f} MB in {args.out}  (this machine: {platform.system()} {platform.machine()})")
    failed = {k: v for k, v in report.items() if v.startswith("FAILED")}
    for name, why in failed.items():
        print(f"{name}: {why}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
