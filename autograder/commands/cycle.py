"""``autograder cycle``: the whole pull loop once, on one machine: collect, grade, return, publish.

For a course run from one machine (a lecturer's computer with cron, a self-hosted
runner): the same four verbs the ``autograde`` workflow runs in separate jobs,
one after another in one process, handing over only through files, as there:

1. ``collect`` writes what changed into ``--dest`` (nbgrader's ``submitted/``) and
   updates the record folder ``--record``;
2. ``grade`` grades ``--dest`` into the record: a student whose files and checks did
   not change keeps their report (so an earlier cycle that stopped half-way is
   finished now). It runs whenever ``--dest`` holds a submission; with none (a fresh
   folder and nothing changed), the class files are rebuilt from the reports (as
   ``merge`` does);
3. ``return`` writes each student's changed feedback to their feedback branch;
4. ``publish`` (only with ``--publish-to``) writes the record to the course's
   ``grades`` branch.

The first grading zygote starts before anything else (as with ``grade``): it warms up
while collect talks to the repositories, so a cycle costs about one Python start-up
and one collect more than the grading itself. A cycle that grades nothing stops it.

Collect and grade decide late work under one rule: the deadline options plus the
roster's ``extension`` column (an ``--extensions`` file wins for a student in both).
The token (``AUTOGRADER_GIT_TOKEN``) reads the student repositories, writes their
feedback branches and, with ``--publish-to``, the course repository; student code
never sees it (its sandbox has a minimal environment of its own). Exit status:
0 done, 1 some feedback could not be returned (the rest was; see ``return``), 2 a
bad argument or course problem (before anything is touched, where it can be told
then), 130 interrupted (the reports finished so far are kept).
"""

from __future__ import annotations

import gc
import inspect
import sys
import time
from pathlib import Path

from autograder import course
from autograder.commands import collect, merge, publish, return_
from autograder.course import deadlines
from autograder.pull import collect as pull_collect
from autograder.pull import github, roster


def run(roster_path: Path, assignment: str, *, record: Path | None = None, dest: Path = Path("submitted"),
        org: str | None = None, url_template: str = roster.DEFAULT_URL, api_url: str | None = None,
        feedback_branch: str = "feedback", status: bool = False, publish_to: str | None = None,
        grades_branch: str = "grades", jobs: int = 2, require_isolation: bool = False, gradebook: bool = True,
        rule: deadlines.Rule | None = None, root: Path | None = None, echo=print) -> dict:
    """One cycle; returns what each step did.

    Args:
        roster_path: the roster CSV.
        assignment: the assignment.
        record: the assignment's record folder (default ``record/<assignment>``).
        dest: nbgrader's ``submitted/`` folder.
        org, url_template, api_url, feedback_branch: as for ``collect`` (and ``return``).
        status: also set each graded commit's status (``return --status``).
        publish_to: the course repository's git URL (None: not published).
        grades_branch: the branch ``publish`` writes.
        jobs: grading workers.
        require_isolation, gradebook: as for ``grade``.
        rule: the deadline rule of the options (None: no deadline).
        root: the course root (default: found from the working directory).
        echo: console lines.

    Returns:
        ``{"collect": counts, "graded": reports or None (nothing to grade), "returned": Returned,
        "published": commit or None}``.

    Raises:
        CourseError: a bad argument or course (exit 2).
        KeyboardInterrupt: Ctrl-C (while grading: the reports finished so far are kept, and a line says so).
    """
    from autograder import sandbox

    if jobs < 1:
        raise course.CourseError("--jobs must be at least 1")
    root = root or course.find_root()
    record = Path(record) if record is not None else Path("record") / assignment
    dest = Path(dest)
    counts = collect.run(Path(roster_path), assignment, dest=dest, record=record, org=org, url_template=url_template,
                         api_url=api_url, rule=rule, feedback_branch=feedback_branch, root=root, echo=echo)
    done = {"collect": counts, "graded": None, "returned": None, "published": None}
    if any(path.is_dir() for path in dest.glob(f"*/{assignment}")):
        from autograder.commands import grade  # the project's dependencies: only once there is something to grade

        entries = roster.read(Path(roster_path), assignment=assignment, org=org, echo=lambda line: None)
        try:
            done["graded"] = grade.run(dest, assignment, record, jobs=jobs, root=root, force=False, echo=echo,
                                       rule=pull_collect.with_roster_extensions(rule or deadlines.Rule(), entries),
                                       require_isolation=require_isolation, gradebook=gradebook)
        except grade.Interrupted as stop:  # nothing returned or published: the next cycle goes on from here
            print(f"interrupted while grading: {stop.kept} reports kept; run again to go on", file=sys.stderr)
            raise KeyboardInterrupt from None
    else:
        sandbox.discard_held()  # the zygote started for grading has nothing to grade
        echo(f"nothing to grade: no submission of {assignment} in {dest}")
        merge.run([record], record, echo=lambda line: None)
    done["returned"] = return_.run(record, Path(roster_path), org=org, url_template=url_template,
                                   api_url=api_url or github.DEFAULT_API, branch=feedback_branch, status=status,
                                   assignment=assignment, echo=echo)
    if publish_to:
        done["published"] = publish.run(record, publish_to, branch=grades_branch, assignment=assignment, echo=echo)
    return done


