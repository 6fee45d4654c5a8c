"""The scorecard: a table on a terminal, plain text elsewhere, JSON for tools."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .runner import LabResult


def as_json(results: list[LabResult]) -> dict[str, Any]:
    return {
        "score": sum(r.score for r in results),
        "max_score": sum(r.max_score for r in results),
        "labs": [r.as_dict() for r in results],
    }


def as_gradescope(results: list[LabResult]) -> dict[str, Any]:
    """Gradescope's autograder ``results.json``: one test per check; hidden checks shown after publishing."""
    tests = []
    for r in results:
        for c in r.checks:
            tests.append(
                {
                    "name": f"{c['id']}: {c['description']}",
                    "score": c["points"],
                    "max_score": c["max_points"],
                    "output": _why(c) or "passed",
                    "visibility": "visible" if c["visibility"] == "public" else "after_published",
                }
            )
    return {"score": sum(r.score for r in results), "tests": tests}


def _why(check: dict[str, Any]) -> str:
    if check["passed"]:
        return ""
    text = str(check["message"])
    if check.get("hint"):
        text += f"\nhint: {check['hint']}"
    return text


def render(results: list[LabResult], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if out.isatty():
        _render_rich(results, out)
    else:
        _render_plain(results, out)


def _render_plain(results: list[LabResult], out: TextIO) -> None:
    for r in results:
        out.write(f"\nLab {r.lab} ({r.notebook}): {r.score}/{r.max_score}\n")
        if r.error:
            out.write(f"  ! {r.error}\n")
        for cell in r.cell_errors[:5]:
            out.write(f"  ! cell {cell['cell']} raised {cell['error']}\n")
        for c in r.checks:
            mark = "PASS" if c["passed"] else "FAIL"
            out.write(f"  {mark} {c['id']:32} {c['points']}/{c['max_points']}  {c['description']}\n")
            for line in _why(c).splitlines():
                out.write(f"       {line}\n")
    total, maximum = sum(r.score for r in results), sum(r.max_score for r in results)
    out.write(f"\nTotal: {total}/{maximum}\n")


def _render_rich(results: list[LabResult], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out)
    for r in results:
        table = Table(title=f"Lab {r.lab}: {r.score}/{r.max_score}", title_justify="left", show_lines=True)
        table.add_column("check")
        table.add_column("points", justify="right")
        table.add_column("result")
        table.add_column("why / hint")
        for c in r.checks:
            result = "[green]pass[/]" if c["passed"] else "[red]fail[/]"
            table.add_row(f"{c['id']}\n[dim]{c['description']}[/]", f"{c['points']}/{c['max_points']}", result, _why(c))
        if r.error:
            console.print(f"[yellow]! {r.error}[/]")
        for cell in r.cell_errors[:5]:
            console.print(f"[yellow]! cell {cell['cell']} raised {cell['error']}[/]")
        console.print(table)
    total, maximum = sum(r.score for r in results), sum(r.max_score for r in results)
    console.print(f"[bold]Total: {total}/{maximum}[/]")
