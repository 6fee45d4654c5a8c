"""Do pyproject.toml and environment.yml describe the same environment?"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI's
CONDA_TO_PIP = {"uvicorn-standard": "uvicorn[standard]", "redis-py": "redis"}


def normalise(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*(.*)", requirement)
    assert match, requirement
    name, spec = match.groups()
    name = CONDA_TO_PIP.get(name.lower(), name.lower().replace("_", "-"))
    return name, spec.replace(" ", "")


def env_yml_requirements() -> dict[str, str]:
    """Read environment.yml's dependency lists (a small, fixed layout; no YAML library needed)."""
    out: dict[str, str] = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        item = re.match(r"^\s*-\s+(.+?)\s*$", line)
        if not item or item.group(1).endswith(":") or item.group(1) in {"pip", "conda-forge", "-e ."}:
            continue
        text = item.group(1)
        if text.startswith("python="):
            continue
        name, spec = normalise(text)
        out[name] = spec
    return out


def test_same_packages_and_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    assert env_yml_requirements() == wanted


def test_python_versions_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "  - python=3.11" in (ROOT / "environment.yml").read_text()
