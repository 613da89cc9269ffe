"""Publish: the record folder of one assignment as the folder ``<assignment>/`` of a branch.

The branch's ``<assignment>/`` is made equal to the record, less the private log;
other folders of the branch are left as they are. The tree is built with git's
plumbing (no work tree, no checkout). One commit per run that changed something,
none otherwise. When someone else pushed first (another assignment, or the same
one), the branch is fetched again, the folder laid over its new head, and the
push retried: nothing is lost.
"""

from __future__ import annotations

import os
import random
import stat
import tempfile
import time
from pathlib import Path

from autograder import report
from autograder.course import CourseError

from . import record, roster
from .git import Git

ATTEMPTS = 8


def record_files(out: Path, read: bool = True) -> dict:
    """relative path -> bytes (``read``) or Path of every regular file of the record (no symlinks, no private log)."""
    out = Path(out)
    found = []
    for folder, _, names in os.walk(out):  # (a link to a folder is not followed)
        for name in names:
            path = os.path.join(folder, name)
            if stat.S_ISREG(os.lstat(path).st_mode) and not record.private_files(name):
                found.append((os.path.relpath(path, out).replace(os.sep, "/"), Path(path)))
    return {rel: path.read_bytes() if read else path for rel, path in sorted(found)}


def assignment_of(out: Path) -> str:
    """The assignment a record folder belongs to: ``collected.json``, else its reports, else its name."""
    out = Path(out)
    data = record.load_json(out / record.COLLECTED, {})
    names = {data.get("assignment")} if data.get("assignment") else {r.get("assignment")
                                                                     for r in report.load_reports(out)}
    names.discard(None)
    if len(names) > 1:
        raise CourseError(f"{out}: reports of several assignments ({', '.join(sorted(names))}): give --assignment")
    return names.pop() if names else out.resolve().name


def publish(out: Path, to: str, *, branch: str = "grades", assignment: str | None = None,
            token: str | None = None, echo=print) -> str | None:
    """Make ``<assignment>/`` of ``branch`` at ``to`` equal to the record ``out``.

    Args:
        out: the record folder.
        to: the course repository's URL (``file://`` works).
        branch: the branch.
        assignment: the folder's name (default: the record's assignment).
        token: the git token, or None.
        echo: console lines.

    Returns:
        The new commit's SHA, or None when the branch already held the record.

    Raises:
        CourseError: no record, a bad name, or the push kept failing.
    """
    out = Path(out)
    if not out.is_dir():
        raise CourseError(f"{out}: no such folder (give the record folder, `grade --out`)")
    assignment = assignment or assignment_of(out)
    if roster.valid_student(assignment) or roster.valid_student(branch.replace("/", "-")):
        raise CourseError(f"not a usable assignment or branch name: {roster.printable(assignment)!r}, "
                          f"{roster.printable(branch)!r}")
    files = record_files(out, read=False)
    git = Git(token)
    with tempfile.TemporaryDirectory(prefix="autograder-publish-") as scratch:
        repo = git.init_bare(Path(scratch) / "repo")
        for attempt in range(ATTEMPTS):
            tip = git.ls_remote(to, f"refs/heads/{branch}")
            if tip:
                git.fetch(repo, to, f"refs/heads/{branch}", depth=1)
            tree = git.write_tree(repo, files, base=tip, prefix=f"{assignment}/")
            if tip and tree == git.tree_of(repo, tip):
                echo(f"publish: {branch} already holds {assignment}/ ({len(files)} files): no commit")
                return None
            message = f"{assignment}: record of {record.iso(record.now())}\n\n{len(files)} files, by autograder\n"
            commit = git.commit(repo, tree, message, parent=tip)
            if git.push(repo, to, commit, branch):
                echo(f"publish: {assignment}/ ({len(files)} files) -> {branch} {commit[:12]}")
                return commit
            echo(f"publish: {branch} moved meanwhile: fetching it again (attempt {attempt + 2})")
            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))
    raise CourseError(f"publish: {branch} kept moving: gave up after {ATTEMPTS} attempts")
