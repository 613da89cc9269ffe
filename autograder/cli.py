"""The ``autograder`` command: a table of verbs, each a module of :mod:`autograder.commands`.

``VERBS`` is the whole command line at a glance (pip's and httpie's layout).
A verb's module is imported only when that verb runs, so that a verb which
needs only the standard library (the pull loop's change check) works before
the project's dependencies are installed. Each verb module provides:

* ``add_arguments(parser)``: its options, with defaults read from its own
  ``run()`` keyword defaults or configuration dataclasses (written once);
* ``from_args(args) -> int``: run it, return the exit status;
* ``run(...)``: the same work as a library call.

Exit status: 0 done, 1 the work found a failure (e.g. a failed public test),
2 bad arguments or a course problem (one line on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: verb -> (module, one-line summary for ``autograder --help``)
VERBS = {
    "check": ("autograder.commands.check", "students: run the public tests of notebooks, print points per task"),
    "grade": ("autograder.commands.grade", "instructors/CI: official grading with the hidden tests"),
    "merge": ("autograder.commands.merge", "combine the outputs of sharded grading runs"),
    "generate": ("autograder.commands.generate", "instructors: release/ and solutions/ from source/ (runs nbgrader)"),
    "student-template": ("autograder.commands.student_template",
                         "write a student repository template from release/"),
    "demo": ("autograder.commands.demo", "release, grade four sample students, print the score table"),
    "collect": ("autograder.commands.collect",
                "instructors/CI: fetch what changed in the students' repositories into submitted/"),
    "publish": ("autograder.commands.publish", "instructors/CI: the record folder to the course's grades branch"),
    "return": ("autograder.commands.return_", "instructors/CI: each student's feedback to their feedback branch"),
    "cycle": ("autograder.commands.cycle",
              "instructors: the pull loop once on one machine: collect, grade, return, publish"),
    "new-task": ("autograder.commands.new_task",
                 "instructors: write the skeleton of a new task (notebook, checks, key, mutants)"),
}


#: thread-pool sizes of the BLAS libraries NumPy may use; grading's own arithmetic is small and single-threaded
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _top_parser() -> argparse.ArgumentParser:
    width = max(len(v) for v in VERBS)
    listing = "\n".join(f"  {verb:<{width}}  {summary}" for verb, (_, summary) in VERBS.items())
    parser = argparse.ArgumentParser(
        prog="autograder", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Auto-graded nbgrader assignments, graded where student code cannot fool, read or break it.",
        epilog=f"verbs:\n{listing}\n\n`autograder VERB --help` describes a verb's options.")
    parser.add_argument("verb", choices=list(VERBS), metavar="VERB", help="one of the verbs below")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def verb_parser(verb: str):
    """(module, parser) of one verb: imports that verb's module only."""
    module_name, summary = VERBS[verb]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"autograder {verb}", description=summary)
    module.add_arguments(parser)
    return module, parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    top = _top_parser().parse_args(argv)
    if top.verb in ("grade", "cycle"):  # before NumPy loads: no BLAS thread pool, so grading workers can be forked
        for name in BLAS_THREADS:
            os.environ.setdefault(name, "1")
        if not {"-h", "--help"} & set(top.args):
            from autograder import sandbox  # the standard library only, like this module

            sandbox.launch_early()  # the first worker's zygote warms up while `grade` loads (about 0.3 s sooner)
    from autograder.course import CourseError  # (after the launch: stdlib only, nbformat is imported lazily)

    module, parser = verb_parser(top.verb)
    args = parser.parse_args(top.args)
    try:
        return module.from_args(args)
    except CourseError as exc:
        print(f"autograder {top.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"autograder {top.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
