"""The roster: who is in the course, and where each student's repository is.

A CSV with a ``student`` column and an optional ``repository`` column (``owner/name``).
A legacy GitHub Classroom roster export is read too (``github_username`` as the id;
quoted fields; a UTF-8 byte-order mark). A student id that could escape a folder or
break a URL is refused with a line and the rest carry on; case is kept, and two ids
that differ only in case are an error (they would share a folder on some disks).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from autograder.course import CourseError
from autograder.course.tables import read_csv

#: a student id: letters, digits, ``.``, ``_``, ``-``; starts and ends with a letter or digit; no ``--``
STUDENT_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?", re.ASCII)
OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", re.ASCII)
REPO_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}", re.ASCII)
DEFAULT_URL = "https://github.com/{repository}.git"
MAX_ROSTER_BYTES = 10 * 2**20


@dataclasses.dataclass(frozen=True)
class Entry:
    student: str  #: the student id (as written in the roster: case kept)
    repository: str  #: ``owner/name``
    extension: str | None = None  #: the roster's ``extension`` column (a deadline text), if any


def valid_student(student: str) -> str | None:
    """Why ``student`` is not a usable id, or None when it is."""
    if not STUDENT_ID.fullmatch(student):
        return "use letters, digits, '.', '_' and '-' only, at most 100, starting and ending with a letter or digit"
    if "--" in student or ".." in student:
        return "no '--' or '..' in an id"
    return None


def valid_repository(repository: str) -> bool:
    owner, slash, name = repository.partition("/")
    return bool(slash) and bool(OWNER.fullmatch(owner)) and bool(REPO_NAME.fullmatch(name)) \
        and name not in (".", "..") and not name.endswith(".git")


def printable(text: str, limit: int = 60) -> str:
    """A roster value made safe for a console line: printable ASCII, shortened."""
    safe = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return safe if len(safe) <= limit else safe[:limit] + "..."


def read(path: Path, *, assignment: str, org: str | None = None, echo=print) -> list[Entry]:
    """The roster's usable entries, in roster order.

    Args:
        path: the roster CSV.
        assignment: the assignment (for the default repository name ``{org}/{assignment}-{student}``).
        org: the organisation of the default repository name (needed when a row has no ``repository``).
        echo: where a refused row's line goes.

    Returns:
        One :class:`Entry` per usable row; refused rows were reported through ``echo``.

    Raises:
        CourseError: no such file, no id column, a repository needed but no ``--org``, or two ids
            that differ only in case.
    """
    path = Path(path)
    reader = iter(read_csv(path, str(path), "the roster", MAX_ROSTER_BYTES))
    header = next(reader, None)
    if not header:
        raise CourseError(f"{path}: the roster is empty (it needs a header row with a 'student' column)")
    columns = [h.strip().lower() for h in header]
    if "student" in columns:
        id_col = columns.index("student")
    elif "github_username" in columns:
        id_col = columns.index("github_username")  # a GitHub Classroom export
    else:
        raise CourseError(f"{path}: no 'student' (or Classroom 'github_username') column in the header")
    repo_col = columns.index("repository") if "repository" in columns else None
    ext_col = columns.index("extension") if "extension" in columns else None
    if org is not None and not OWNER.fullmatch(org):
        raise CourseError(f"--org {printable(org)!r} is not a GitHub owner name")
    entries, seen = [], {}
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        student = row[id_col].strip() if id_col < len(row) else ""
        if not student:
            echo(f"roster line {line_no}: no student id: skipped")
            continue
        why = valid_student(student)
        if why:
            echo(f"roster line {line_no}: refused student id {printable(student)!r}: {why}")
            continue
        repository = row[repo_col].strip() if repo_col is not None and repo_col < len(row) else ""
        if repository:
            if not valid_repository(repository):
                echo(f"roster line {line_no}: refused repository {printable(repository)!r} of {student}: "
                     f"it must be owner/name")
                continue
        else:
            if org is None:
                raise CourseError(f"{path}, line {line_no}: {student} has no 'repository': give --org "
                                  f"(repositories are then ORG/{assignment}-STUDENT)")
            repository = f"{org}/{assignment}-{student}"
            if not valid_repository(repository):
                echo(f"roster line {line_no}: refused {student}: {printable(repository)!r} is not a repository name")
                continue
        key = student.lower()
        if key in seen:
            other = seen[key]
            if other == student:
                raise CourseError(f"{path}, line {line_no}: {student} is in the roster twice")
            raise CourseError(f"{path}, line {line_no}: {student} and {other} differ only in case: "
                              f"give them distinct ids")
        seen[key] = student
        extension = row[ext_col].strip() if ext_col is not None and ext_col < len(row) else ""
        entries.append(Entry(student, repository, extension or None))
    return entries


def clone_url(template: str, entry: Entry, *, org: str | None, assignment: str) -> str:
    """The clone URL of ``entry``'s repository from ``template``.

    Args:
        template: e.g. ``https://github.com/{repository}.git`` or ``file:///srv/git/{assignment}-{student}.git``;
            the fields are ``{repository}``, ``{org}``, ``{assignment}``, ``{student}``.
        entry: the student.
        org: the organisation (``{org}``; the repository's owner when None).
        assignment: the assignment.

    Returns:
        The URL (every field's value was validated, so none can change its structure).
    """
    values = {"repository": entry.repository, "org": org or entry.repository.split("/")[0],
              "assignment": assignment, "student": entry.student}
    return re.sub(r"\{(repository|org|assignment|student)\}", lambda m: values[m.group(1)], template)


def check_template(template: str) -> None:
    """Raise :class:`CourseError` unless ``template`` names a repository or a student."""
    unknown = set(re.findall(r"\{([^}]*)\}", template)) - {"repository", "org", "assignment", "student"}
    if unknown:
        raise CourseError(f"--url-template: unknown field {{{sorted(unknown)[0]}}} "
                          f"(use {{repository}}, {{org}}, {{assignment}}, {{student}})")
    if "{repository}" not in template and "{student}" not in template:
        raise CourseError("--url-template must contain {repository} or {student}")
    if "@" in template.split("/")[2 if "://" in template else 0]:
        raise CourseError("--url-template must not hold credentials: set AUTOGRADER_GIT_TOKEN instead")
