"""Session fixtures: one scratch course, released and graded once, shared by the suite.

The course is a copy of source/ + nbgrader_config.py in a temporary folder,
released with stock `nbgrader generate_assignment`. Submissions are built
from the release notebooks (autograder.course.submissions), the way students make
them: `solution` (every solution cell filled in), `stub` (untouched), and
one student per known-wrong implementation (`m-<task>-<mutant>`: that task
mutated, every other task of the assignment solved).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder import course as course_mod
from autograder.commands import grade
from autograder.course import notebooks, submissions

from .helpers import ASSIGNMENTS, ROOT, mutants_of


def make_course(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(ROOT / "source", dest / "source")
    for assignment in ASSIGNMENTS:
        course_mod.nbgrader_command(dest, "generate_assignment", assignment, "--force")
    return dest


def notebook_names(course: Path, assignment: str) -> list[str]:
    return sorted(p.stem for p in (course / "release" / assignment).glob("*.ipynb"))


def release_nb(course: Path, assignment: str, name: str):
    return notebooks.read(course / "release" / assignment / f"{name}.ipynb")


def source_nb(course: Path, assignment: str, name: str):
    return notebooks.read(course / "source" / assignment / f"{name}.ipynb")


def write_student(course: Path, folder: Path, assignment: str, student: str, replace: dict | None = None,
                  stub: bool = False) -> Path:
    """Write one student's submission: every notebook solved (or stubbed), ``replace``: {nb: {grade_id: src}}."""
    replace = replace or {}
    for name in notebook_names(course, assignment):
        rel = release_nb(course, assignment, name)
        nb = rel if stub else submissions.solved(rel, source_nb(course, assignment, name), replace.get(name))
        submissions.write(nb, folder / student / assignment / f"{name}.ipynb")
    return folder / student


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="session")
def submitted(course) -> Path:
    folder = course / "submitted"
    for assignment in ASSIGNMENTS:
        write_student(course, folder, assignment, "solution")
        write_student(course, folder, assignment, "stub", stub=True)
        for name in notebook_names(course, assignment):
            for mutant, spec in mutants_of(name).items():
                write_student(course, folder, assignment, f"m-{name}-{mutant}", {name: spec["cells"]})
    return folder


@pytest.fixture(scope="session")
def official(course, submitted, tmp_path_factory) -> dict:
    """assignment -> {student: report} from `autograder grade --jobs 2` over every submission."""
    out = {}
    for assignment in ASSIGNMENTS:
        dest = tmp_path_factory.mktemp(f"out-{assignment}")
        reports = grade.run(submitted, assignment, dest, jobs=2, root=course, echo=lambda m: None)
        out[assignment] = {r["student"]: r for r in reports}
        out[assignment]["__out__"] = dest
    return out
