"""Recording official grades the nbgrader way.

Scores go into nbgrader's gradebook (``nbgrader export`` reads them), and each
graded notebook is written to ``autograded/<student>/<assignment>/`` with the
hidden parts of its test cells removed and each test cell's verdict as its
output (``nbgrader generate_feedback`` renders these). Runs in the grading
process only, never where student code runs.
"""

from __future__ import annotations

import datetime
import json
import warnings
from pathlib import Path

import nbformat

from autograder.course import db_url, notebooks


def record(root: Path, spec, submissions, reports) -> None:
    from nbgrader.api import Gradebook

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's own SQLAlchemy noise
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    with Gradebook(db_url(root)) as gb:
        for sub, rep in zip(submissions, reports):
            gb.update_or_create_student(sub.student)
            gb.update_or_create_submission(spec.name, sub.student, timestamp=now)
            for result in rep["notebooks"]:
                for test in result["tests"]:
                    grade = gb.find_grade(test["grade_id"], result["notebook"], spec.name, sub.student)
                    if test["status"] == "manual":
                        grade.auto_score = None
                        grade.needs_manual_grade = True
                    else:
                        grade.auto_score = float(test["points"])
                        grade.needs_manual_grade = False
            gb.db.commit()
            _write_autograded(root, spec, sub, rep)


def _write_autograded(root: Path, spec, sub, rep) -> None:
    folder = root / "autograded" / sub.student / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    verdicts = {t["grade_id"]: t for r in rep["notebooks"] for t in r["tests"]}
    for name, nb_spec in spec.notebooks.items():
        path = sub.folder / f"{name}.ipynb"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nb = nbformat.read(str(path), as_version=4)
            nbformat.validate(nb)
        except Exception:  # noqa: BLE001 - a malformed or missing submission: start from the release
            release = root / "release" / spec.name / f"{name}.ipynb"
            if not release.is_file():
                continue
            nb = nbformat.read(str(release), as_version=4)
        for cell in nb.cells:
            gid = notebooks.nbgrader_meta(cell).get("grade_id")
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            if gid in nb_spec.locked:
                cell.source = notebooks.strip_hidden(nb_spec.locked[gid][1])
            if gid in verdicts and cell.cell_type == "code":
                v = verdicts[gid]
                if v["status"] == "passed":
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="passed\n")]
                elif v["status"] != "manual":
                    cell.outputs = [nbformat.v4.new_output("error", ename="TestFailed", evalue=v["message"],
                                                           traceback=[f"TestFailed: {v['message']}"])]
        (folder / f"{name}.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
