"""Deadlines: the options ``--deadline``, ``--grace``, ``--extensions``, ``--late-policy`` and what they decide.

Contract (standard library only: the pull wing imports it before any dependency is installed):

* ``--deadline`` is ISO 8601 **with a time zone** (``2026-11-20T23:59:00+01:00``, ``...Z``); a time
  without a zone is refused. ``--grace MINUTES`` (default 0) moves the effective deadline later.
* Extensions: a CSV with a ``student`` column and a ``deadline`` (or ``extension``) column, each an
  ISO 8601 time with a zone; a roster with an ``extension`` column works as such a file. A student's
  extension replaces the common deadline for that student (grace still applies).
* ``--late-policy``: ``cutoff`` (default: a version pushed after the deadline is not graded; collect keeps
  the last version pushed on time, and a late submission that still reaches ``grade`` earns 0),
  ``penalty:<percent>/<day>[,max=<percent>]`` (the newest version is graded; per started day late the
  percentage is taken off the assignment's total, once; at most ``max``), or ``zero``.
* Lateness is measured from the effective deadline (deadline or extension, plus grace) to the push
  time the course trusts (GitHub's activity API, else when the course first saw the commit): never a
  commit's own date.

Every parse error is a :class:`~autograder.course.CourseError` with a one-line message (exit 2).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from pathlib import Path

from autograder.course import CourseError
from autograder.course.tables import read_csv

UTC = dt.timezone.utc
DAY = 86400.0
_PENALTY = re.compile(r"penalty:(\d+(?:\.\d+)?)%?/(?:1)?(day|d)(?:,max=(\d+(?:\.\d+)?)%?)?", re.ASCII)
MAX_EXTENSIONS_BYTES = 10 * 2**20


def parse_time(text: str, what: str = "--deadline") -> dt.datetime:
    """An ISO 8601 time with a zone, as aware UTC.

    Args:
        text: e.g. ``2026-11-20T23:59:00+01:00`` or ``2026-11-20 22:59Z``.
        what: the option's name for the error message.

    Returns:
        The time in UTC.

    Raises:
        CourseError: not a time, or no time zone.
    """
    raw = str(text).strip()
    try:
        # Python 3.10's fromisoformat knows no "Z": write UTC as the offset it does know
        when = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw)
    except ValueError:
        raise CourseError(f"{what} {_shown(raw)!r} is not an ISO 8601 time (e.g. 2026-11-20T23:59:00+01:00)") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise CourseError(f"{what} {_shown(raw)!r} has no time zone: add one, e.g. {raw}+01:00 or {raw}Z")
    return when.astimezone(UTC)


def _shown(text: str) -> str:
    safe = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return safe if len(safe) <= 60 else safe[:60] + "..."


def iso(t: dt.datetime) -> str:
    """UTC ISO 8601 with ``Z`` (seconds precision)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class Policy:
    """A late policy: ``kind`` is ``cutoff``, ``penalty`` or ``zero``."""

    kind: str = "cutoff"
    percent_per_day: float = 0.0
    max_percent: float = 100.0

    def text(self) -> str:
        if self.kind != "penalty":
            return self.kind
        cap = f",max={self.max_percent:g}" if self.max_percent < 100 else ""
        return f"penalty:{self.percent_per_day:g}/day{cap}"

    def percent(self, seconds_late: float) -> float:
        """The percentage of the assignment's total taken off for a submission ``seconds_late`` late.

        Args:
            seconds_late: seconds after the effective deadline (0 or less: on time).

        Returns:
            0 to 100. ``cutoff`` and ``zero``: 100 when late (a late version is not credited).
        """
        if seconds_late <= 0:
            return 0.0
        if self.kind != "penalty":
            return 100.0
        days = math.ceil(seconds_late / DAY)
        return min(self.percent_per_day * days, self.max_percent, 100.0)


