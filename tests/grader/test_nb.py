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


def test_failure_shows_a_block_and_does_not_stop_run_all(capsys: pytest.CaptureFixture[str]) -> None:
    """In JupyterLab a failed check shows what, input, expected, got and hint, with no traceback, and returns."""
    run_check("02-cosine-fixed", learner_globals(lambda a, b: 0.5))
    text = capsys.readouterr().out
    assert "\u2717 02-cosine-fixed" in text
    assert "input:" in text and "expected:" in text and "got: 0.5" in text and "hint:" in text
    assert "Traceback" not in text and "grader/" not in text


def test_under_nbgrader_a_failed_check_fails_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError) as info:
        run_check("02-cosine-fixed", learner_globals(lambda a, b: 0.5))
    assert "got: 0.5" in str(info.value) and "hint:" in str(info.value)
    run_check("02-cosine-fixed", learner_globals(cosine))  # a pass still passes quietly


def test_unattempted_exercise_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    def todo(a, b):
        raise NotImplementedError()

    run_check("02-cosine-fixed", learner_globals(todo))
    assert "Not implemented yet" in capsys.readouterr().out


def test_the_graders_own_failure_is_not_blamed_on_the_learner(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing recorded expectation is the grader's problem, and says so."""
    from grader.oracle import Reference

    empty = Reference("02", recorded={"values": {}, "samples": {}})
    nb._references["02"], saved = empty, nb._references.get("02")
    try:
        run_check("02-cosine-fixed", learner_globals(cosine))
    finally:
        if saved is None:
            nb._references.pop("02")
        else:
            nb._references["02"] = saved
    text = capsys.readouterr().out
    assert "not your fault" in text and "Your code raised" not in text


def test_summary_counts_core_stretch_and_hidden_honestly(capsys: pytest.CaptureFixture[str]) -> None:
    run_check("02-cosine-fixed", learner_globals(cosine))
    capsys.readouterr()
    assert nb.summary("02") is None, "the summary prints once: no repr of a return value"
    text = capsys.readouterr().out
    assert text.count("Lab 02") == 1
    assert "core: 1 of" in text and "stretch: 0 of" in text and "not run yet" in text
    assert "1 more check (2 points) is graded by the instructor" in text
    assert "all tests passed" not in text.lower()
