"""Catalogues of plausible learner submissions, as edits of the reference solutions.

Each lab's module lists ``MISTAKES`` (what learners really write wrong: each must lose the
points of the check named for it) and ``ALTERNATIVES`` (correct designs other than the
reference's: each must get full marks). An entry is a replace-map on the reference
notebook's code: every ``old`` text must occur exactly once in the notebook's code cells,
so a change of the reference that makes an entry meaningless fails loudly instead of
silently testing the reference itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..helpers import SOLUTIONS, STEMS


@dataclass(frozen=True)
class Submission:
    """A fake submission: the reference with ``replace`` applied.

    ``fails``: for a mistake, the checks that must fail, the one named for the mistake
    first; empty for a correct alternative, which must get full marks. ``mentions``: words
    the named check's message must contain (case-insensitive), so the failure names the
    real cause; with ``everywhere``, every check in ``fails`` must (a bug that many checks
    trip over, such as a typo on a shared path). ``breaks_cell``: the mistake stops a cell
    from running (a syntax error), so the notebook loads with cell errors.
    """

    name: str
    replace: dict[str, str]
    fails: tuple[str, ...] = ()
    mentions: str = ""
    why: str = ""
    everywhere: bool = False
    breaks_cell: bool = False

    @property
    def is_mistake(self) -> bool:
        return bool(self.fails)


def code_cells(notebook: dict) -> list[dict]:  # type: ignore[type-arg]
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def source(cell: dict) -> str:  # type: ignore[type-arg]
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else str(text)


def apply(lab: str, submission: Submission) -> dict:  # type: ignore[type-arg]
    """The reference notebook of ``lab`` with the submission's edits; each edit must match exactly once."""
    notebook: dict = json.loads((SOLUTIONS / f"{STEMS[lab]}.ipynb").read_text(encoding="utf-8"))  # type: ignore[type-arg]
    cells = code_cells(notebook)
    for old, new in submission.replace.items():
        hits = sum(source(cell).count(old) for cell in cells)
        if hits != 1:
            raise AssertionError(
                f"lab {lab}, {submission.name!r}: the text to replace occurs {hits} times in the reference "
                f"(it must occur exactly once; has the reference changed?):\n{old}"
            )
        for cell in cells:
            text = source(cell)
            if old in text:
                cell["source"] = text.replace(old, new)
    return notebook


def write(lab: str, submission: Submission, folder: Path) -> Path:
    """The submission as a notebook file named like the lab's, in its own folder."""
    target = folder / lab / submission.name
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{STEMS[lab]}.ipynb"
    path.write_text(json.dumps(apply(lab, submission)), encoding="utf-8")
    return path
