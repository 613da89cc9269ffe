"""Start-up and throughput of ``grade`` (issue 14): the fast paths read and grade exactly what the slow ones did.

* the gradebook is read with ``sqlite3`` alone: the same cells as ``nbgrader.api``;
* notebooks are still validated although jsonschema's optional format modules are not imported;
* a small run starts only the workers it needs;
* each notebook is parsed once: a report's sources are those the slower path (a second parse) gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from autograder import course as course_mod
from autograder import report
from autograder.commands import grade
from autograder.course import gradebook
from autograder.grading.pipeline import Limits

from .conftest import write_student

A = "backprop"


@pytest.fixture(scope="module")
def mine(course, tmp_path_factory):
    dest = tmp_path_factory.mktemp("speedcourse") / "course"
    shutil.copytree(course, dest, ignore=shutil.ignore_patterns("submitted", "autograded", "o", "export.csv"))
    return dest


def _nbgrader_spec(root, assignment):
    """The assignment as the former reader built it, through nbgrader's API."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(course_mod.db_url(root)) as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            out[nb.name] = {"grade": sorted((c.name, float(c.max_score)) for c in nb.grade_cells),
                            "solution": {c.name for c in nb.solution_cells},
                            "source": {c.name: (c.cell_type, bool(c.locked), c.source) for c in nb.source_cells}}
    return out


@pytest.mark.parametrize("assignment", ["backprop", "exam22"])
def test_the_gradebook_read_with_sqlite_is_what_nbgrader_reads(course, assignment):
    ours = course_mod.read_assignment(course, assignment)
    for nb in ours.values():
        nb["grade"] = sorted((name, float(points)) for name, points in nb["grade"])
    assert ours == _nbgrader_spec(course, assignment) and len(ours) >= 4
    assert course_mod.read_assignment(course, "no-such-assignment") == {}
    with pytest.raises(course_mod.CourseError, match="not in the gradebook"):
        course_mod.load_assignment(course, "no-such-assignment")


def test_recorded_grades_read_with_sqlite_are_what_nbgrader_holds(mine, tmp_path):
    from nbgrader.api import Gradebook

    sub = tmp_path / "submitted"
    write_student(mine, sub, A, "ref")
    write_student(mine, sub, A, "stub", stub=True)
    (sub / "ref" / A / "timestamp.txt").write_text("2026-11-20 23:58:01.123456 UTC\n")
    reports = grade.run(sub, A, tmp_path / "rec", jobs=1, root=mine, echo=lambda m: None)
    held = gradebook.recorded(mine, A, ["ref", "stub", "nobody"])
    assert set(held) == {"ref", "stub"}
    with Gradebook(course_mod.db_url(mine)) as gb:
        for student in ("ref", "stub"):
            entry = gb.find_submission(A, student)
            want = {(nb.name, g.name): g.auto_score for nb in entry.notebooks for g in nb.grades}
            assert held[student] == (entry.timestamp, want)
    assert held["ref"][0] == gradebook.submitted_at(reports[0]) is not None
    assert held["stub"][0] is None
    # and so a second run records nobody again (both match), a changed score is recorded again
    pairs = list(zip(grade.discover(sub, A), reports))
    spec = course_mod.load_assignment(mine, A)
    assert grade._recorded_already(mine, spec, pairs) == {"ref", "stub"}
    changed = json.loads(json.dumps(reports[1]))
    changed["notebooks"][0]["tests"][0]["points"] = 99.0
    assert grade._recorded_already(mine, spec, [(pairs[0][0], reports[0]), (pairs[1][0], changed)]) == {"ref"}


