"""The report: its schema, and everything a grading run writes from it.

``autograder grade`` writes one :class:`StudentReport` per student as
``reports/<student>--<assignment>.json``; every other reader (``merge``, the
gradebook, feedback pages, ``grades.csv``, ``summary.md``, and later the pull
loop) reads those files, so the schema below is the contract between them.

All renderings are built from the reports alone, so that ``autograder merge``
of shard outputs writes byte-identical files. Nothing here ever sees a
check's source, an expected value or a hidden input: only verdicts and the
messages checks wrote for students. This module imports no other wing.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from pathlib import Path
from typing import TypedDict

REPORTS = "reports"
FEEDBACK = "feedback"


class TestResult(TypedDict):
    """The verdict of one graded cell."""

    grade_id: str  #: the test cell's nbgrader grade_id
    max_points: float  #: its points, from the gradebook
    points: float  #: points earned
    status: str  #: passed | failed | error (the grader's fault) | manual (graded by hand)
    message: str  #: what is wrong, written for the student ("" when passed)
    #: on failed tests: the known misconceptions the student's code matched (``autograder.grading.hints``),
    #: each ``{"id": catalogue id, "text": fixed hint written for students}``; [] when none matched
    hints: list[Hint]  #: present on failed tests only (not on passed, manual or error entries)


class Hint(TypedDict):
    """A misconception named on a failed test."""

    id: str  #: the misconception's id in ``autograder/tasks/<task>/misconceptions.py``
    text: str  #: the hint shown to the student (a fixed text: never a value)


class NotebookResult(TypedDict):
    """One notebook of a submission."""

    notebook: str  #: the notebook's name without .ipynb (also its task's name)
    status: str  #: graded | missing | malformed | error
    problem: str | None  #: why it could not be graded fully, for the student
    score: float  #: autograded points earned
    max_score: float  #: autograded points available
    manual_max: float  #: points of written answers, graded by hand
    tests: list[TestResult]  #: in notebook order
    cells: list[str]  #: notes on the student's cells (raised, skipped)


class StudentReport(TypedDict):
    """One student's submission of one assignment: ``reports/<student>--<assignment>.json``."""

    student: str
    assignment: str
    score: float  #: autograded points earned, all notebooks, less ``late_penalty``
    raw_score: float  #: autograded points earned before any late penalty (the notebooks' scores add up to it)
    late_penalty: float  #: points taken off the total once for lateness (0 when on time or no deadline)
    #: the deadline and how this submission stands against it, None when the run had no ``--deadline``:
    #: ``due`` (ISO 8601 UTC, the student's own when ``extension``), ``extension`` (bool), ``grace_minutes``,
    #: ``policy`` (``cutoff`` | ``zero`` | ``penalty:<p>/day[,max=<p>]``), ``pushed_at`` (the trusted push
    #: time), ``pushed_source`` (``github-activity`` | ``first-seen`` | ``timestamp.txt``), ``late`` (bool,
    #: None when the push time is unknown), ``late_seconds``, ``penalty_percent`` (of ``raw_score``)
    deadline: dict | None
    max_score: float  #: autograded points available
    manual_max: float  #: written-answer points, graded by hand (not in max_score)
    isolation: str  #: how student code was confined
    notebooks: list[NotebookResult]  #: sorted by notebook name
    #: when the student submitted: nbgrader's ``timestamp.txt`` in the submission, as ISO 8601 UTC
    #: (``2026-11-20T23:58:01.123456Z``); None when it is missing or unreadable (``notes`` says which)
    submitted_at: str | None
    #: notes on the submission as a whole, for this student (no submission time, misnamed notebooks)
    notes: list[str]
    #: ``*.ipynb`` files in the submission whose names the assignment does not use (so not graded):
    #: student-controlled, so printable ASCII only (others as ``?``), each at most 80 characters, at most
    #: 20 names (then ``... and N more``); shown to this student only, never in class-wide files
    unexpected_files: list[str]
    #: hash of everything this report depends on (the student's files and timestamp, the tasks' folders,
    #: the grader's code and version, the gradebook's cells, the limits); ``grade`` reuses the report
    #: while it matches. None: never reused (the grader itself failed on a notebook)
    fingerprint: str | None
    #: when this report was graded, ISO 8601 UTC: the only field in which a reused report and a
    #: regrade of the same submission differ
    graded_at: str | None


