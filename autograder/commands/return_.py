"""``autograder return``: each student's feedback to the ``feedback`` branch of their own repository.

See :mod:`autograder.pull.giveback`. Standard library and git only. Exit status 1
when some student's feedback (or status) could not be returned; the rest are.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from autograder.pull import git, github, giveback, roster


def run(out: Path, roster_path: Path, *, org: str | None = None, url_template: str = roster.DEFAULT_URL,
        api_url: str = github.DEFAULT_API, branch: str = "feedback", status: bool = False,
        assignment: str | None = None, jobs: int = 8, echo=print) -> giveback.Returned:
    """Return feedback; the counts. Token: ``AUTOGRADER_GIT_TOKEN``."""
    return giveback.give_back(Path(out), Path(roster_path), assignment=assignment, org=org,
                              url_template=url_template, api_url=api_url, branch=branch, status=status,
                              token=git.token_from_env(), jobs=jobs, echo=echo)


def add_arguments(p) -> None:
    p.add_argument("out", help="the record folder (the --out of `autograder grade`)")
    p.add_argument("--roster", required=True, help="the roster CSV given to `autograder collect`")
    p.add_argument("--org", help="owner of the default repository names ORG/ASSIGNMENT-STUDENT")
    p.add_argument("--url-template", default=roster.DEFAULT_URL,
                   help="clone URL with {repository}, {org}, {assignment}, {student} (default %(default)s)")
    p.add_argument("--api-url", default=github.DEFAULT_API, help="GitHub's REST API (default %(default)s)")
    p.add_argument("--branch", default="feedback", help="branch of each student's repository (default %(default)s)")
    p.add_argument("--status", action="store_true",
                   help="also set the commit status 'autograder' (the score) on the graded commit")
    p.add_argument("--assignment", help="default: the record's assignment")
    p.add_argument("--jobs", type=int, default=inspect.signature(run).parameters["jobs"].default,
                   help="repositories written at once (default %(default)s)")
    p.epilog = "The token is read from AUTOGRADER_GIT_TOKEN (never an argument)."


def from_args(args) -> int:
    counts = run(Path(args.out), Path(args.roster), org=args.org, url_template=args.url_template,
                 api_url=args.api_url, branch=args.branch, status=args.status, assignment=args.assignment,
                 jobs=args.jobs)
    return 1 if counts.failed else 0
