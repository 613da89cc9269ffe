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
    score: float  #: autograded points earned, all notebooks
    max_score: float  #: autograded points available
    manual_max: float  #: written-answer points, graded by hand (not in max_score)
    isolation: str  #: how student code was confined
    notebooks: list[NotebookResult]  #: sorted by notebook name


def student_report(student: str, assignment: str, results: list, isolation: str) -> StudentReport:
    score = sum(r["score"] for r in results)
    max_score = sum(r["max_score"] for r in results)
    manual = sum(r.get("manual_max", 0) for r in results)
    notebooks = [{k: v for k, v in r.items() if k != "seconds"} for r in results]  # timing varies run to run
    return {"student": student, "assignment": assignment, "score": score, "max_score": max_score,
            "manual_max": manual, "isolation": isolation, "notebooks": sorted(notebooks, key=lambda r: r["notebook"])}


def write_student(out: Path, report: StudentReport, sources: dict) -> None:
    """JSON report and one feedback page per notebook (``sources``: notebook -> student's cells)."""
    student, assignment = report["student"], report["assignment"]
    path = out / REPORTS / f"{_safe(student)}--{_safe(assignment)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    fb = out / FEEDBACK / _safe(student) / _safe(assignment)
    fb.mkdir(parents=True, exist_ok=True)
    for result in report["notebooks"]:
        (fb / f"{_safe(result['notebook'])}.html").write_text(
            feedback_html(report, result, sources.get(result["notebook"], [])))


def _safe(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return keep.strip(".") or "_"


def _fmt(x: float) -> str:
    return f"{x:g}"


STATUS_MARK = {"passed": "passed", "failed": "FAILED", "manual": "graded by hand", "error": "ERROR"}


def _test_row(t: TestResult) -> str:
    e = html.escape
    manual = t["status"] == "manual"
    points = f"{'&ndash;' if manual else _fmt(t['points'])} / {_fmt(t['max_points'])}"
    return (f"<tr class='{e(t['status'])}'><td><code>{e(t['grade_id'])}</code></td><td>{points}</td>"
            f"<td>{e(STATUS_MARK.get(t['status'], t['status']))}</td>"
            f"<td>{e(t['message'] if not manual else '')}</td></tr>")


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
pre{{background:#f6f6f6;padding:.6em;overflow-x:auto}}.problem{{color:#b00}}</style></head>
<body><h1>{e(report['assignment'])} / {e(result['notebook'])}</h1>
<p>Student: <b>{e(report['student'])}</b> &middot; Autograded score: <b>{score}</b>
{manual}
&middot; Status: {e(result['status'])}</p>{problem}
<h2>Tests</h2><table><tr><th>test</th><th>points</th><th>result</th><th>what is wrong</th></tr>{rows}</table>
{f"<h2>Notes on your cells</h2><ul>{notes}</ul>" if notes else ""}
<p>Hidden tests run your code on further inputs; their inputs and expected values are not shown.
Run the public tests in the notebook (or <code>autograder check</code>) to debug.</p>
<h2>Your code (as graded)</h2>{code}</body></html>
"""


def load_reports(out: Path) -> list:
    reports = []
    for path in sorted((out / REPORTS).glob("*.json")):
        reports.append(json.loads(path.read_text()))
    return reports


def grades_csv(reports: list) -> str:
    notebooks = sorted({r["notebook"] for rep in reports for r in rep["notebooks"]})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", "assignment", *notebooks, "total", "max_score", "manual_pending"])
    for rep in sorted(reports, key=lambda r: (r["assignment"], r["student"])):
        by_nb = {r["notebook"]: r["score"] for r in rep["notebooks"]}
        writer.writerow([rep["student"], rep["assignment"], *(_fmt(by_nb[n]) if n in by_nb else "" for n in notebooks),
                         _fmt(rep["score"]), _fmt(rep["max_score"]), _fmt(rep.get("manual_max", 0))])
    return buf.getvalue()


def summary_markdown(reports: list) -> str:
    if not reports:
        return "## Grading summary\n\nNo submissions were graded.\n"
    lines = ["## Grading summary", ""]
    for assignment in sorted({r["assignment"] for r in reports}):
        reps = sorted((r for r in reports if r["assignment"] == assignment), key=lambda r: r["student"])
        notebooks = sorted({r["notebook"] for rep in reps for r in rep["notebooks"]})
        maxes = {r["notebook"]: r["max_score"] for rep in reps for r in rep["notebooks"]}
        lines += [f"### {assignment}", "",
                  "| student | " + " | ".join(f"{n} (/{_fmt(maxes[n])})" for n in notebooks) + " | total |",
                  "|---|" + "---:|" * (len(notebooks) + 1)]
        for rep in reps:
            by_nb = {r["notebook"]: r for r in rep["notebooks"]}
            cells = []
            for n in notebooks:
                r = by_nb.get(n)
                flag = "" if r is None or r["status"] == "graded" else f" ({r['status']})"
                cells.append("" if r is None else _fmt(r["score"]) + flag)
            total = f"**{_fmt(rep['score'])} / {_fmt(rep['max_score'])}**"
            lines.append(f"| {rep['student']} | " + " | ".join(cells) + f" | {total} |")
        lines.append("")
    isolation = sorted({r.get("isolation", "?") for r in reports})
    manual = max((r.get("manual_max", 0) for r in reports), default=0)
    if manual:
        lines.append(f"Autograded points only: written answers ({_fmt(manual)} points per student) are graded by hand.")
    lines.append(f"Isolation: {', '.join(isolation)}.")
    return "\n".join(lines) + "\n"


def write_class(out: Path, reports: list) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "grades.csv").write_text(grades_csv(reports))
    summary = summary_markdown(reports)
    (out / "summary.md").write_text(summary)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as fh:
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
