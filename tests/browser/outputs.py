"""Reading a notebook's outputs as JupyterLab shows them: which errors a lab may show, what must render.

Kept apart from the browser test so the rules have their own quick tests, with no browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# The last frame of a traceback names the exception: "NotImplementedError    Traceback (most recent call last)".
TRACEBACK_NAME = re.compile(r"^([A-Za-z_][\w.]*)\s+Traceback \(most recent call last\)", re.M)
# Tracebacks without that header (SyntaxError) end with "Name: message".
FINAL_LINE_NAME = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))\b", re.M)
WIDGET_TROUBLE = ("Error displaying widget", "Loading widget...")
# What shows instead when rendering fails: matplotlib's text repr of a figure, and a widget's
# text repr (JupyterLab without a working widget manager shows "IntSlider(value=3)").
FIGURE_AS_TEXT = re.compile(r"<Figure size [\d.]+x[\d.]+ with \d+ Axes>")
WIDGET_AS_TEXT = re.compile(r"^(interactive|\w*(Slider|Box|Button|Dropdown|Text|Output|Progress)\w*)\(\w+=")


@dataclass
class Cell:
    """A code cell: its index among all cells, its source, whether it ran, and its outputs as shown.

    Each output is ``{"mime", "text", "images", "widgets"}``: the output's MIME type, its text,
    and how many ``img`` and rendered widget elements it holds.
    """

    index: int
    source: str
    ran: bool
    outputs: list[dict[str, Any]]


@dataclass
class Findings:
    """What one notebook showed after Run All."""

    cells: list[Cell]
    stub_errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    widget_trouble: list[str] = field(default_factory=list)
    missing_plots: list[int] = field(default_factory=list)
    missing_widgets: list[int] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return sum(c.ran for c in self.cells)

    @property
    def images(self) -> int:
        return sum(o["images"] for c in self.cells for o in c.outputs)

    @property
    def widgets(self) -> int:
        return sum(o["widgets"] for c in self.cells for o in c.outputs)

    def summary(self) -> str:
        return (
            f"{self.ran} of {len(self.cells)} code cells ran; {len(self.stub_errors)} stub error(s) "
            f"(NotImplementedError); {len(self.unexpected)} unexpected error output(s); "
            f"{self.images} image(s), {self.widgets} widget(s)"
        )


def error_name(text: str) -> str | None:
    """The exception a traceback shows, or None for other stderr text (a warning, a print)."""
    match = TRACEBACK_NAME.search(text) or FINAL_LINE_NAME.search(text)
    return match.group(1) if match else None


def last_line(text: str) -> str:
    """The line that says what happened: a traceback's last, without its ruler lines."""
    lines = [line for line in text.strip().splitlines() if line.strip() and not set(line.strip()) <= {"-"}]
    return (lines[-1] if lines else "")[:200]


def inspect(cells: list[Cell], *, student: bool) -> Findings:
    """Sort the error outputs and check that what should render did.

    A student lab may show its stubs' NotImplementedError, nothing else; a solution no
    error at all. Anywhere, a figure or widget shown as text failed to render. In a
    solution, every cell that plots or builds a widget must show it; a lab's cell may
    legitimately skip that until the learner's code exists.
    """
    found = Findings(cells)
    for cell in cells:
        failed = False
        for output in cell.outputs:
            text = output["text"]
            if any(trouble in text for trouble in WIDGET_TROUBLE):
                found.widget_trouble.append(f"cell {cell.index}: {last_line(text)}")
            if output["mime"] != "application/vnd.jupyter.stderr":
                continue
            failed = True
            name = error_name(text)
            # A stub raises NotImplementedError; a self-check on a stub reports that it still does.
            from_stub = name == "NotImplementedError" or (name == "AssertionError" and "NotImplementedError" in text)
            note = f"cell {cell.index}: {last_line(text) if name else 'stderr: ' + last_line(text)}"
            (found.stub_errors if student and from_stub else found.unexpected).append(note)
        images = any(o["images"] for o in cell.outputs)
        widgets = any(o["widgets"] for o in cell.outputs)
        texts = [o["text"] for o in cell.outputs if o["mime"] != "application/vnd.jupyter.stderr"]
        expect = cell.ran and not failed and not student
        plots = bool(re.search(r"\bplt\.|\.plot\(|\.imshow\(", cell.source))
        builds_widgets = "widgets." in cell.source
        if (not images and any(FIGURE_AS_TEXT.search(t) for t in texts)) or (expect and plots and not images):
            found.missing_plots.append(cell.index)
        if any(WIDGET_AS_TEXT.match(t.strip()) for t in texts) or (expect and builds_widgets and not widgets):
            found.missing_widgets.append(cell.index)
    return found
