"""End-to-end claims: solutions earn full points, stubs zero, mutants lose exactly their points.

Official grading (`autograder grade`) and stock `nbgrader autograde` are both
run on submissions built from the release notebooks (see conftest.py).
"""

from __future__ import annotations

import csv
import io
import json
import shutil

import nbformat
import pytest

from autograder import course as course_mod
from autograder import report
from autograder.commands import grade, merge
from autograder.course import notebooks, submissions

from .conftest import notebook_names, write_student
from .helpers import ASSIGNMENTS, mutants_of, source_notebooks

MUTANT_CASES = [(task, m) for task in sorted(source_notebooks()) for m in mutants_of(task)]


def _failed(rep, notebook):
    (nb,) = [r for r in rep["notebooks"] if r["notebook"] == notebook]
    return sorted(t["grade_id"] for t in nb["tests"] if t["status"] != "passed" and t["status"] != "manual")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_points(official, assignment):
    rep = official[assignment]["solution"]
    failed = [(r["notebook"], _failed(rep, r["notebook"])) for r in rep["notebooks"]]
    assert rep["score"] == rep["max_score"] > 0, failed
    assert all(r["status"] == "graded" for r in rep["notebooks"])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stub_earns_zero(official, assignment):
    rep = official[assignment]["stub"]
    assert rep["score"] == 0
    assert all(t["status"] in ("failed", "manual") for r in rep["notebooks"] for t in r["tests"])


@pytest.mark.parametrize("task,mutant", MUTANT_CASES)
def test_mutant_loses_points_on_its_task_only(official, task, mutant):
    assignment = source_notebooks()[task].parent.name
    rep = official[assignment][f"m-{task}-{mutant}"]
    assert _failed(rep, task) == sorted(mutants_of(task)[mutant]["fails"])
    others = [r for r in rep["notebooks"] if r["notebook"] != task]
    assert all(r["score"] == r["max_score"] for r in others)


def test_every_assignment_lists_every_task(official, course):
    for assignment in ASSIGNMENTS:
        names = {r["notebook"] for r in official[assignment]["solution"]["notebooks"]}
        assert names == set(notebook_names(course, assignment))


def test_grades_csv_and_summary_list_every_student(official):
    for assignment in ASSIGNMENTS:
        out = official[assignment]["__out__"]
        rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
        students = {k for k in official[assignment] if not k.startswith("__")}
        assert {r["student"] for r in rows} == students
        solution = next(r for r in rows if r["student"] == "solution")
        assert float(solution["total"]) == float(solution["max_score"])
        summary = (out / "summary.md").read_text()
        assert "| solution |" in summary and "| stub |" in summary


def test_scores_are_recorded_in_the_gradebook_for_nbgrader_export(course, official):
    course_mod.nbgrader_command(course, "export", "--to", str(course / "export.csv"))
    rows = list(csv.DictReader((course / "export.csv").open()))
    for assignment in ASSIGNMENTS:
        by_student = {r["student_id"]: r for r in rows if r["assignment"] == assignment}
        assert float(by_student["solution"]["score"]) == official[assignment]["solution"]["score"]
        assert float(by_student["stub"]["score"]) == 0