def student_report(student: str, assignment: str, results: list, isolation: str, *,
                   submitted_at: str | None = None, notes=(), unexpected_files=(), fingerprint: str | None = None,
                   graded_at: str | None = None, deadline: dict | None = None) -> StudentReport:
    """One student's report from their notebooks' results (see :class:`StudentReport` for the fields).

    Args:
        student: the student id.
        assignment: the assignment name.
        results: one result dict per notebook (``seconds``, which varies run to run, is dropped).
        isolation: how student code was confined.
        submitted_at: the submission time (ISO 8601 UTC), or None.
        notes: notes on the whole submission, for the student.
        unexpected_files: misnamed notebook files, already made safe to show.
        fingerprint: what the report depends on, or None (never reuse it).
        graded_at: when it was graded (ISO 8601 UTC).
        deadline: the deadline decision (``autograder.course.deadlines.Rule.decide``), or None; its
            ``penalty_percent`` is taken off the total once (off each notebook's share, so that
            nbgrader's per-notebook ``late_submission_penalty`` adds up to the same).

    Returns:
        The report.
    """
    raw = sum(r["score"] for r in results)
    percent = float((deadline or {}).get("penalty_percent") or 0.0)
    penalty = sum(late_penalty_of(r["score"], percent) for r in results)
    score = raw - penalty if penalty else raw
    max_score = sum(r["max_score"] for r in results)
    manual = sum(r.get("manual_max", 0) for r in results)
    notebooks = [{k: v for k, v in r.items() if k != "seconds"} for r in results]  # timing varies run to run
    return {"student": student, "assignment": assignment, "score": score, "raw_score": raw,
            "late_penalty": penalty, "deadline": dict(deadline) if deadline else None, "max_score": max_score,
            "manual_max": manual, "isolation": isolation, "notebooks": sorted(notebooks, key=lambda r: r["notebook"]),
            "submitted_at": submitted_at, "notes": list(notes), "unexpected_files": list(unexpected_files),
            "fingerprint": fingerprint, "graded_at": graded_at}


def late_penalty_of(notebook_score: float, percent: float) -> float:
    """The late penalty charged on one notebook's score (the gradebook records the same number)."""
    return notebook_score * percent / 100.0 if percent else 0.0


def deadline_lines(report) -> list:
    """For the student: when it was due (and any extension), when it was pushed and from which source,
    whether it was late and by how much, the penalty. [] without a deadline."""
    info = report.get("deadline") if isinstance(report, dict) else None
    if not isinstance(info, dict) or not info.get("due"):
        return []
    source = {"github-activity": "GitHub's record of the push", "first-seen": "when the course first saw it",
              "timestamp.txt": "the submission's timestamp.txt"}.get(info.get("pushed_source"), "source unknown")
    due = f"Due: {info['due']}" + (" (your extension)" if info.get("extension") else "")
    if info.get("grace_minutes"):
        due += f", with {_fmt(float(info['grace_minutes']))} minutes of grace"
    lines = [due + f"; late policy: {info.get('policy')}"]
    if info.get("pushed_at"):
        lines.append(f"Pushed: {info['pushed_at']} ({source})")
    if info.get("late"):
        lines.append(f"Late by {_duration(info.get('late_seconds') or 0)}: "
                     f"{_fmt(float(info.get('penalty_percent') or 0))}% of the points taken off "
                     f"({_fmt(report.get('late_penalty') or 0)} points)")
    elif info.get("late") is False:
        lines.append("On time")
    else:
        lines.append("No push time known: nothing is counted late")
    return lines