def test_importing_the_grader_skips_the_format_modules_and_notebooks_are_still_validated(tmp_path):
    bad = tmp_path / "bad.ipynb"  # valid JSON, not a valid notebook: a cell without its source
    bad.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                               "cells": [{"cell_type": "code", "metadata": {}, "outputs": []}]}))
    code = ("import sys; from autograder.commands import grade; import nbformat; "
            f"nb = nbformat.read({str(bad)!r}, as_version=4)\n"
            "try:\n    nbformat.validate(nb); print('valid')\n"
            "except nbformat.ValidationError:\n    print('invalid')\n"
            "print(sorted(m for m in ('rfc3987_syntax', 'isoduration', 'rfc3986_validator', 'webcolors', 'idna') "
            "if m in sys.modules), 'sklearn' in sys.modules, 'nbgrader.api' in sys.modules)\n"
            "import rfc3987_syntax, isoduration, rfc3986_validator; print('importable')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["invalid", "[] False False", "importable"]


@pytest.mark.parametrize(("items", "jobs", "workers", "with_twins"),
                         [(0, 2, 0, 0), (1, 4, 1, 1), (6, 2, 1, 2), (16, 2, 1, 2), (17, 2, 2, 2), (72, 2, 2, 2),
                          (72, 1, 1, 1), (3, 8, 1, 3), (1200, 8, 8, 8)])
def test_a_small_run_starts_only_the_workers_it_needs(items, jobs, workers, with_twins):
    assert grade.workers_for(items, jobs) == workers  # each worker starts a zygote of its own (a second or so)
    assert grade.workers_for(items, jobs, twins=True) == with_twins  # forks of the early zygote: milliseconds


def test_sources_from_the_single_parse_are_those_of_a_second_parse(mine, tmp_path):
    sub = tmp_path / "submitted"
    write_student(mine, sub, A, "ref")
    rec = tmp_path / "rec"
    [rep] = grade.run(sub, A, rec, jobs=1, root=mine, echo=lambda m: None, gradebook=False)
    spec = course_mod.load_assignment(mine, A)
    slow = {nb: grade._student_cells(spec.notebooks[nb], sub / "ref" / A / f"{nb}.ipynb", Limits())
            for nb in spec.notebooks}
    again = tmp_path / "again"
    again.mkdir()
    report.write_student(again, rep, slow)
    written = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert len(written) == 1 + len(spec.notebooks)  # the report and one feedback page per notebook
    for rel in written:
        assert (again / rel).read_bytes() == (rec / rel).read_bytes(), rel


def _record_with_nbgrader(root, spec, subs, reports):
    """The former recorder, through nbgrader's API (one commit per student): the reference for the rows."""
    from nbgrader.api import Gradebook

    with Gradebook(course_mod.db_url(root)) as gb:
        for sub, rep in zip(subs, reports):
            gb.update_or_create_student(sub.student)
            when = gradebook.submitted_at(rep)
            if when is None:
                gb.update_or_create_submission(spec.name, sub.student)
            else:
                gb.update_or_create_submission(spec.name, sub.student, timestamp=when)
            for result in rep["notebooks"]:
                for test in result["tests"]:
                    grade_ = gb.find_grade(test["grade_id"], result["notebook"], spec.name, sub.student)
                    manual = test["status"] == "manual"
                    grade_.auto_score = None if manual else float(test["points"])
                    grade_.needs_manual_grade = manual
            _deadline_with_nbgrader(gb, spec.name, sub.student, rep)
            gb.db.commit()


def _deadline_with_nbgrader(gb, assignment, student, rep):
    """The former deadline recorder, through nbgrader's API."""
    import datetime

    def naive(text):
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)

    info = rep.get("deadline") or None
    submission = gb.find_submission(assignment, student)
    if info and info.get("common_due") and info.get("due"):
        common = naive(info["common_due"])
        own = naive(info["due"]) + datetime.timedelta(minutes=float(info.get("grace_minutes") or 0))
        gb.update_or_create_assignment(assignment, duedate=common)
        submission.extension = (own - common) if own != common else None
    percent = float((info or {}).get("penalty_percent") or 0.0)
    for result in rep["notebooks"]:
        notebook = gb.find_submission_notebook(result["notebook"], assignment, student)
        penalty = float(result["score"]) * percent / 100.0 if percent else 0.0
        notebook.late_submission_penalty = penalty if penalty else None


