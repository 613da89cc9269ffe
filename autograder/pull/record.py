"""The record folder: what collect saw and what return pushed, beside ``grade``'s reports.

``collected.json``::

    {"version": 1, "assignment": "exam22",
     "rule": {"due": "2026-11-20T22:59:00.000000Z", "grace": 0.0,  # the deadline rule collect ran under
              "policy": "penalty:10/day", "extensions": {"<student>": "<time>"}} | null,  # (null: no deadline)
     "students": {"<student>": {
         "repository": "owner/name",
         "status": "collected" | "unchanged-missing" | "missing" | "empty" | "no-notebooks" | "refused" | "late",
         "reason": "why it was not collected" | null,
         "sha": "<commit collected>" | null,
         "seen_at": "2026-11-20T23:58:01.123456Z",   # when the course first saw that commit
         "seen_source": "first-seen",                # where that time comes from
         "pushed_at": "2026-11-20T23:58:01.000000Z", # the push time the course trusts (timestamp.txt holds it)
         "pushed_source": "github-activity" | "first-seen",  # GitHub's activity API, or first seen
         "late_head": {"sha", "pushed_at", "pushed_source"},  # only under cutoff: a head pushed after the
                                                     # deadline, recorded and not graded
         "notebooks": {"<name>.ipynb": "sha256:<hex>"},
         "notes": ["a notebook refused and why", ...],
         "history": {"<sha>": "<first seen>"},      # every commit seen, so a revert keeps its first time
         "feedback_tip": {"branch": "feedback", "sha": "<tip>" | null}}}}  # the student's feedback branch
                                                     # as collect's ls-remote saw it (not a change by itself)

When ``rule`` differs from the rule of the run (``Rule.class_key``; a record without the field
counts as different), collect fetches every readable repository again and writes its
submission to ``submitted/``, so that ``grade`` re-decides every student under the new rule.

``returned.json``: ``{"<student>": {"commit": "<feedback commit>", "tree": "<its tree>"}}``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from autograder import report
from autograder.course import CourseError

COLLECTED = "collected.json"
RETURNED = "returned.json"
PRIVATE_LOG = "grader-private.log"
MAX_HISTORY = 50


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    """ISO 8601 UTC with a ``Z``, microseconds kept."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def nbgrader_timestamp(iso_text: str) -> str:
    """nbgrader's ``timestamp.txt`` format (``2026-11-20 23:58:01.123456 UTC``) of an ISO time from :func:`iso`."""
    t = dt.datetime.strptime(iso_text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def load_json(path: Path, default):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise CourseError(f"{path}: unreadable record file ({exc})") from None
    return data if isinstance(data, type(default)) else default


def write_json(path: Path, data) -> None:
    """Write atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_collected(out: Path, assignment: str) -> dict:
    """The ``students`` map of ``collected.json`` in ``out`` ({} for a new record)."""
    data = load_json(Path(out) / COLLECTED, {})
    if data and data.get("assignment") not in (None, assignment):
        raise CourseError(f"{out}: this record belongs to assignment {data.get('assignment')!r}, not {assignment!r}")
    students = data.get("students", {})
    return students if isinstance(students, dict) else {}


def collected_rule(out: Path) -> tuple[bool, dict | None]:
    """(whether ``collected.json`` in ``out`` says which deadline rule it was collected under, that rule's key).

    A new record (no file, or no student in it) counts as known with no rule: nothing to collect again.
    """
    data = load_json(Path(out) / COLLECTED, {})
    if "rule" not in data:
        return not data.get("students"), None
    rule = data["rule"]
    return rule is None or isinstance(rule, dict), rule if isinstance(rule, dict) else None


def save_collected(out: Path, assignment: str, students: dict, rule: dict | None = None) -> None:
    write_json(Path(out) / COLLECTED, {"version": 1, "assignment": assignment, "rule": rule, "students": students})


# -- the assignment's notebooks, read from release/ with the standard library ------------

def expected_notebooks(root: Path, assignment: str) -> dict:
    """notebook name -> (autograded points, manual points), from ``release/<assignment>/*.ipynb``.

    Read as JSON (nbgrader's cell metadata), so no dependency is needed.

    Raises:
        CourseError: the assignment has no release notebooks.
    """
    folder = Path(root) / "release" / assignment
    found = {}
    for path in sorted(folder.glob("*.ipynb")):
        auto = manual = 0.0
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CourseError(f"{path}: unreadable release notebook ({exc})") from None
        for cell in nb.get("cells", []):
            meta = (cell.get("metadata") or {}).get("nbgrader") or {}
            if meta.get("grade"):
                points = float(meta.get("points") or 0)
                if meta.get("solution") or meta.get("task"):
                    manual += points
                else:
                    auto += points
        found[path.stem] = (auto, manual)
    if not found:
        raise CourseError(f"no release notebooks in {folder}: run `autograder generate {assignment}` first")
    return found


def write_not_submitted(out: Path, student: str, assignment: str, notebooks: dict, reason: str,
                        deadline: dict | None = None) -> None:
    """A report of its own for a student with nothing to grade: zero points and why.

    Args:
        out: the record folder.
        student: the student id.
        assignment: the assignment.
        notebooks: from :func:`expected_notebooks`.
        reason: why nothing was graded, for the student (no student-controlled text).
        deadline: the student's deadline (``Rule.decide`` with no push time), shown to them, or None.
    """
    results = [{"notebook": name, "status": "missing", "problem": f"not submitted: {reason}", "score": 0.0,
                "max_score": auto, "manual_max": manual, "tests": [], "cells": []}
               for name, (auto, manual) in sorted(notebooks.items())]
    rep = report.student_report(student, assignment, results, "not run (nothing was submitted)",
                                notes=[f"not submitted: {reason}"], graded_at=iso(now()), deadline=deadline)
    report.write_student(Path(out), rep, {})


def private_files(name: str) -> bool:
    """Files of the record that never leave the grading machine."""
    return name == PRIVATE_LOG or name.endswith(".tmp")