NOISY = """
import sys, warnings
_quiet_lstm = lstm_param_count
def lstm_param_count(*args, **kwargs):
    warnings.warn("a harmless warning")
    print("a line on stderr", file=sys.stderr)
    print("a line on stdout")
    return _quiet_lstm(*args, **kwargs)
"""


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stock_nbgrader_autograde_gives_solution_full_and_stub_zero(course, tmp_path, assignment):
    """`nbgrader autograde` unchanged on the repository: hidden checks run in-kernel.

    A correct solution that warns and writes to stderr while the test cells
    call it keeps its points there too (nbgrader_config.py's IgnorePattern).
    """
    folder = course / "submitted-stock"
    write_student(course, folder, assignment, f"stock-solution-{assignment}")
    write_student(course, folder, assignment, f"stock-stub-{assignment}", stub=True)
    if assignment == "exam22":
        path = write_student(course, folder, assignment, "stock-noisy") / assignment / "lstm_params.ipynb"
        nb = notebooks.read(path)
        at = next(i for i, c in enumerate(nb.cells)
                  if notebooks.nbgrader_meta(c).get("grade_id") == "lstm_param_count_solution")
        nb.cells.insert(at + 1, notebooks.code(NOISY))
        submissions.write(nb, path)
    course_mod.nbgrader_command(course, "autograde", assignment,
                                "--CourseDirectory.submitted_directory=submitted-stock",
                                "--force")
    course_mod.nbgrader_command(course, "export", "--to", str(tmp_path / "stock.csv"))
    with (tmp_path / "stock.csv").open() as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == assignment}
    full = rows[f"stock-solution-{assignment}"]
    manual = sum(nb.manual_max for nb in course_mod.load_assignment(course, assignment).notebooks.values())
    assert float(full["score"]) == float(full["max_score"]) - manual
    assert float(rows[f"stock-stub-{assignment}"]["score"]) == 0
    if assignment == "exam22":
        assert float(rows["stock-noisy"]["score"]) == float(full["score"])
    course_mod.nbgrader_command(course, "generate_feedback", assignment, "--force",
                                "--student", f"stock-solution-{assignment}")
    assert (course / "feedback" / f"stock-solution-{assignment}" / assignment).is_dir()


def test_nbgrader_generate_feedback_on_official_results_shows_no_hidden_test(course, official):
    """Official grading writes autograded/ without hidden tests, so stock feedback cannot show them."""
    course_mod.nbgrader_command(course, "generate_feedback", "exam22", "--student", "solution", "--force")
    pages = list((course / "feedback" / "solution" / "exam22").glob("*.html"))
    assert len(pages) == len(notebook_names(course, "exam22"))
    for page in pages:
        text = page.read_text()
        assert "run_hidden" not in text and "BEGIN HIDDEN" not in text
    copies = sorted((course / "autograded").glob("*/exam22/*.ipynb"))
    kinds = set()
    for copy in copies:  # the verdict outputs are written as plain dicts: each copy is still valid nbformat 4
        nb = nbformat.read(str(copy), as_version=4)
        nbformat.validate(nb)
        kinds |= {o["output_type"] for c in nb.cells if c.cell_type == "code" for o in c.outputs}
    assert len(copies) >= 2 * len(notebook_names(course, "exam22")) and kinds == {"stream", "error"}


def _without_volatile(rep):
    rep = json.loads(json.dumps(rep, sort_keys=True))
    rep.pop("graded_at", None)  # when it was graded: the one field that differs between two gradings
    return rep


def test_jobs_1_and_jobs_2_give_identical_reports(course, submitted, official, tmp_path):
    students = ["solution", "stub", sorted(k for k in official["exam22"] if k.startswith("m-"))[0]]
    folder = tmp_path / "subset"
    for s in students:  # copies: a symlinked assignment folder is refused (tests/test_hostile_input.py)
        shutil.copytree(submitted / s / "exam22", folder / s / "exam22")
    one = grade.run(folder, "exam22", tmp_path / "one", jobs=1, root=course, echo=lambda m: None, gradebook=False)
    for rep in one:
        assert _without_volatile(rep) == _without_volatile(official["exam22"][rep["student"]])


def test_shards_merged_equal_one_run(course, submitted, official, tmp_path):
    outs = []
    for i in (1, 2, 3):
        out = tmp_path / f"shard{i}"
        grade.run(submitted, "backprop", out, jobs=1, shard_spec=f"{i}/3", root=course, echo=lambda m: None,
                  gradebook=False)
        outs.append(out)
    seen = [json.loads(p.read_text())["student"] for o in outs for p in (o / report.REPORTS).glob("*.json")]
    assert len(seen) == len(set(seen)) == len([k for k in official["backprop"] if not k.startswith("__")])
    merged = tmp_path / "merged"
    merge.run(outs, merged, echo=lambda m: None)
    full = official["backprop"]["__out__"]
    assert (merged / "grades.csv").read_text() == (full / "grades.csv").read_text()
    assert (merged / "summary.md").read_text() == (full / "summary.md").read_text()
