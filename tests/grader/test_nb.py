"""Does the notebook front end give fair, honest feedback?"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from grader import nb


def learner_globals(cosine) -> dict:
    return {"cosine_similarity": cosine, "__name__": "__main__"}


def run_check(check_id: str, namespace: dict) -> None:
    # nb.check reads the caller's globals, as a notebook cell calls it
    exec(f"from grader import nb\nnb.check({check_id!r})", namespace)


def cosine(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb_ = np.linalg.norm(a), np.linalg.norm(b)
    return 0.0 if na == 0 or nb_ == 0 else float(np.clip(a @ b / (na * nb_), -1, 1))


def test_warnings_and_stderr_are_notes_not_failures(capsys: pytest.CaptureFixture[str]) -> None:
    """nbgrader scores any stderr as zero; a passing check with a warning must still pass, quietly."""

    def noisy(a, b) -> float:
        warnings.warn("this helper is deprecated", DeprecationWarning, stacklevel=1)
        print("debug: computing", file=sys.stderr)
        return cosine(a, b)

    run_check("02-cosine-fixed", learner_globals(noisy))
    out = capsys.readouterr()
    assert "\u2713 02-cosine-fixed" in out.out
    assert "note: DeprecationWarning" in out.out and "debug: computing" in out.out
    assert out.err == ""


def test_failure_says_input_expected_actual_and_hint() -> None:
    with pytest.raises(AssertionError) as info:
        run_check("02-cosine-fixed", learner_globals(lambda a, b: 0.5))
    text = str(info.value)
    assert "02-cosine-fixed" in text and "input:" in text and "expected:" in text and "got: 0.5" in text
    assert "hint:" in text


def test_unattempted_exercise_says_so() -> None:
    def todo(a, b):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="Not implemented yet"):
        run_check("02-cosine-fixed", learner_globals(todo))


def test_summary_counts_hidden_checks_honestly(capsys: pytest.CaptureFixture[str]) -> None:
    run_check("02-cosine-fixed", learner_globals(cosine))
    text = nb.summary("02")
    assert "public checks passed" in text
    assert "1 more check (2 points) is graded by the instructor" in text
    assert "all tests passed" not in text.lower()