def _rows(db):
    """Every row a submission makes, with nbgrader's random ids replaced by names."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        q = lambda sql: sorted(con.execute(sql).fetchall(), key=repr)  # noqa: E731
        return {
            "student": q("SELECT * FROM student"),
            "assignment": q("SELECT name, duedate FROM assignment"),
            "submission": q("SELECT a.name, s.student_id, s.timestamp, s.extension FROM submitted_assignment s "
                            "JOIN assignment a ON a.id = s.assignment_id"),
            "notebooks": q("SELECT s.student_id, n.name, sn.flagged, sn.late_submission_penalty FROM "
                           "submitted_notebook sn JOIN submitted_assignment s ON s.id = sn.assignment_id "
                           "JOIN notebook n ON n.id = sn.notebook_id"),
            "grades": q("SELECT s.student_id, n.name, b.name, b.type, g.auto_score, g.manual_score, g.extra_credit, "
                        "g.needs_manual_grade FROM grade g JOIN submitted_notebook sn ON sn.id = g.notebook_id "
                        "JOIN submitted_assignment s ON s.id = sn.assignment_id JOIN notebook n ON "
                        "n.id = sn.notebook_id JOIN base_cell b ON b.id = g.cell_id"),
            "comments": q("SELECT s.student_id, n.name, b.name, b.type, c.auto_comment, c.manual_comment "
                          "FROM comment c JOIN submitted_notebook sn ON sn.id = c.notebook_id "
                          "JOIN submitted_assignment s ON s.id = sn.assignment_id "
                          "JOIN notebook n ON n.id = sn.notebook_id JOIN base_cell b ON b.id = c.cell_id"),
        }
    finally:
        con.close()


def test_the_batched_gradebook_writes_make_the_rows_nbgrader_makes(mine, tmp_path):
    sub = tmp_path / "submitted"
    write_student(mine, sub, A, "ref")
    write_student(mine, sub, A, "stub", stub=True)
    (sub / "ref" / A / "timestamp.txt").write_text("2026-11-20 23:58:01 UTC\n")
    reports = grade.run(sub, A, tmp_path / "rec", jobs=1, root=mine, echo=lambda m: None, gradebook=False)
    subs = grade.discover(sub, A)
    spec = course_mod.load_assignment(mine, A)
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    for dest in (theirs, ours):
        dest.mkdir()
        shutil.copy2(mine / "gradebook.db", dest / "gradebook.db")
    _record_with_nbgrader(theirs, spec, subs, reports)
    gradebook.record(ours, spec, subs, reports)
    first = _rows(ours / "gradebook.db")
    assert first == _rows(theirs / "gradebook.db")
    assert any(g[4] is not None for g in first["grades"]) and first["comments"]  # not vacuous
    ours_ = [s[2] for s in first["submission"] if s[0] == A and s[1] in ("ref", "stub")]
    assert ours_ == ["2026-11-20 23:58:01.000000", None]
    # recording again over existing submissions: a new time and changed points update the same rows
    again = json.loads(json.dumps(reports))
    again[0]["submitted_at"] = "2026-11-21T10:00:00.250000Z"
    again[1]["submitted_at"] = None  # no time: nbgrader keeps what it had
    again[0]["notebooks"][0]["tests"][0]["points"] = 0.0
    again[0]["deadline"] = {"common_due": "2026-11-20T12:00:00Z", "due": "2026-11-21T12:00:00Z",
                            "grace_minutes": 15, "penalty_percent": 20}
    again[1]["deadline"] = {"common_due": "2026-11-20T12:00:00Z", "due": "2026-11-20T12:00:00Z",
                            "penalty_percent": 0}
    _record_with_nbgrader(theirs, spec, subs, again)
    gradebook.record(ours, spec, subs, again)
    second = _rows(ours / "gradebook.db")
    assert second == _rows(theirs / "gradebook.db") != first
    assert [a for a in second["assignment"] if a[0] == A] == [(A, "2026-11-20 12:00:00.000000")]
    assert [s[3] for s in second["submission"] if s[0] == A and s[1] in ("ref", "stub")] == \
        ["1970-01-02 00:15:00.000000", None]
    assert any(n[3] for n in second["notebooks"])  # late penalties recorded
    assert sorted(p.name for p in (ours / "autograded" / "ref" / A).iterdir()) == \
        sorted([f"{nb}.ipynb" for nb in spec.notebooks] + ["timestamp.txt"])