def add_arguments(p) -> None:
    defaults = inspect.signature(run).parameters
    p.add_argument("roster", help="roster CSV: a 'student' column, optional 'repository' (owner/name) and "
                                  "'extension'; a GitHub Classroom export (github_username) works too")
    p.add_argument("--assignment", required=True, help="assignment name, e.g. exam22")
    p.add_argument("--record", help="the assignment's record folder: what was collected, the reports and feedback, "
                                    "grades.csv (default record/ASSIGNMENT)")
    p.add_argument("--dest", default=str(defaults["dest"].default),
                   help="nbgrader's submitted/ folder: collect writes the changed submissions here, grade reads "
                        "them (default %(default)s)")
    p.add_argument("--org", help="owner of the default repository names ORG/ASSIGNMENT-STUDENT")
    p.add_argument("--url-template", default=defaults["url_template"].default,
                   help="clone URL with {repository}, {org}, {assignment}, {student} (default %(default)s; "
                        "file:// works)")
    p.add_argument("--api-url", default=None,
                   help="GitHub's REST API: push times for collect, commit statuses for --status (default: "
                        "https://api.github.com, asked by collect for github.com URLs when the token is set)")
    p.add_argument("--feedback-branch", default=defaults["feedback_branch"].default,
                   help="the branch of each student repository that holds their feedback (default %(default)s)")
    p.add_argument("--status", action="store_true",
                   help="also set the commit status 'autograder' (the score) on each graded commit")
    p.add_argument("--publish-to", metavar="URL",
                   help="the course repository's git URL: the record goes to its grades branch (default: not "
                        "published; file:// works)")
    p.add_argument("--grades-branch", default=defaults["grades_branch"].default,
                   help="the branch --publish-to writes (default %(default)s)")
    p.add_argument("--jobs", type=int, default=defaults["jobs"].default,
                   help="parallel grading processes (default %(default)s)")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse to grade unless student code can be confined (needs root)")
    p.add_argument("--no-gradebook", action="store_true", help="do not record scores in gradebook.db")
    deadlines.add_arguments(p)
    p.epilog = ("Runs collect, grade, return and publish as the autograde workflow does; for their other options "
                "(limits, shards, timeouts), run the verbs one by one. The token is read from the environment "
                "variable AUTOGRADER_GIT_TOKEN only (never give it as an argument).")


def from_args(args) -> int:
    rule = deadlines.rule_from_args(args)
    if args.jobs < 1:
        raise course.CourseError("--jobs must be at least 1")
    started = time.monotonic()
    done = run(Path(args.roster), args.assignment, record=Path(args.record) if args.record else None,
               dest=Path(args.dest), org=args.org, url_template=args.url_template, api_url=args.api_url,
               feedback_branch=args.feedback_branch, status=args.status, publish_to=args.publish_to,
               grades_branch=args.grades_branch, jobs=args.jobs, require_isolation=args.require_isolation,
               gradebook=not args.no_gradebook, rule=rule)
    counts, returned = done["collect"], done["returned"]
    published = ("" if not args.publish_to else f"; published {done['published'][:12]}" if done["published"]
                 else "; the grades branch already held the record")
    print(f"cycle: {counts['changed']} changed, {counts['collected']} collected, "
          f"{'nothing' if done['graded'] is None else len(done['graded'])} graded or kept by grade, "
          f"{returned.pushed} feedback branch(es) updated, {returned.failed} failed{published} "
          f"({time.monotonic() - started:.1f} s)")
    gc.freeze()  # exit without a garbage collection over every object loaded
    return 1 if returned.failed else 0
