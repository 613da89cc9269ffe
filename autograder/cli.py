"""The ``autograder`` command: parses arguments and calls one module per verb."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import CourseError


def _grade(args) -> int:
    from . import grade
    from .pipeline import Limits

    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.notebook_timeout)
    reports = grade.run(Path(args.submissions), args.assignment, Path(args.out), jobs=args.jobs,
                        shard_spec=args.shard, student=args.student, limits=limits,
                        require_isolation=args.require_isolation, gradebook=not args.no_gradebook)
    from .report import table_text

    print(table_text(reports))
    return 0


def _check(args) -> int:
    from . import check

    return check.main(args.notebooks, timeout=args.timeout)


def _merge(args) -> int:
    from . import merge

    merge.run([Path(p) for p in args.shards], Path(args.out))
    return 0


def _demo(args) -> int:
    from . import demo

    return demo.run(Path(args.workdir) if args.workdir else None, jobs=args.jobs)


def _template(args) -> int:
    from . import template

    template.run(args.assignment, Path(args.dest))
    return 0


def _generate(args) -> int:
    from . import generate

    generate.run(args.assignments or None, solutions=not args.no_solutions)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("check", help="students: run the public tests of notebooks and print points per task")
    p.add_argument("notebooks", nargs="+", help="release notebooks (.ipynb) or folders of them")
    p.add_argument("--timeout", type=float, default=120, help="seconds per cell (default 120)")
    p.set_defaults(func=_check)

    p = sub.add_parser("grade", help="instructors/CI: official grading with hidden tests")
    p.add_argument("submissions", help="nbgrader's submitted/ folder, or one student's folder")
    p.add_argument("--assignment", required=True, help="assignment name, e.g. exam22")
    p.add_argument("--out", required=True, help="folder for reports, feedback, grades.csv, summary.md")
    p.add_argument("--jobs", type=int, default=1, help="parallel grading processes (default 1)")
    p.add_argument("--shard", help="grade only slice i of N (e.g. 2/4), by student name")
    p.add_argument("--student", help="name of the student (for a single folder of notebooks)")
    p.add_argument("--cell-timeout", type=float, default=30, help="seconds per cell and per test call (default 30)")
    p.add_argument("--notebook-timeout", type=float, default=180, help="seconds per notebook (default 180)")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse to grade unless student code can be confined (needs root)")
    p.add_argument("--no-gradebook", action="store_true", help="do not record scores in gradebook.db")
    p.set_defaults(func=_grade)

    p = sub.add_parser("merge", help="combine the outputs of sharded grading runs")
    p.add_argument("shards", nargs="+", help="output folders of `grade --shard`")
    p.add_argument("--out", required=True, help="folder for the merged grades.csv and summary.md")
    p.set_defaults(func=_merge)

    p = sub.add_parser("demo", help="release, grade sample submissions, print the score table")
    p.add_argument("--workdir", help="where to build the demo course (default: a temporary folder)")
    p.add_argument("--jobs", type=int, default=2, help="parallel grading processes (default 2)")
    p.set_defaults(func=_demo)

    p = sub.add_parser("student-template", help="write a student repository template from release/")
    p.add_argument("assignment", help="assignment name, e.g. exam22")
    p.add_argument("dest", help="folder to create")
    p.set_defaults(func=_template)

    p = sub.add_parser("generate", help="instructors: release/ and solutions/ from source/ (runs nbgrader)")
    p.add_argument("assignments", nargs="*", help="assignments (default: all in source/)")
    p.add_argument("--no-solutions", action="store_true", help="skip executing the solution notebooks")
    p.set_defaults(func=_generate)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CourseError as exc:
        print(f"autograder {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"autograder {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
