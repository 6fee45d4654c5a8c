"""``python -m grader check [--notebook PATH ...] [--lab 02] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .registry import LABS
from .runner import Limits, grade, resolve
from .scorecard import as_gradescope, as_json, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description="Grade the kit's lab notebooks.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="grade notebooks and print a scorecard")
    check.add_argument(
        "--notebook",
        type=Path,
        action="append",
        default=[],
        help="a notebook to grade (repeatable); default: labs/*.ipynb",
    )
    check.add_argument("--lab", action="append", default=[], choices=list(LABS), help="only this lab (repeatable)")
    check.add_argument("--json", action="store_true", help="print the result as one JSON object")
    check.add_argument(
        "--gradescope", type=Path, metavar="FILE", help="also write Gradescope's autograder results.json to FILE"
    )
    check.add_argument("--timeout", type=float, default=Limits.wall_seconds, help="seconds per lab")
    check.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="memory per lab")
    release = sub.add_parser("release", help="generate labs/ from solutions/ with nbgrader")
    release.add_argument("--lab", action="append", default=[], choices=list(LABS))
    release.add_argument("--out", type=Path, help="write the student notebooks here instead of labs/")
    for name, text in (
        ("grade", "autograde course/submitted with nbgrader; write course/grades.csv"),
        ("feedback", "write HTML feedback for every autograded submission"),
    ):
        instructor = sub.add_parser(name, help=text)
        instructor.add_argument("--course", type=Path, help="the nbgrader course folder (default: course/)")
    args = parser.parse_args(argv)

    if args.command in {"grade", "feedback"}:
        from . import course

        root = (args.course or course.DEFAULT_COURSE).resolve()
        try:
            path = course.grade(root) if args.command == "grade" else course.feedback(root)
        except RuntimeError as exc:
            print(f"grader {args.command}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {path}")
        return 0

    if args.command == "release":
        from .release import release_all

        try:
            for path in release_all(args.lab or list(LABS), args.out):
                print(f"wrote {path}")
        except RuntimeError as exc:
            print(f"grader release: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        pairs = resolve(args.notebook, args.lab)
    except ValueError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    if not pairs:
        print("grader: no notebook to grade", file=sys.stderr)
        return 2
    results = grade(pairs, Limits(wall_seconds=args.timeout, memory_mb=args.memory_mb))
    if args.gradescope:
        args.gradescope.write_text(json.dumps(as_gradescope(results), indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(as_json(results), indent=2))
    else:
        render(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
