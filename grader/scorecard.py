"""The scorecard: a table on a terminal, plain text elsewhere, JSON for tools, Gradescope's format."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .feedback import public_view
from .runner import LabResult


def as_json(results: list[LabResult]) -> dict[str, Any]:
    return {
        "score": sum(r.score for r in results),
        "max_score": sum(r.max_score for r in results),
        "core": sum(r.part_score("core")[0] for r in results),
        "core_max": sum(r.part_score("core")[1] for r in results),
        "stretch": sum(r.part_score("stretch")[0] for r in results),
        "stretch_max": sum(r.part_score("stretch")[1] for r in results),
        "labs": [r.as_dict() for r in results],
    }


def as_gradescope(results: list[LabResult]) -> dict[str, Any]:
    """Gradescope's autograder ``results.json``: one test per check, with the feedback pages' visibility.

    Public checks show their message and hint; hidden ones only their name and result, and
    only once the instructor publishes the grades.
    """
    tests = []
    for r in results:
        for c in r.checks:
            view = public_view(c)
            output = "passed" if view["passed"] else "failed"
            if "message" in view:
                output = f"{view['message']}\nhint: {view['hint']}"
            tests.append(
                {
                    "name": f"{c['id']}: {c['description']}",
                    "score": c["points"],
                    "max_score": c["max_points"],
                    "output": output,
                    "tags": [c.get("part", "core")],
                    "visibility": "visible" if c["visibility"] == "public" else "after_published",
                }
            )
    problems = [f"lab {r.lab}: {r.status}" for r in results if r.status != "ok"]
    payload: dict[str, Any] = {"score": sum(r.score for r in results), "tests": tests}
    if problems:
        payload["output"] = "\n".join(problems)
    return payload


def _why(check: dict[str, Any]) -> str:
    if check["passed"]:
        return ""
    text = str(check["message"])
    if check.get("hint"):
        text += f"\nhint: {check['hint']}"
    return text


def _heading(r: LabResult) -> str:
    core, core_max = r.part_score("core")
    stretch, stretch_max = r.part_score("stretch")
    return f"Lab {r.lab}: {r.score}/{r.max_score} (core {core}/{core_max}, stretch {stretch}/{stretch_max})"


def _remarks(r: LabResult) -> list[str]:
    out = []
    if r.error:
        out.append(r.error)
    out += [f"{cell.get('where') or 'cell ' + str(cell['cell'])} raised {cell['error']}" for cell in r.cell_errors[:5]]
    out += [f"flagged: {flag}" for flag in r.flags]
    out += [f"note: {note}" for note in r.notes[:5]]
    return out


def render(results: list[LabResult], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if out.isatty():
        _render_rich(results, out)
    else:
        _render_plain(results, out)


def _render_plain(results: list[LabResult], out: TextIO) -> None:
    for r in results:
        out.write(f"\n{_heading(r)}  [{r.notebook}]\n")
        for remark in _remarks(r):
            out.write(f"  ! {remark}\n")
        for c in r.checks:
            mark = "PASS" if c["passed"] else "----" if c.get("not_run") else "FAIL"
            part = c.get("part", "core")
            out.write(f"  {mark} {c['id']:28} {c['points']}/{c['max_points']} {part:7} {c['description']}\n")
            for line in _why(c).splitlines():
                out.write(f"       {line}\n")
    _total(results, out.write)


def _total(results: list[LabResult], write: Any) -> None:
    total, maximum = sum(r.score for r in results), sum(r.max_score for r in results)
    core = sum(r.part_score("core")[0] for r in results), sum(r.part_score("core")[1] for r in results)
    stretch = sum(r.part_score("stretch")[0] for r in results), sum(r.part_score("stretch")[1] for r in results)
    write(f"\nTotal: {total}/{maximum} (core {core[0]}/{core[1]}, stretch {stretch[0]}/{stretch[1]})\n")
    hidden = [c for r in results for c in r.checks if c.get("not_run")]
    if hidden:
        write(
            f"{len(hidden)} hidden check(s) ({sum(c['max_points'] for c in hidden)} points) are graded by the "
            "instructor and not run here.\n"
        )


def _render_rich(results: list[LabResult], out: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out)
    for r in results:
        table = Table(title=_heading(r), title_justify="left", show_lines=True)
        table.add_column("check")
        table.add_column("part")
        table.add_column("points", justify="right")
        table.add_column("result")
        table.add_column("why / hint")
        for c in r.checks:
            result = "[green]pass[/]" if c["passed"] else "[dim]not run[/]" if c.get("not_run") else "[red]fail[/]"
            table.add_row(
                f"{escape(c['id'])}\n[dim]{escape(c['description'])}[/]",
                c.get("part", "core"),
                f"{c['points']}/{c['max_points']}",
                result,
                escape(_why(c)),
            )
        for remark in _remarks(r):
            console.print(f"[yellow]! {escape(remark)}[/]")
        console.print(table)
    _total(results, lambda text: console.print(f"[bold]{escape(text.strip())}[/]"))


def markdown_table(lab: str) -> str:
    """The lab's checks as the table in docs/grader.md (regenerated by ``python -m grader docs``)."""
    from .registry import checks_for

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = ["| check | points | part | visibility | what it catches | hint on failure |", "|---|---|---|---|---|---|"]
    for c in checks_for(lab):
        rows.append(f"| `{c.id}` | {c.points} | {c.part} | {c.visibility} | {cell(c.description)} | {cell(c.hint)} |")
    return "\n".join(rows)


def docs_with_tables(text: str) -> str:
    """``text`` with every ``<!-- checks:NN -->`` ... ``<!-- /checks:NN -->`` block regenerated."""
    import re

    def table(match: re.Match[str]) -> str:
        lab = match.group(1)
        return f"<!-- checks:{lab} -->\n{markdown_table(lab)}\n<!-- /checks:{lab} -->"

    return re.sub(r"<!-- checks:(\d+) -->.*?<!-- /checks:\1 -->", table, text, flags=re.S)
