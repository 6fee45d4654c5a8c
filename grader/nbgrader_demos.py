"""Raw ``nbgrader autograde`` skips the demos, as the kit's own engine does.

Cells tagged ``demo`` (live dashboards, chaos runs, plots) are what a learner watches, not
what is graded: ``grader.loader`` never runs them, and neither does ``make grade``. Raw
nbgrader would run every one for every student, a lab's worth of real-time budgets each
(lab 05's dashboard alone is 25 s), and a demo that hangs in a learner's code would hold
up the class. Listed in the kit's ``nbgrader_config.py`` as the last sanitising step:

- a demo cell (or one tagged ``skip-grading``, which the engine skips too) gets nbclient's
  ``skip-execution`` tag and one line of output saying it was not run, which the feedback
  shows in its place;
- a graded cell (a test or a solution) loses those tags and ``skip-execution``, whoever put
  them there: a test cell that never runs shows no error, and nbgrader would give it full
  marks.
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from .loader import SKIP_TAGS  # what the engine never runs: "demo" and "skip-grading"

SKIP = "skip-execution"  # nbclient's skip_cells_with_tag default
NOT_RUN = "Demo: not run while grading (it runs when you open the notebook in JupyterLab).\n"


class SkipDemos(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader ships no type hints
    """Marks demo cells to be skipped by nbgrader's Execute; graded cells always run."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type != "code":
            return cell, resources
        tags = cell.metadata.get("tags", [])
        grading = cell.metadata.get("nbgrader", {})
        if isinstance(grading, dict) and (grading.get("grade") or grading.get("solution")):
            # nbclient tests `tag in tags`: a string "skip-execution" would match as well as a list
            kept = [t for t in tags if t != SKIP and t not in SKIP_TAGS] if isinstance(tags, list) else []
            if "tags" in cell.metadata and kept != tags:
                cell.metadata["tags"] = kept
                self.log.warning("Cell %s is graded: it runs whatever its tags say", index)
        elif isinstance(tags, list) and SKIP_TAGS.intersection(tags):
            if SKIP not in tags:
                cell.metadata["tags"] = [*tags, SKIP]
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=NOT_RUN)]  # type: ignore[no-untyped-call]
            cell.execution_count = None
        return cell, resources
