"""``autograder publish``: the record folder of an assignment as ``<assignment>/`` of the ``grades`` branch.

See :mod:`autograder.pull.publish`. Standard library and git only.
"""

from __future__ import annotations

from pathlib import Path

from autograder.pull import git
from autograder.pull import publish as pull_publish


def run(out: Path, to: str, *, branch: str = "grades", assignment: str | None = None, echo=print) -> str | None:
    """Publish; return the new commit, or None when nothing changed. Token: ``AUTOGRADER_GIT_TOKEN``."""
    return pull_publish.publish(Path(out), to, branch=branch, assignment=assignment, token=git.token_from_env(),
                                echo=echo)


def add_arguments(p) -> None:
    p.add_argument("out", help="the record folder (the --out of `autograder grade`)")
    p.add_argument("--to", required=True, help="the course repository's git URL (file:// works)")
    p.add_argument("--branch", default="grades", help="branch to write (default %(default)s)")
    p.add_argument("--assignment", help="folder name on the branch (default: the record's assignment)")
    p.epilog = "The token is read from AUTOGRADER_GIT_TOKEN (never an argument). The private log is never published."


def from_args(args) -> int:
    run(Path(args.out), args.to, branch=args.branch, assignment=args.assignment)
    return 0