def parse_policy(text: str) -> Policy:
    """``cutoff``, ``zero`` or ``penalty:<percent>/<day>[,max=<percent>]``.

    Raises:
        CourseError: anything else, or percentages outside 0..100.
    """
    raw = str(text).strip().lower().replace(" ", "")
    if raw in ("cutoff", "zero"):
        return Policy(raw)
    m = _PENALTY.fullmatch(raw)
    if not m:
        raise CourseError(f"--late-policy {_shown(str(text))!r}: use cutoff, zero or penalty:<percent>/day"
                          "[,max=<percent>] (e.g. penalty:10/day,max=50)")
    per_day, cap = float(m.group(1)), float(m.group(3)) if m.group(3) else 100.0
    if not 0 < per_day <= 100 or not 0 < cap <= 100:
        raise CourseError(f"--late-policy {_shown(str(text))!r}: percentages must be above 0 and at most 100")
    return Policy("penalty", per_day, cap)


def parse_grace(minutes) -> float:
    """``--grace`` in minutes (0 or more, at most a week)."""
    try:
        value = float(minutes)
    except (TypeError, ValueError):
        raise CourseError(f"--grace {_shown(str(minutes))!r} is not a number of minutes") from None
    if not 0 <= value <= 7 * 24 * 60 or math.isnan(value):
        raise CourseError(f"--grace {value:g}: give 0 to 10080 minutes")
    return value


def read_extensions(path: Path) -> dict:
    """student -> extended deadline (UTC), from a CSV with ``student`` and ``deadline`` or ``extension``.

    Rows with an empty deadline are skipped (a roster where most have no extension).

    Raises:
        CourseError: unreadable file, missing columns, a bad time (the line is named).
    """
    path = Path(path)
    rows = iter(read_csv(path, f"--extensions {path}", "it", MAX_EXTENSIONS_BYTES))
    header = [h.strip().lower() for h in next(rows, None) or []]
    sid = "student" if "student" in header else "github_username" if "github_username" in header else None
    col = "deadline" if "deadline" in header else "extension" if "extension" in header else None
    if sid is None or col is None:
        raise CourseError(f"--extensions {path}: needs a 'student' column and a 'deadline' (or 'extension') column")
    i, j = header.index(sid), header.index(col)
    found = {}
    for line_no, row in enumerate(rows, start=2):
        student = row[i].strip() if i < len(row) else ""
        value = row[j].strip() if j < len(row) else ""
        if not student or not value:
            continue
        found[student] = parse_time(value, f"--extensions {path.name}, line {line_no}:")
    return found


@dataclasses.dataclass(frozen=True)
class Rule:
    """The deadline rule of one run: ``due`` None means no deadline (nothing is late)."""

    due: dt.datetime | None = None
    grace_minutes: float = 0.0
    policy: Policy = Policy()
    extensions: tuple = ()  #: ((student, deadline), ...)

    def due_for(self, student: str) -> tuple[dt.datetime | None, bool]:
        """(the student's deadline before grace, whether it is an extension)."""
        ext = dict(self.extensions).get(student)
        if ext is not None:
            return ext, True
        return self.due, False

    def effective(self, student: str) -> dt.datetime | None:
        """The student's deadline with grace: a push after it is late."""
        due, _ = self.due_for(student)
        return None if due is None else due + dt.timedelta(minutes=self.grace_minutes)

    def key(self, student: str) -> dict:
        """What a student's result depends on (part of ``grade``'s fingerprint)."""
        due, extended = self.due_for(student)
        if due is None:
            return {}
        return {"due": iso(due), "extension": extended, "grace": self.grace_minutes, "policy": self.policy.text()}

    def class_key(self) -> dict | None:
        """What every student's decision depends on, JSON-ready and stable (None: no deadline).

        ``collect`` records it in ``collected.json``; when it differs from the recorded one,
        every student is collected again, so that ``grade`` re-decides them all.
        """
        if self.due is None:
            return None

        def exact(t: dt.datetime) -> str:
            return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        return {"due": exact(self.due), "grace": float(self.grace_minutes), "policy": self.policy.text(),
                "extensions": {student: exact(when) for student, when in sorted(self.extensions)}}

    def decide(self, student: str, pushed_at: str | None, source: str | None) -> dict | None:
        """The report's ``deadline`` field for one submission (None when there is no deadline).

        Args:
            student: the student id.
            pushed_at: the trusted push time (ISO 8601 UTC), or None when unknown.
            source: where it comes from: ``github-activity``, ``first-seen`` or ``timestamp.txt``.

        Returns:
            ``{"due", "common_due", "extension", "grace_minutes", "policy", "pushed_at", "pushed_source", "late",
            "late_seconds", "penalty_percent"}``. An unknown push time counts as on time (nothing to
            hold against the student), and ``late`` is then None.
        """
        due, extended = self.due_for(student)
        if due is None:
            return None
        info = {"due": iso(due), "common_due": iso(self.due), "extension": extended,
                "grace_minutes": self.grace_minutes,
                "policy": self.policy.text(), "pushed_at": pushed_at, "pushed_source": source,
                "late": None, "late_seconds": 0, "penalty_percent": 0.0}
        when = None
        if pushed_at:
            try:
                when = parse_time(pushed_at, "push time")
            except CourseError:
                when = None
        if when is not None:
            late = (when - self.effective(student)).total_seconds()
            info["late"] = late > 0
            info["late_seconds"] = max(0, math.ceil(late))
            info["penalty_percent"] = self.policy.percent(late)
        return info


