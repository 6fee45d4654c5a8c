"""HTML feedback for one student and lab: what a learner may see, and nothing more.

Public checks show their points, message and hint. Hidden checks show their name and
whether they passed: no code, input, expected value, message or hint (nbgrader's
feedback shows restored hidden test cells: jupyter/nbgrader#917). Learner output is
truncated; internal paths are removed; a notebook that crashed or timed out gets a page
that says what happened.
"""

from __future__ import annotations

import html
from typing import Any

OUTPUT_SHOWN = 2000

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}
.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}
.box{border-left:4px solid #c62828;padding:.2em 1em}
.muted{color:#666}
"""


def _scrub(text: str, hide: list[str]) -> str:
    for path in sorted(hide, key=len, reverse=True):
        text = text.replace(path, "<kit>")
    return text


def _e(text: object, hide: list[str]) -> str:
    return html.escape(_scrub(str(text), hide))


def public_view(check: dict[str, Any]) -> dict[str, Any]:
    """What a learner may see of one check's result (also used for Gradescope)."""
    view = {
        "id": check["id"],
        "description": check["description"],
        "points": check["points"],
        "max_points": check["max_points"],
        "passed": check["passed"],
        "visibility": check["visibility"],
        "part": check.get("part", "core"),
    }
    if check["visibility"] == "public" and not check["passed"]:
        view["message"] = check["message"]
        view["hint"] = check["hint"]
    return view


def render_page(data: dict[str, Any], hide: list[str]) -> str:
    title = f"Lab {data['lab']} ({data['name']}): feedback for {data['student']}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title, hide)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{_e(title, hide)}</h1>",
        f"<p><b>Score: {data['score']} / {data['max_score']}</b> "
        f"<span class='muted'>(core {data['core']} / {data['core_max']}, "
        f"stretch {data['stretch']} / {data['stretch_max']})</span></p>",
        f"<p class='muted'>Notebook graded: {_e(data['notebook'], hide)}</p>",
    ]
    status = str(data["status"])
    if status.startswith(("ungradable", "grader error")):
        kind, _, reason = status.partition(": ")
        what = (
            "Your notebook could not be graded"
            if kind == "ungradable"
            else "The grader failed on this submission (not your fault; your instructor has been told)"
        )
        parts.append(f"<div class='box'><p><b>{what}:</b> {_e(reason, hide)}</p></div>")
    elif data.get("error"):
        parts.append(f"<div class='box'><p><b>Grading stopped early:</b> {_e(data['error'], hide)}</p></div>")
    if data.get("flags"):
        parts.append("<h2>Sent to your instructor for a look</h2><ul>")
        for flag in data["flags"][:20]:
            parts.append(f"<li>{_e(flag, hide)}</li>")
        parts.append("</ul><p class='muted'>Your score above is what the original checks gave.</p>")
    if data.get("cell_errors"):
        parts.append("<h2>Cells that raised an error</h2><ul>")
        for cell in data["cell_errors"][:10]:
            where = cell.get("where") or f"cell {cell['cell']}"
            parts.append(f"<li>{_e(where, hide)}: <code>{_e(cell['error'], hide)}</code></li>")
        parts.append("</ul>")
    parts.append("<h2>Checks</h2><table><tr><th>check</th><th>part</th><th>points</th><th>result</th></tr>")
    for check in data["checks"]:
        view = public_view(check)
        mark = "<span class='pass'>passed</span>" if view["passed"] else "<span class='fail'>failed</span>"
        if check.get("not_run"):
            mark = "<span class='muted'>not run</span>"
        label = f"<b>{_e(view['id'], hide)}</b><br>{_e(view['description'], hide)}"
        if view["visibility"] == "hidden":
            label += " <span class='muted'>(hidden check: its details stay with the instructor)</span>"
        detail = ""
        if "message" in view:
            detail = f"<pre>{_e(view['message'], hide)}</pre><p><i>Hint:</i> {_e(view['hint'], hide)}</p>"
        parts.append(
            f"<tr><td>{label}{detail}</td><td>{_e(view['part'], hide)}</td>"
            f"<td>{view['points']} / {view['max_points']}</td><td>{mark}</td></tr>"
        )
    parts.append("</table>")
    output = str(data.get("output") or "")
    if output.strip():
        shown = output[:OUTPUT_SHOWN]
        cut = f" (the first {OUTPUT_SHOWN:,} characters)" if len(output) > OUTPUT_SHOWN else ""
        parts.append(f"<h2>What your notebook printed while it was graded{cut}</h2><pre>{_e(shown, hide)}</pre>")
    parts.append("</body></html>\n")
    return "".join(parts)
