"""Recording official grades the nbgrader way.

Scores go into nbgrader's gradebook (``nbgrader export`` reads them), and each
graded notebook is written to ``autograded/<student>/<assignment>/`` with the
hidden parts of its test cells removed and each test cell's verdict as its
output (``nbgrader generate_feedback`` renders these). Runs in the grading
process only, never where student code runs.

The gradebook is read and written with ``sqlite3`` alone, making the rows
nbgrader's API makes (``tests/test_grading_speed.py`` compares them): importing
``nbgrader.api`` costs about a second, and a run's writes go in one transaction.
"""

from __future__ import annotations

import datetime
import json
import uuid
import warnings
from pathlib import Path

import nbformat

from autograder.course import notebooks, untrusted


def record(root: Path, spec, submissions, reports, copies: bool = True) -> None:
    """Record the reports in nbgrader's gradebook, in one transaction, and write ``autograded/``.

    The rows are those ``nbgrader autograde`` makes (as ``nbgrader.api.Gradebook``'s
    ``update_or_create_student``, ``update_or_create_submission`` and ``find_grade`` would:
    ``tests/test_grading_speed.py`` compares the two), written with ``sqlite3`` alone: no
    second of nbgrader imports, and one commit for the whole run (or shard) rather than one
    per student. Nothing is committed if writing fails part way.

    Args:
        root: the course root (its ``gradebook.db``).
        spec: the assignment's :class:`~autograder.course.AssignmentSpec`.
        submissions: the students' submissions (``.student``, ``.folder``).
        reports: their reports, in the same order.
        copies: also write their ``autograded/`` copies (:func:`write_copies`); ``grade`` writes
            them as each report is finished, while the others are graded.
    """
    import sqlite3

    pairs = list(zip(submissions, reports))
    if not pairs:
        return
    con = sqlite3.connect(root / "gradebook.db", timeout=60, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            layout = _layout(con, spec.name)
            for sub, rep in pairs:
                _record_one(con, layout, sub.student, rep)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    for sub, rep in pairs if copies else ():
        write_copies(root, spec, sub, rep)


def write_copies(root: Path, spec, sub, rep) -> None:
    """``autograded/<student>/<assignment>/``: the graded notebooks and ``timestamp.txt`` (never raises on a
    hostile notebook: it costs only its own copy).

    Args:
        root: the course root.
        spec: the assignment's :class:`~autograder.course.AssignmentSpec`.
        sub: the student's submission (``.student``, ``.folder``).
        rep: the student's report.
    """
    _write_autograded(root, spec, sub, rep)
    _write_timestamp(root / "autograded" / sub.student / spec.name, submitted_at(rep))


def _layout(con, assignment: str) -> dict:
    """The assignment's id, and per notebook its id and cells (grade, solution, task) by id and name."""
    found = con.execute("SELECT id FROM assignment WHERE name = ?", (assignment,)).fetchone()
    if found is None:
        raise ValueError(f"assignment {assignment!r} is not in the gradebook")
    nbs = {}
    for nb_id, name in con.execute("SELECT id, name FROM notebook WHERE assignment_id = ?", (found[0],)).fetchall():
        cells = {kind: con.execute(f"SELECT b.id, b.name FROM base_cell b JOIN {table} c ON c.id = b.id "  # noqa: S608
                                   "WHERE b.notebook_id = ?", (nb_id,)).fetchall()
                 for kind, table in (("grade", "grade_cells"), ("solution", "solution_cells"), ("task", "task_cells"))}
        nbs[name] = {"id": nb_id, **cells}
    return {"id": found[0], "notebooks": nbs}


def _sql_time(when: datetime.datetime) -> str:
    """A naive UTC time as SQLAlchemy stores a ``DateTime`` in SQLite."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def _record_one(con, layout: dict, student: str, rep) -> None:
    con.execute("INSERT OR IGNORE INTO student (id) VALUES (?)", (student,))
    when = submitted_at(rep)  # the submission's time, as `nbgrader autograde` takes it from timestamp.txt
    row = con.execute("SELECT id FROM submitted_assignment WHERE assignment_id = ? AND student_id = ?",
                      (layout["id"], student)).fetchone()
    if row is None:  # as nbgrader's add_submission: the whole structure of the assignment, mirrored
        sub_id = uuid.uuid4().hex
        con.execute("INSERT INTO submitted_assignment (id, assignment_id, student_id, timestamp, extension) "
                    "VALUES (?, ?, ?, ?, NULL)", (sub_id, layout["id"], student, when and _sql_time(when)))
        for nb in layout["notebooks"].values():
            sn = uuid.uuid4().hex
            con.execute("INSERT INTO submitted_notebook (id, assignment_id, notebook_id, flagged, "
                        "late_submission_penalty) VALUES (?, ?, ?, 0, NULL)", (sn, sub_id, nb["id"]))
            for cell_id, _ in nb["grade"] + nb["task"]:
                con.execute("INSERT INTO grade (id, notebook_id, cell_id, auto_score, manual_score, extra_credit, "
                            "needs_manual_grade) VALUES (?, ?, ?, NULL, NULL, NULL, 1)",
                            (uuid.uuid4().hex, sn, cell_id))
            for cell_id, _ in nb["solution"] + nb["task"]:
                con.execute("INSERT INTO comment (id, notebook_id, cell_id, auto_comment, manual_comment) "
                            "VALUES (?, ?, ?, NULL, NULL)", (uuid.uuid4().hex, sn, cell_id))
    else:
        sub_id = row[0]
        if when is not None:  # as nbgrader does without timestamp.txt: no time (never the grading time)
            con.execute("UPDATE submitted_assignment SET timestamp = ? WHERE id = ?", (_sql_time(when), sub_id))
    for result in rep["notebooks"]:
        nb = layout["notebooks"].get(result["notebook"])
        if nb is None:
            raise ValueError(f"notebook {result['notebook']!r} is not in the gradebook")
        cells = dict((name, cell_id) for cell_id, name in nb["grade"])
        for test in result["tests"]:
            manual = test["status"] == "manual"
            changed = con.execute(
                "UPDATE grade SET auto_score = ?, needs_manual_grade = ? WHERE cell_id = ? AND notebook_id = "
                "(SELECT id FROM submitted_notebook WHERE assignment_id = ? AND notebook_id = ?)",
                (None if manual else float(test["points"]), 1 if manual else 0, cells.get(test["grade_id"]),
                 sub_id, nb["id"])).rowcount
            if changed != 1:
                raise ValueError(f"no grade {test['grade_id']!r} of {result['notebook']!r} in the gradebook")
    _record_deadline(con, layout, sub_id, rep)


def recorded(root: Path, assignment: str, students) -> dict:
    """What the gradebook holds of these students' submissions, read with ``sqlite3`` (no nbgrader import).

    Args:
        root: the course root (its ``gradebook.db``).
        assignment: the assignment's name.
        students: the student ids to look up.

    Returns:
        ``{student: (timestamp, {(notebook, grade_id): auto_score})}`` for each student with a
        submission; the timestamp is naive UTC (as :func:`submitted_at` gives it) or None.
    """
    import sqlite3

    path = root / "gradebook.db"
    wanted, found = set(students), {}
    if not wanted or not path.is_file():
        return found
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT s.id, s.student_id, s.timestamp FROM submitted_assignment s "
                           "JOIN assignment a ON a.id = s.assignment_id WHERE a.name = ?", (assignment,))
        subs = {sid: (student, stamp) for sid, student, stamp in rows if student in wanted}
        for sid, (student, stamp) in subs.items():
            when = datetime.datetime.fromisoformat(stamp) if stamp else None
            grades = con.execute("SELECT n.name, b.name, g.auto_score FROM grade g "
                                 "JOIN submitted_notebook sn ON sn.id = g.notebook_id "
                                 "JOIN notebook n ON n.id = sn.notebook_id JOIN base_cell b ON b.id = g.cell_id "
                                 "WHERE sn.assignment_id = ?", (sid,))
            found[student] = (when, {(nb, cell): score for nb, cell, score in grades})
    finally:
        con.close()
    return found


def submitted_at(rep) -> datetime.datetime | None:
    """The report's submission time as nbgrader's gradebook keeps it (naive UTC), or None."""
    try:
        when = datetime.datetime.fromisoformat(str(rep.get("submitted_at")).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when


def _write_timestamp(folder: Path, when) -> None:
    """``timestamp.txt`` beside the autograded notebooks, in nbgrader's format (as `nbgrader autograde` copies it)."""
    path = folder / "timestamp.txt"
    try:
        if when is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n", encoding="ascii")
    except OSError:
        pass  # recording never stops the run


#: size cap when re-reading a graded notebook (grading already refused larger ones)
MAX_NOTEBOOK_BYTES = 64 << 20


def _write_autograded(root: Path, spec, sub, rep) -> None:
    """``autograded/<student>/<assignment>/<nb>.ipynb``: the graded notebook, test cells holding verdicts.

    A notebook that was not graded (missing, malformed, refused: not a regular file of the
    student's own) starts from the release, so nothing of a symlink's target is ever copied.
    Any notebook that still cannot be rebuilt is skipped: recording never stops the run.
    """
    folder = root / "autograded" / sub.student / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    verdicts = {t["grade_id"]: t for r in rep["notebooks"] for t in r["tests"]}
    status = {r["notebook"]: r.get("status") for r in rep["notebooks"]}
    for name, nb_spec in spec.notebooks.items():
        try:
            nb = _graded_or_release(root, spec.name, sub.folder / f"{name}.ipynb", status.get(name) == "graded")
            if nb is None:
                continue
            _fill(nb, nb_spec, verdicts)
            # ASCII, lone surrogates escaped; compact (json's C encoder): nobody diffs these copies
            text = json.dumps(untrusted.clean(nb), separators=(",", ":")) + "\n"
            (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
        except Exception:  # noqa: BLE001 - a hostile notebook costs only its own autograded copy
            continue


def _graded_or_release(root: Path, assignment: str, path: Path, graded: bool):
    if graded:
        try:
            text = untrusted.read_submitted(path, MAX_NOTEBOOK_BYTES).decode("utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # grading validated these very bytes (status "graded"); parse without validating again
                return nbformat.convert(nbformat.reader.reads(text), 4)
        except Exception:  # noqa: BLE001 - unreadable now: start from the release
            pass
    release = root / "release" / assignment / path.name
    return nbformat.read(str(release), as_version=4) if release.is_file() else None


def _fill(nb, nb_spec, verdicts: dict) -> None:
    """Clear outputs, restore locked cells and put each test's verdict in its cell (outputs as nbformat 4 writes
    them: nbformat's own constructor would validate each one again)."""
    for cell in nb.cells:
        if not isinstance(cell, dict):
            continue
        gid = notebooks.grade_id_of(cell)
        kind = cell.get("cell_type")
        if kind == "code":
            cell["outputs"], cell["execution_count"] = [], None
        if gid in nb_spec.locked:
            cell["source"] = notebooks.strip_hidden(nb_spec.locked[gid][1])
        if gid in verdicts and kind == "code":
            v = verdicts[gid]
            if v["status"] == "passed":
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "passed\n"}]
            elif v["status"] != "manual":
                message = untrusted.printable(v["message"])
                cell["outputs"] = [{"output_type": "error", "ename": "TestFailed", "evalue": message,
                                    "traceback": [f"TestFailed: {message}"]}]


def _record_deadline(con, layout: dict, sub_id: str, rep) -> None:
    """The report's deadline in nbgrader's terms, so that ``nbgrader export`` gives the report's total.

    The assignment's ``duedate`` is the common deadline; the submission's ``extension`` is the
    student's extension plus the grace (so nbgrader's ``total_seconds_late`` is the report's
    ``late_seconds``); each notebook's ``late_submission_penalty`` is its share of the penalty
    (``score * penalty_percent / 100``, as ``autograder.report.late_penalty_of``), adding up to the
    report's ``late_penalty``. Without a deadline the penalties are cleared (a rule that no longer
    applies leaves nothing behind). Written as nbgrader's API would (an ``Interval`` is stored as
    the epoch plus the interval, as SQLAlchemy does on SQLite).
    """
    info = rep.get("deadline") or None
    if info and info.get("common_due") and info.get("due"):
        common = _naive_utc(info["common_due"])
        own = _naive_utc(info["due"]) + datetime.timedelta(minutes=float(info.get("grace_minutes") or 0))
        con.execute("UPDATE assignment SET duedate = ? WHERE id = ?", (_sql_time(common), layout["id"]))
        extension = _sql_time(_EPOCH + (own - common)) if own != common else None
        con.execute("UPDATE submitted_assignment SET extension = ? WHERE id = ?", (extension, sub_id))
    percent = float((info or {}).get("penalty_percent") or 0.0)
    for result in rep["notebooks"]:
        nb = layout["notebooks"][result["notebook"]]
        penalty = float(result["score"]) * percent / 100.0 if percent else 0.0
        con.execute("UPDATE submitted_notebook SET late_submission_penalty = ? WHERE assignment_id = ? "
                    "AND notebook_id = ?", (penalty if penalty else None, sub_id, nb["id"]))


_EPOCH = datetime.datetime(1970, 1, 1)  # SQLAlchemy's Interval on SQLite: a DateTime of the epoch plus the interval


def _naive_utc(text: str) -> datetime.datetime:
    when = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return when.astimezone(datetime.timezone.utc).replace(tzinfo=None) if when.tzinfo else when
