"""Do the checks catch what learners really get wrong, and accept what they get right another way?

Every catalogued mistake (tests/grader/catalogue/labNN.py) must lose the points of the
check named for it, with a message that names the cause; every correct alternative design
must get full marks with nothing flagged. Each lab's submissions are graded by one
`python -m grader check` (one `grade()` call: the pool grades them in parallel), run when a
test of that lab first needs it (`-k 04-` grades lab 04 alone).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .catalogue import Submission, apply, lab01, lab02, lab03, lab04, lab05, lab06, lab07, write
from .helpers import by_id, cli_check

CATALOGUES = {"01": lab01, "02": lab02, "03": lab03, "04": lab04, "05": lab05, "06": lab06, "07": lab07}
MISTAKES = [(lab, s) for lab, module in CATALOGUES.items() for s in module.MISTAKES]
ALTERNATIVES = [(lab, s) for lab, module in CATALOGUES.items() for s in module.ALTERNATIVES]
Graded = Callable[[str], dict[str, dict[str, Any]]]  # a lab -> its entries' results, keyed like the test ids


def _id(entry: tuple[str, Submission]) -> str:
    return f"{entry[0]}-{entry[1].name}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """Each catalogue entry's lab result, keyed like the test ids; a lab is graded when a test first asks for it."""
    folder = tmp_path_factory.mktemp("catalogue")
    results: dict[str, dict[str, Any]] = {}
    done: set[str] = set()

    def of(lab: str) -> dict[str, dict[str, Any]]:
        if lab not in done:  # one run per lab: a minute or two on a busy 2-core machine
            done.add(lab)
            entries = [(lab, s) for s in CATALOGUES[lab].MISTAKES + CATALOGUES[lab].ALTERNATIVES]
            paths = [write(lab, submission, folder) for _, submission in entries]
            # A mistake is graded on the checks named for it only (NOTEBOOK::CHECK,...): those are what it must
            # lose. An alternative is graded on every check: it must get full marks on all of them.
            asked = [
                Path(f"{path}::{','.join(submission.fails)}") if submission.fails else path
                for (_, submission), path in zip(entries, paths, strict=True)
            ]
            by_path = {Path(r["notebook"]).resolve(): r for r in cli_check(*asked, timeout=1800)["labs"]}
            results.update({_id(entry): by_path[path.resolve()] for entry, path in zip(entries, paths, strict=True)})
        return results

    return of


@pytest.mark.parametrize("lab", sorted(CATALOGUES))
def test_catalogue_is_big_enough(lab: str) -> None:
    module = CATALOGUES[lab]
    names = [s.name for s in module.MISTAKES + module.ALTERNATIVES]
    assert len(names) == len(set(names)), "entry names are unique"
    assert len(module.MISTAKES) >= 30 and len(module.ALTERNATIVES) >= 8
    for submission in module.MISTAKES:
        assert submission.mentions and submission.why, submission.name
    for submission in module.ALTERNATIVES:
        assert not submission.fails and submission.why, submission.name


@pytest.mark.parametrize("entry", MISTAKES + ALTERNATIVES, ids=_id)
def test_entry_still_applies_to_the_reference(entry: tuple[str, Submission]) -> None:
    """Each edit matches exactly once (fast: catches a reference change without grading anything)."""
    lab, submission = entry
    apply(lab, submission)


@pytest.mark.slow
@pytest.mark.parametrize("entry", MISTAKES, ids=_id)
def test_mistake_loses_points_on_its_check(entry: tuple[str, Submission], graded: Graded) -> None:
    lab, submission = entry
    result = graded(lab)[_id(entry)]
    assert "grader error" not in result["status"], result["status"]
    if submission.breaks_cell:
        assert result["cell_errors"], "the broken cell is reported as a cell error"
    else:
        assert result["cell_errors"] == [], "the submission itself loads"
    checks = by_id(result)
    for check_id in submission.fails:
        assert not checks[check_id]["passed"] and checks[check_id]["points"] == 0, (
            f"{submission.why}: {check_id} should fail"
        )
        assert checks[check_id]["hint"], "a failure comes with a hint"
    for check_id in submission.fails if submission.everywhere else submission.fails[:1]:
        named = checks[check_id]["message"]
        assert submission.mentions.lower() in named.lower(), f"{check_id}'s message should name the cause: {named}"
        assert "not your fault" not in named, "the grader's own error is not a verdict"


@pytest.mark.slow
@pytest.mark.parametrize("entry", ALTERNATIVES, ids=_id)
def test_alternative_gets_full_marks(entry: tuple[str, Submission], graded: Graded) -> None:
    lab, submission = entry
    result = graded(lab)[_id(entry)]
    failed = {c["id"]: c["message"] for c in result["checks"] if not c["passed"]}
    assert not failed, f"{submission.why}: {failed}"
    assert result["score"] == result["max_score"]
    assert result["status"] == "ok" and result["flags"] == [] and result["cell_errors"] == []