def _duration(seconds) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = -(-rest // 60)
    return " ".join(([f"{days} d"] if days else []) + ([f"{hours} h"] if days or hours else []) + [f"{minutes} min"])


def report_path(out: Path, student: str, assignment: str) -> Path:
    """Where ``grade`` writes a student's report: ``<out>/reports/<student>--<assignment>.json`` (names :func:`_safe`).

    Args:
        out: the run's output folder.
        student: the student id.
        assignment: the assignment name.

    Returns:
        The report's path; distinct (student, assignment) pairs always get distinct paths.
    """
    return Path(out) / REPORTS / f"{_safe(student)}--{_safe(assignment)}.json"


def feedback_folder(out: Path, student: str, assignment: str) -> Path:
    """Where ``grade`` writes a student's feedback pages: ``<out>/feedback/<student>/<assignment>/``."""
    return Path(out) / FEEDBACK / _safe(student) / _safe(assignment)


def write_student(out: Path, report: StudentReport, sources: dict) -> None:
    """JSON report and one feedback page per notebook (``sources``: notebook -> student's cells).

    No string can make these writes fail (lone surrogates are escaped). A report file that
    already holds another student (only possible on a case-insensitive disk) is an error
    naming both, never an overwrite.
    """
    report = _printable(report)
    student, assignment = report["student"], report["assignment"]
    path = report_path(out, student, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    _refuse_collision(path, report)
    path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    fb = feedback_folder(out, student, assignment)
    fb.mkdir(parents=True, exist_ok=True)
    for result in report["notebooks"]:
        page = feedback_html(report, result, _printable(sources.get(result["notebook"], [])))
        (fb / f"{_safe(result['notebook'])}.html").write_text(page, encoding="utf-8", errors="backslashreplace")


def _refuse_collision(path: Path, report: dict) -> None:
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        who = (old["student"], old["assignment"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # nothing there (or not a report of ours): nothing to collide with
    if who != (report["student"], report["assignment"]):
        raise ValueError(f"student ids {who[0]!a} and {report['student']!a} collide: both would be "
                         f"written to {path.name!a} (a case-insensitive disk?)")


def _printable(value):
    """A copy of a JSON-like value whose strings any UTF-8 writer accepts (lone surrogates escaped)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_printable(v) for v in value)
    return value


#: characters kept as they are in file names; every other one is percent-encoded (%XX of its UTF-8 bytes)
_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _safe(name: str) -> str:
    """A name as one file-name component, injectively (``alice.`` and ``alice`` stay distinct).

    ASCII letters, digits, ``_``, ``.`` and ``-`` are kept; every other character (``%``
    included) becomes ``%XX`` per UTF-8 byte, and so do a leading ``.`` and every ``-`` at
    either end or beside another ``-``, so that a name is never hidden, ``.`` or ``..``, and
    the first ``--`` in ``<student>--<assignment>.json`` is always the separator.
    """
    name = str(name)
    last = len(name) - 1
    out = []
    for i, ch in enumerate(name):
        encode = ch not in _KEEP or (ch == "." and i == 0) or (ch == "-" and (
            i in (0, last) or name[i - 1] == "-" or name[i + 1] == "-"))
        out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")) if encode else ch)
    return "".join(out) or "%"


def _fmt(x: float) -> str:
    return f"{x:g}"


STATUS_MARK = {"passed": "passed", "failed": "FAILED", "manual": "graded by hand", "error": "ERROR"}


def _test_row(t: TestResult) -> str:
    e = html.escape
    manual = t["status"] == "manual"
    points = f"{'&ndash;' if manual else _fmt(t['points'])} / {_fmt(t['max_points'])}"
    return (f"<tr class='{e(t['status'])}'><td><code>{e(t['grade_id'])}</code></td><td>{points}</td>"
            f"<td>{e(STATUS_MARK.get(t['status'], t['status']))}</td>"
            f"<td>{e(t['message'] if not manual else '')}{_hints_html(t)}</td></tr>")


def _hints(t) -> list:
    """The well-formed hints of a test entry (a report file is read back: take nothing for granted)."""
    hints = t.get("hints") if isinstance(t, dict) else None
    if not isinstance(hints, list):
        return []
    return [h for h in hints if isinstance(h, dict) and isinstance(h.get("id"), str) and isinstance(h.get("text"), str)]


def _hints_html(t) -> str:
    items = "".join(f"<li><b>Likely cause:</b> {html.escape(h['text'])}</li>" for h in _hints(t))
    return f"<ul class='hints'>{items}</ul>" if items else ""


def _plain_id(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text)[:80]


def misconception_counts(reports: list) -> dict:
    """(assignment, task, misconception id) -> number of students whose report names it on a failed test."""
    counts: dict = {}
    for rep in reports:
        seen = set()
        for r in rep.get("notebooks", []):
            for t in r.get("tests", []):
                for h in _hints(t):
                    seen.add((rep.get("assignment", ""), r.get("notebook", ""), _plain_id(h["id"])))
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    return counts


def misconceptions_csv(reports: list) -> str:
    """``misconceptions.csv``: assignment, task, misconception, students (most frequent first per task)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["assignment", "task", "misconception", "students"])
    for (a, task, mid), n in sorted(misconception_counts(reports).items(), key=lambda kv: (kv[0][:2], -kv[1], kv[0])):
        writer.writerow([a, task, mid, n])
    return buf.getvalue()


def feedback_html(report: StudentReport, result: NotebookResult, cells: list) -> str:
    e = html.escape
    rows = "".join(_test_row(t) for t in result["tests"])
    score = f"{_fmt(result['score'])} / {_fmt(result['max_score'])}"
    manual = (f"&middot; plus {_fmt(result['manual_max'])} points of written answers, graded by hand"
              if result.get("manual_max") else "")
    notes = "".join(f"<li>{e(n)}</li>" for n in result.get("cells", []))
    problem = f"<p class='problem'><b>Problem:</b> {e(result['problem'])}</p>" if result.get("problem") else ""
    code = "".join(f"<h3>{e(label)}</h3><pre>{e(src)}</pre>" for label, src in cells)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Feedback: {e(result['notebook'])} ({e(report['student'])})</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}}
tr.passed td:nth-child(3){{color:#070}}tr.failed td:nth-child(3),tr.error td:nth-child(3){{color:#b00}}
pre{{background:#f6f6f6;padding:.6em;overflow-x:auto}}
ul.hints{{margin:.3em 0 0 0;padding-left:1.2em}}.problem{{color:#b00}}</style></head>
<body><h1>{e(report['assignment'])} / {e(result['notebook'])}</h1>
<p>Student: <b>{e(report['student'])}</b> &middot; Autograded score: <b>{score}</b>
{manual}
&middot; Status: {e(result['status'])}</p>{problem}
<h2>Tests</h2><table><tr><th>test</th><th>points</th><th>result</th><th>what is wrong</th></tr>{rows}</table>
{f"<h2>Notes on your cells</h2><ul>{notes}</ul>" if notes else ""}
{_deadline_html(report)}{_submission_notes(report)}
<p>Hidden tests run your code on further inputs; their inputs and expected values are not shown.
Run the public tests in the notebook (or <code>autograder check</code>) to debug.</p>
<h2>Your code (as graded)</h2>{code}</body></html>
"""


def _deadline_html(report: StudentReport) -> str:
    lines = deadline_lines(report)
    if not lines:
        return ""
    total = ""
    if report.get("late_penalty"):
        total = (f"<li>Assignment total after the penalty: <b>{_fmt(report['score'])} / {_fmt(report['max_score'])}"
                 f"</b> (before: {_fmt(report.get('raw_score', report['score']))})</li>")
    return "<h2>Deadline</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + total + "</ul>\n"


def _submission_notes(report: StudentReport) -> str:
    e = html.escape
    notes = [str(n) for n in report.get("notes") or []]
    files = [str(f) for f in report.get("unexpected_files") or []]
    if not notes and not files:
        return ""
    items = "".join(f"<li>{e(n)}</li>" for n in notes)
    if files:
        items += "<li>unexpected files: " + ", ".join(f"<code>{e(f)}</code>" for f in files) + "</li>"
    return f"<h2>Notes on your submission</h2><ul>{items}</ul>"


def load_reports(out: Path) -> list:
    """Every report in ``<out>/reports/``, by file name.

    Args:
        out: an output folder of ``grade`` (or ``merge``).

    Returns:
        The reports (dicts of :class:`StudentReport`'s schema).

    Raises:
        ValueError: two files hold the same student and assignment (the message names both files).
    """
    reports, seen = [], {}
    for path in sorted((Path(out) / REPORTS).glob("*.json")):
        rep = json.loads(path.read_text(encoding="utf-8"))
        key = (rep.get("student"), rep.get("assignment"))
        if key in seen:
            raise ValueError(f"{seen[key]} and {path.name} both hold the report of {key[0]!a}/{key[1]!a}")
        seen[key] = path.name
        reports.append(rep)
    return reports


#: the columns of grades.csv after the per-notebook scores, and what each means
CSV_COLUMNS = {
    "due": "the student's deadline (UTC; their extension when they have one), empty without --deadline",
    "late_seconds": "seconds late after the deadline and grace (0: on time), empty without --deadline",
    "pushed_source": "where submitted_at comes from: github-activity, first-seen or timestamp.txt",
    "raw_score": "autograded points earned before the late penalty",
    "late_penalty": "points taken off the total for lateness, once per assignment",
    "total": "autograded points earned, less late_penalty (written answers not included)",
    "max_score": "autograded points available (the maximum of total)",
    "manual_max": "points of written answers, graded by hand in nbgrader's formgrader (not in total)",
    "nbgrader_max_score": "max_score + manual_max: what `nbgrader export` calls max_score",
    "submitted_at": "submission time from nbgrader's timestamp.txt (UTC), empty when unknown",
}


def grades_csv(reports: list) -> str:
    """The class sheet: one row per report, notebook scores, then :data:`CSV_COLUMNS`."""
    notebooks = sorted({r["notebook"] for rep in reports for r in rep["notebooks"]})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", "assignment", *notebooks, *CSV_COLUMNS])
    for rep in sorted(reports, key=lambda r: (r["assignment"], r["student"])):
        by_nb = {r["notebook"]: r["score"] for r in rep["notebooks"]}
        manual = rep.get("manual_max", 0)
        info = rep.get("deadline") or {}
        late = ([info.get("due") or "", str(info.get("late_seconds") or 0) if info.get("late") is not None else "",
                 info.get("pushed_source") or ""] if info else ["", "", ""])
        writer.writerow([rep["student"], rep["assignment"], *(_fmt(by_nb[n]) if n in by_nb else "" for n in notebooks),
                         *late, _fmt(rep.get("raw_score", rep["score"])), _fmt(rep.get("late_penalty") or 0),
                         _fmt(rep["score"]), _fmt(rep["max_score"]), _fmt(manual), _fmt(rep["max_score"] + manual),
                         rep.get("submitted_at") or ""])
    return buf.getvalue()


def summary_markdown(reports: list) -> str:
    if not reports:
        return "## Grading summary\n\nNo submissions were graded.\n"
    lines = ["## Grading summary", ""]
    for assignment in sorted({r["assignment"] for r in reports}):
        reps = sorted((r for r in reports if r["assignment"] == assignment), key=lambda r: r["student"])
        notebooks = sorted({r["notebook"] for rep in reps for r in rep["notebooks"]})
        maxes = {r["notebook"]: r["max_score"] for rep in reps for r in rep["notebooks"]}
        lines += [f"### {assignment}", ""]
        manual = max((r.get("manual_max", 0) for r in reps), default=0)
        if manual:  # two maxima: say why grades.csv and `nbgrader export` differ
            auto = max((r.get("max_score", 0) for r in reps), default=0)
            lines += [f"Points are autograded points only, out of {_fmt(auto)}. Written answers "
                      f"({_fmt(manual)} points) are graded by hand in nbgrader's formgrader and are not included "
                      f"here, so `nbgrader export` reports a max_score of {_fmt(auto + manual)} "
                      "(grades.csv: `max_score`, `manual_max`, `nbgrader_max_score`).", ""]
        lines += ["| student | " + " | ".join(f"{n} (/{_fmt(maxes[n])})" for n in notebooks) + " | total |",
                  "|---|" + "---:|" * (len(notebooks) + 1)]
        for rep in reps:
            by_nb = {r["notebook"]: r for r in rep["notebooks"]}
            cells = []
            for n in notebooks:
                r = by_nb.get(n)
                flag = "" if r is None or r["status"] == "graded" else f" ({r['status']})"
                cells.append("" if r is None else _fmt(r["score"]) + flag)
            total = f"**{_fmt(rep['score'])} / {_fmt(rep['max_score'])}**"
            if rep.get("late_penalty"):
                total += f" (late: -{_fmt(rep['late_penalty'])})"
            lines.append(f"| {rep['student']} | " + " | ".join(cells) + f" | {total} |")
        timed = [r for r in reps if r.get("deadline")]
        if timed:
            lines += ["", "| student | due | pushed | source | late by | penalty |", "|---|---|---|---|---|---:|"]
            for rep in timed:
                d = rep["deadline"]
                late = _duration(d.get("late_seconds") or 0) if d.get("late") else (
                    "on time" if d.get("late") is False else "unknown")
                lines.append(f"| {rep['student']} | {d.get('due')}{' (extension)' if d.get('extension') else ''} | "
                             f"{d.get('pushed_at') or ''} | {d.get('pushed_source') or ''} | {late} | "
                             f"{_fmt(float(d.get('penalty_percent') or 0))}% |")
        lines.append("")
    counts = misconception_counts(reports)
    if counts:
        lines += ["### Misconceptions", "",
                  "How many students' code matched each known wrong approach (see misconceptions.csv):", "",
                  "| assignment | task | misconception | students |", "|---|---|---|---:|"]
        for (a, task, mid), n in sorted(counts.items(), key=lambda kv: (kv[0][:2], -kv[1], kv[0])):
            lines.append(f"| {a} | {task} | `{mid}` | {n} |")
        lines.append("")
    isolation = sorted({r.get("isolation", "?") for r in reports})
    lines.append(f"Isolation: {', '.join(isolation)}.")
    return "\n".join(lines) + "\n"


def write_class(out: Path, reports: list) -> None:
    """``grades.csv`` and ``summary.md`` in ``out`` from ``reports`` (and the summary to ``$GITHUB_STEP_SUMMARY``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORTS).mkdir(exist_ok=True)  # an empty shard is a valid shard: `merge` finds its reports/ folder
    (out / "grades.csv").write_text(grades_csv(reports), encoding="utf-8", errors="backslashreplace")
    (out / "misconceptions.csv").write_text(misconceptions_csv(reports), encoding="utf-8", errors="backslashreplace")
    summary = summary_markdown(reports)
    (out / "summary.md").write_text(summary, encoding="utf-8", errors="backslashreplace")
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(summary)


def table_text(reports: list) -> str:
    """The score table for a terminal."""
    lines = []
    for assignment in sorted({r["assignment"] for r in reports}):
        reps = sorted((r for r in reports if r["assignment"] == assignment), key=lambda r: r["student"])
        notebooks = sorted({r["notebook"] for rep in reps for r in rep["notebooks"]})
        width = max([len("student")] + [len(r["student"]) for r in reps])
        cols = {n: max(len(n), 7) for n in notebooks}
        head = f"{'student':<{width}}  " + "  ".join(f"{n:>{cols[n]}}" for n in notebooks) + "       total"
        lines += [f"{assignment}:", head, "-" * len(head)]
        for rep in reps:
            by_nb = {r["notebook"]: r for r in rep["notebooks"]}
            marks = {n: f"{_fmt(by_nb[n]['score'])}/{_fmt(by_nb[n]['max_score'])}" if n in by_nb else "-"
                     for n in notebooks}
            cells = "  ".join(f"{marks[n]:>{cols[n]}}" for n in notebooks)
            lines.append(f"{rep['student']:<{width}}  {cells}  {_fmt(rep['score']):>5}/{_fmt(rep['max_score'])}")
        lines.append("")
    return "\n".join(lines)
