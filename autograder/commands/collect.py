"""``autograder collect``: fetch what changed in the students' repositories into ``submitted/``.

Standard library and git only (imports nothing that needs the project's
dependencies), so a workflow runs it before installing anything and stops when
nothing changed. See :mod:`autograder.pull.collect` for the contract.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from autograder import course
from autograder.course import deadlines
from autograder.pull import collect as pull_collect
from autograder.pull import git, roster


def run(roster_path: Path, assignment: str, *, dest: Path = Path("submitted"), record: Path,
        org: str | None = None, url_template: str = roster.DEFAULT_URL, jobs: int = 8,
        limits: pull_collect.Limits | None = None, root: Path | None = None, api_url: str | None = None,
        rule: deadlines.Rule | None = None, feedback_branch: str = "feedback", echo=print) -> dict:
    """Collect; return the counts (see :func:`autograder.pull.collect.collect`). The token is read from the
    environment (``AUTOGRADER_GIT_TOKEN``) only."""
    root = root or course.find_root()
    return pull_collect.collect(Path(roster_path), assignment, Path(dest), Path(record), root=root, org=org,
                                url_template=url_template, jobs=jobs, limits=limits, token=git.token_from_env(),
                                api_url=api_url, rule=rule, feedback_branch=feedback_branch, echo=echo)


def add_arguments(p) -> None:
    defaults = inspect.signature(run).parameters
    limits = pull_collect.Limits()
    p.add_argument("roster", help="roster CSV: a 'student' column, optional 'repository' (owner/name); "
                                  "a GitHub Classroom export (github_username) works too")
    p.add_argument("--assignment", required=True, help="assignment name, e.g. exam22")
    p.add_argument("--dest", default=str(defaults["dest"].default),
                   help="nbgrader's submitted/ folder to write the changed submissions into (default %(default)s)")
    p.add_argument("--record", required=True,
                   help="the record folder (the --out of `autograder grade`): what was collected before")
    p.add_argument("--org", help="owner of the default repository names ORG/ASSIGNMENT-STUDENT")
    p.add_argument("--url-template", default=defaults["url_template"].default,
                   help="clone URL with {repository}, {org}, {assignment}, {student} (default %(default)s; "
                        "file:// works)")
    p.add_argument("--api-url", default=None,
                   help="GitHub's REST API, asked when each commit was pushed (its activity API); given, it is "
                        "used for every repository (default: https://api.github.com for github.com URLs when "
                        "AUTOGRADER_GIT_TOKEN is set; otherwise the time the course first saw a commit)")
    p.add_argument("--jobs", type=int, default=defaults["jobs"].default,
                   help="repositories checked and fetched at once (default %(default)s)")
    p.add_argument("--feedback-branch", default=defaults["feedback_branch"].default,
                   help="the branch `autograder return` writes in each student repository: its tip, read by the same "
                        "ls-remote as the head, is recorded for return (default %(default)s)")
    p.add_argument("--max-repo-mb", type=float, default=limits.max_bytes / 2**20,
                   help="refuse a repository whose files exceed this many MiB (default %(default)g)")
    p.add_argument("--max-files", type=int, default=limits.max_files,
                   help="refuse a repository with more files (default %(default)s)")
    deadlines.add_arguments(p)
    p.epilog = ("The token, when the repositories are private, is read from the environment variable "
                "AUTOGRADER_GIT_TOKEN only (never give it as an argument).")


def from_args(args) -> int:
    rule = deadlines.rule_from_args(args)
    if args.max_repo_mb <= 0 or args.max_files < 1:
        raise course.CourseError("--max-repo-mb and --max-files must be positive")
    limits = pull_collect.Limits(max_bytes=int(args.max_repo_mb * 2**20), max_files=args.max_files)
    run(Path(args.roster), args.assignment, dest=Path(args.dest), record=Path(args.record), org=args.org,
        url_template=args.url_template, jobs=args.jobs, limits=limits, api_url=args.api_url, rule=rule,
        feedback_branch=args.feedback_branch)
    return 0
