"""Does docs/grader.md list every check as the registry has it?"""

from __future__ import annotations

from grader import ROOT
from grader.scorecard import docs_with_tables


def test_check_tables_match_the_registry() -> None:
    text = (ROOT / "docs" / "grader.md").read_text()
    assert "<!-- checks:01 -->" in text and "<!-- checks:02 -->" in text
    assert docs_with_tables(text) == text, "the check tables are stale: run python -m grader docs"
