"""Run as the attendee, before their Jupyter server: their copy of the kit, their kernel, then the server.

The hub starts ``python hub/provision.py jupyterhub-singleuser ...`` instead of the
server itself, so this runs with the attendee's own rights, in their home, on any
spawner (a folder per attendee, system users, The Littlest JupyterHub's systemd units,
or a Kubernetes pod whose image holds the kit), with the attendees' Python, and then
replaces itself with the command it was given.

- The student kit (``KIT_SOURCE``) is copied to ``~/kit`` the first time only. An
  attendee's files are never overwritten: a later start copies only what is missing
  (say, a lab released since), so a restarted or culled server finds the work as it was.
- The kernel "LLM production kit" is written into the attendee's Jupyter data folder
  (``~/.local/share/jupyter/kernels``, put first on ``JUPYTER_PATH``), from the
  environment's own spec, with ``PYTHONPATH`` set to their copy: ``import mock_llm`` and
  ``import grader`` load the attendee's kit, as on a laptop.
- JupyterLab gets the config ``make lab`` gives attendees, written by the kit's own
  ``scripts/lab.py``: nbgrader's authoring tools and the news prompt stay hidden.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from pathlib import Path

KERNEL = "llm-prod-kit"
SKIP = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", ".venv", "*.pyc")


def copy_missing(source: Path, target: Path) -> list[Path]:
    """Copy what ``target`` lacks from ``source``; never touch a file that is there. The files copied."""
    copied: list[Path] = []
    target.mkdir(parents=True, exist_ok=True)
    ignored = SKIP(str(source), [p.name for p in source.iterdir()])
    for entry in sorted(source.iterdir()):
        if entry.name in ignored:
            continue
        destination = target / entry.name
        if entry.is_dir():
            if destination.exists() and not destination.is_dir():
                continue  # the attendee made a file of that name: theirs wins
            copied += copy_missing(entry, destination)
        elif not destination.exists() and not destination.is_symlink():
            shutil.copy2(entry, destination)
            copied.append(destination)
    return copied


def kernel_spec(kit: Path, prefix: Path = Path(sys.prefix)) -> dict[str, object]:
    """The environment's kit kernel spec (``make setup`` installs it), pointed at the attendee's copy."""
    installed = prefix / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    if installed.exists():
        spec: dict[str, object] = json.loads(installed.read_text(encoding="utf-8"))
    else:  # an environment built without `make setup`: the same spec ipykernel would write
        spec = {
            "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "LLM production kit",
            "language": "python",
            "metadata": {"debugger": True},
        }
    env = dict(spec.get("env") or {})  # type: ignore[call-overload]
    env["PYTHONPATH"] = str(kit)
    spec["env"] = env
    return spec


def write_kernel(home: Path, kit: Path) -> Path:
    folder = home / ".local" / "share" / "jupyter" / "kernels" / KERNEL
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kernel.json"
    text = json.dumps(kernel_spec(kit), indent=1) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        scratch = path.with_suffix(".tmp")
        scratch.write_text(text, encoding="utf-8")
        scratch.replace(path)
    return path


def attendee_config(home: Path, source: Path) -> Path | None:
    """The Jupyter config ``make lab`` gives attendees (nbgrader's authoring tools and the news prompt off).

    Written by the kit's own ``scripts/lab.py`` (the copy in the student kit), into the
    attendee's home, so every way of hosting shows what a laptop shows.
    """
    if not (source / "scripts" / "lab.py").is_file():
        return None
    sys.path.insert(0, str(source))
    try:
        lab = importlib.import_module("scripts.lab")  # by name: mypy checks scripts/ as top-level modules
    finally:
        sys.path.remove(str(source))
    config: Path = lab.write_config(False, build=home / ".local" / "share" / "llm-kit")
    return config


def provision(home: Path, source: Path | None, extras: list[Path]) -> Path:
    """The attendee's kit folder, filled from ``source`` where it lacks files, with their kernel."""
    kit = home / os.environ.get("KIT_FOLDER", "kit")
    if source is not None:
        if not (source / "labs").is_dir():
            raise SystemExit(f"provision: the student kit {source} has no labs/ (run `make release` first)")
        copied = copy_missing(source, kit)
        for extra in extras:  # the room's own notebooks (the room check), beside the labs
            if extra.is_file() and not (kit / "labs" / extra.name).exists():
                shutil.copy2(extra, kit / "labs" / extra.name)
                copied.append(kit / "labs" / extra.name)
        if copied:
            print(f"provision: {len(copied)} file(s) of the kit copied to {kit}", file=sys.stderr)
    write_kernel(home, kit)
    return kit


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: provision.py COMMAND [ARGS...]  (KIT_SOURCE names the student kit)", file=sys.stderr)
        return 2
    home = Path(os.environ.get("HOME") or Path.home())
    source = Path(os.environ["KIT_SOURCE"]) if os.environ.get("KIT_SOURCE") else None
    extras = [Path(p) for p in os.environ.get("KIT_EXTRA_NOTEBOOKS", "").split(os.pathsep) if p]
    provision(home, source, extras)
    config = attendee_config(home, source) if source is not None else None
    if config is not None:
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            p for p in (str(config), os.environ.get("JUPYTER_CONFIG_PATH", "")) if p
        )
    # First on Jupyter's data path: in a virtualenv, jupyter_core otherwise prefers the
    # environment's own kernels (JUPYTER_PREFER_ENV_PATH) over the attendee's.
    data = str(home / ".local" / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (data, os.environ.get("JUPYTER_PATH", "")) if p)
    os.chdir(home)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
