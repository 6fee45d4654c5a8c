"""The checks as pytest items: ``python -m pytest --notebook labs/02_semantic_cache.ipynb``.

One item per check, named by its id, with its points as JUnit properties, so
``--junitxml`` feeds CI and GitHub Classroom's autograder. A notebook is graded once, by
the same sandboxed engine as ``make check``; a failed item shows the check's message and
hint, not a traceback. Hidden checks the student kit cannot run are skipped with that
reason. ``.ipynb`` files given as paths are collected too (``python -m pytest labs/``).

Registered as a pytest plugin through the package's ``pytest11`` entry point; it does
nothing unless a notebook is named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .registry import checks_for, lab_of_notebook


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-kit-grader", "grading lab notebooks")
    group.addoption(
        "--notebook",
        action="append",
        default=[],
        metavar="PATH",
        help="grade this lab notebook: one test per check (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    notebooks = config.getoption("--notebook", default=[])
    if notebooks:
        config.args[:] = [str(Path(p)) for p in notebooks]  # grade these, not the default test paths


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".ipynb" or ".ipynb_checkpoints" in file_path.parts:
        return None
    from .course import detect_lab

    if (lab_of_notebook(file_path.name) or detect_lab(file_path)) is None:
        return None
    return NotebookFile.from_parent(parent, path=file_path)


class CheckFailure(Exception):
    """A check's verdict, shown as its message and hint."""


class NotebookFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from .course import detect_lab

        self.lab = lab_of_notebook(self.path.name) or detect_lab(self.path) or ""
        self._result: Any = None
        for spec in checks_for(self.lab):
            yield CheckItem.from_parent(self, name=spec.id, check_id=spec.id)

    def result(self) -> Any:
        if self._result is None:
            from .runner import grade

            (self._result,) = grade([(self.lab, self.path.resolve())])
        return self._result


class CheckItem(pytest.Item):
    def __init__(self, *, check_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_id = check_id

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, NotebookFile)
        result = parent.result()
        found = next(c for c in result.checks if c["id"] == self.check_id)
        self.user_properties += [
            ("points", found["points"]),
            ("max_points", found["max_points"]),
            ("part", found.get("part", "core")),
        ]
        if found.get("not_run"):
            pytest.skip("a hidden check: graded by the instructor")
        if not found["passed"]:
            raise CheckFailure(f"{found['message']}\nhint: {found['hint']}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.check_id}"


def classroom_config(labs_dir: str = "labs") -> dict[str, Any]:
    """GitHub Classroom's ``.github/classroom/autograding.json``: one test per public check, with its points.

    Each test runs one pytest item (the notebook graded by the engine); hidden checks are
    left to the instructor, since a student repository cannot run them.
    """
    from .registry import LABS

    tests = []
    for lab, stem in LABS.items():
        for spec in checks_for(lab):
            if spec.visibility != "public":
                continue
            tests.append(
                {
                    "name": f"{spec.id} ({spec.part}): {spec.description}",
                    "setup": "python -m pip install -q -e .",
                    "run": f"python -m pytest -q -p no:cacheprovider '{labs_dir}/{stem}.ipynb::{spec.id}'",
                    "input": "",
                    "output": "",
                    "comparison": "included",
                    "timeout": 5,
                    "points": spec.points,
                }
            )
    return {"tests": tests}