def make_rule(deadline: str | None = None, grace=0, extensions: Path | dict | None = None,
              late_policy: str | None = None) -> Rule:
    """The :class:`Rule` of the command-line options (each validated; see the module's contract).

    Args:
        deadline: ``--deadline`` text, or None (no deadline).
        grace: ``--grace`` minutes.
        extensions: ``--extensions`` CSV path, or a ready student -> deadline text/time map (a roster's column).
        late_policy: ``--late-policy`` text (None: ``cutoff``).

    Returns:
        The rule.

    Raises:
        CourseError: a bad option, or deadline options without ``--deadline``.
    """
    policy = parse_policy(late_policy) if late_policy is not None else Policy()
    minutes = parse_grace(grace if grace is not None else 0)
    ext = {}
    if isinstance(extensions, dict):
        for student, value in extensions.items():
            ext[student] = value if isinstance(value, dt.datetime) else parse_time(value, f"extension of {student}:")
    elif extensions is not None:
        ext = read_extensions(Path(extensions))
    due = parse_time(deadline) if deadline is not None else None
    if due is None and (ext or minutes or late_policy is not None):
        raise CourseError("--grace, --extensions and --late-policy need --deadline")
    return Rule(due, minutes, policy, tuple(sorted(ext.items())))


def add_arguments(p) -> None:
    """``--deadline``, ``--grace``, ``--extensions``, ``--late-policy``: the same on collect and grade."""
    p.add_argument("--deadline", metavar="ISO8601",
                   help="the deadline, with a time zone, e.g. 2026-11-20T23:59:00+01:00 (a time without a zone is "
                        "refused); push times come from GitHub's activity API or when the course first saw a commit, "
                        "never from commit dates")
    p.add_argument("--grace", default="0", metavar="MINUTES",
                   help="minutes after the deadline still counted on time (default 0)")
    p.add_argument("--extensions", metavar="CSV",
                   help="CSV with columns student,deadline: that student's own deadline (a roster with an "
                        "'extension' column works too; collect also reads that column of its roster)")
    p.add_argument("--late-policy", metavar="POLICY",
                   help="cutoff (default: collect keeps the last version pushed on time and does not collect later "
                        "pushes; a late submission that reaches grade scores 0), "
                        "penalty:<percent>/day[,max=<percent>] (the newest version is graded; per started day "
                        "late, that percentage of the points is taken once off the assignment's total) or zero "
                        "(a late submission scores 0)")


def rule_from_args(args) -> Rule:
    """The deadline rule of the options (a bad option: CourseError, exit 2, before anything is touched)."""
    return make_rule(args.deadline, args.grace, Path(args.extensions) if args.extensions else None,
                     args.late_policy)
