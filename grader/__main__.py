"""``python -m grader check | grade | feedback | release | record``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .registry import LABS
from .runner import Limits, grade, resolve, select_checks, split_selection
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
        help="a notebook to grade (repeatable); default: labs/*.ipynb. "
        "NOTEBOOK::CHECK,CHECK grades only those checks of it",
    )
    check.add_argument(
        "--submission",
        type=Path,
        metavar="FOLDER",
        help="grade one notebook per lab found in FOLDER (by name, test cells or folder; as make grade picks them)",
    )
    check.add_argument("--lab", action="append", default=[], choices=list(LABS), help="only this lab (repeatable)")
    check.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CHECK",
        help="grade only this check (repeatable; a check id as the scorecard shows it, e.g. 03-template)",
    )
    check.add_argument("--json", action="store_true", help="print the result as one JSON object")
    check.add_argument(
        "--gradescope", type=Path, metavar="FILE", help="also write Gradescope's autograder results.json to FILE"
    )
    check.add_argument("--timeout", type=float, default=Limits.wall_seconds, help="seconds per lab")
    check.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="memory per lab")
    release = sub.add_parser("release", help="generate labs/ and the student kit from solutions/ with nbgrader")
    release.add_argument("--lab", action="append", default=[], choices=list(LABS))
    release.add_argument("--out", type=Path, help="write the student notebooks here instead of labs/")
    release.add_argument("--kit", type=Path, help="where to write the student kit (default: release/student)")
    release.add_argument("--no-kit", action="store_true", help="only regenerate the student notebooks")
    release.add_argument(
        "--gradescope", type=Path, metavar="ZIP", help="also write Gradescope's autograder zip (instructors only)"
    )
    grade_cmd = sub.add_parser("grade", help="grade COURSE/submitted with the kit's engine; write COURSE/grades.csv")
    grade_cmd.add_argument("--course", type=Path, help="the course folder (default: course/)")
    grade_cmd.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    grade_cmd.add_argument("--parallel", type=int, default=0, help="submissions at once (default: one per CPU)")
    grade_cmd.add_argument("--no-gradebook", action="store_true", help="do not write nbgrader's gradebook")
    grade_cmd.add_argument("--timeout", type=float, default=Limits.wall_seconds, help="seconds per submission")
    grade_cmd.add_argument(
        "--student", action="append", default=[], help="grade only this student's submissions (repeatable)"
    )
    grade_cmd.add_argument(
        "--lab", action="append", default=[], choices=list(LABS), help="grade only this lab (repeatable)"
    )
    feedback = sub.add_parser("feedback", help="write HTML feedback for every graded submission")
    feedback.add_argument("--course", type=Path, help="the course folder (default: course/)")
    sub.add_parser("docs", help="regenerate the check tables in docs/grader.md from the registry")
    args = parser.parse_args(argv)

    if args.command == "docs":
        from . import ROOT
        from .scorecard import docs_with_tables

        path = ROOT / "docs" / "grader.md"
        path.write_text(docs_with_tables(path.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote {path}")
        return 0

    if args.command in {"grade", "feedback"}:
        from . import course

        root = (args.course or course.DEFAULT_COURSE).resolve()
        try:
            if args.command == "grade":
                path = course.grade_course(
                    root,
                    force=args.force,
                    limits=Limits(parallel=args.parallel, wall_seconds=args.timeout),
                    gradebook=not args.no_gradebook,
                    students=args.student,
                    labs=args.lab,
                )
            else:
                path = course.feedback(root)
        except RuntimeError as exc:
            print(f"grader {args.command}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {path}")
        return 0

    if args.command == "release":
        from .release import release_all

        try:
            for path in release_all(args.lab or list(LABS), args.out, kit=None if args.no_kit else args.kit or True):
                print(f"wrote {path}")
            if args.gradescope:
                from .release import build_gradescope

                print(f"wrote {build_gradescope(args.gradescope)} (it holds the answers: for Gradescope only)")
        except RuntimeError as exc:
            print(f"grader release: {exc}", file=sys.stderr)
            return 1
        return 0
    named: dict[Path, list[str]] = {}
    try:
        if args.submission:
            from .course import pick_notebooks

            picked, _ = pick_notebooks(args.submission.resolve())
            pairs = [(s.lab, s.notebook) for s in picked if not args.lab or s.lab in args.lab]
            for chosen in picked:
                for note in chosen.notes:
                    print(f"grader: {note}", file=sys.stderr)
        else:
            asked = [split_selection(argument) for argument in args.notebook]
            pairs = resolve([path for path, _ in asked], args.lab)
            named = {path.resolve(): ids for path, ids in asked if ids}
        pairs, only = select_checks(pairs, args.only, named)
    except ValueError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    if not pairs:
        print("grader: no notebook to grade", file=sys.stderr)
        return 2
    results = grade(pairs, Limits(wall_seconds=args.timeout, memory_mb=args.memory_mb), only=only)
    if args.gradescope:
        args.gradescope.write_text(json.dumps(as_gradescope(results), indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(as_json(results), indent=2))
    else:
        render(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
