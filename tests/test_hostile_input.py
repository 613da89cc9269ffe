"""Hostile submissions cost only their own report (issue 15, parts A, B and E).

One `autograder grade` run (jobs=1, gradebook recorded) over a `submitted/` folder holding a
`reference` student (every notebook solved) and one student per hostile input: metadata that is
not a dict, lone surrogates, FIFOs, devices, sockets, folders and symbolic links where a
notebook should be, symlinked student and assignment folders, folder names that used to change
the layout (`x.ipynb`, named like the assignment), ids that collide when "made safe"
(`alice` / `alice.`) and invalid ids. Each case asserts its exact points, status and reason;
the reference student keeps full marks. Faster unit tests cover `prepare`, `discover`, file
naming and `merge` on their own.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

from autograder import course as course_mod
from autograder import report
from autograder.commands import grade, merge
from autograder.course import CourseError, notebooks, submissions, untrusted
from autograder.grading.pipeline import Limits, prepare

from .conftest import release_nb, source_nb, write_student

A = "backprop"
NB = "shared_logit_net"  # 7 autograded points, a manual markdown answer (2 points)
FULL = 7.0
SOLUTION_ID = "shared_logit_solution"
NOT_REGULAR = "not a regular file (only your own regular files are graded)"


# -- building hostile notebooks --------------------------------------------------------

def solved_dict(course) -> dict:
    """The solved notebook as plain JSON data (to mangle in ways nbformat would not write)."""
    nb = submissions.solved(release_nb(course, A, NB), source_nb(course, A, NB))
    return json.loads(notebooks.dumps(nb))


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="ascii")  # lone surrogates as \\udXXX escapes
    return path


def _every_cell(data, fn, kinds=("code", "markdown", "raw")):
    for cell in data["cells"]:
        if cell.get("cell_type") in kinds:
            fn(cell)
    return data


def _set_nbgrader(value):
    return lambda cell: cell.setdefault("metadata", {}).__setitem__("nbgrader", value)


def _set_grade_id(value):
    def fn(cell):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and "grade_id" in meta:
            meta["grade_id"] = value
    return fn


def _append_cells(data, *cells):
    for kind, source in cells:
        cell = {"cell_type": kind, "id": f"extra-{len(data['cells'])}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        data["cells"].append(cell)
    return data


def solution_line(course) -> str:
    """A line of the instructor's solution that the release does not hold."""
    sol = submissions.solution_sources(source_nb(course, A, NB))[SOLUTION_ID]
    release = notebooks.dumps(release_nb(course, A, NB))
    lines = [ln.strip() for ln in sol.splitlines() if len(ln.strip()) > 20 and ln.strip() not in release]
    assert lines, "the solution must hold a line the release does not"
    return max(lines, key=len)


# name -> (how to write it into the student's folder, expected (points, status), reason substring)
METADATA_CASES = {
    # metadata.nbgrader a string / a list / a number on every cell: the cells are plain cells
    # (test cells included: their public code runs, harmlessly); the grader's checks still decide.
    "meta_nbgrader_string": (lambda d: _every_cell(d, _set_nbgrader("solution")), (FULL, "graded"), None),
    "meta_nbgrader_list": (lambda d: _every_cell(d, _set_nbgrader(["grade", True])), (FULL, "graded"), None),
    "meta_nbgrader_number": (lambda d: _every_cell(d, _set_nbgrader(3)), (FULL, "graded"), None),
    # only the markdown cells (used to crash the gradebook recording after the reports were written)
    "meta_markdown_string": (lambda d: _every_cell(d, _set_nbgrader("x"), ("markdown",)), (FULL, "graded"), None),
    "grade_id_dict": (lambda d: _every_cell(d, _set_grade_id({"a": 1})), (FULL, "graded"), None),
    "grade_id_list": (lambda d: _every_cell(d, _set_grade_id(["test_document_point"])), (FULL, "graded"), None),
    "grade_id_number": (lambda d: _every_cell(d, _set_grade_id(7)), (FULL, "graded"), None),
    # not valid nbformat: malformed, nothing runs
    "metadata_string": (lambda d: _every_cell(d, lambda c: c.__setitem__("metadata", "x")),
                        (0.0, "malformed"), "not a valid notebook"),
    "cells_not_dicts": (lambda d: {**d, "cells": [*d["cells"], "a cell", 5, None, ["x"]]},
                        (0.0, "malformed"), "not a valid notebook"),
    "cells_a_dict": (lambda d: {**d, "cells": {"0": d["cells"][0]}}, (0.0, "malformed"), "not a valid notebook"),
    # lone surrogates: in a markdown cell, in a code cell's source (that cell cannot even be compiled),
    # in metadata, and in text the child sends back (an exception class named with one)
    "surrogates": (lambda d: _append_cells(
        {**d, "metadata": {**d["metadata"], "\ud800": "\udcff"}},
        ("markdown", "# \ud800 and \udcff"),
        ("code", "s = '\ud800'  # \udfff"),
        ("code", "raise type('E\\udcff', (Exception,), {})('\\ud800')"),
        ("code", "print('\\ud800'); import sys; sys.stderr.write('\\udcff')"),
    ), (FULL, "graded"), None),
}


def _mknod(kind):
    def make(path: Path, course, folder: Path):
        os.mknod(path, kind | 0o600, os.makedev(1, 3) if kind == stat.S_IFCHR else 0)
    return make


def _symlink(target):
    def make(path: Path, course, folder: Path):
        path.symlink_to(target(course, folder))
    return make


# name -> (make the notebook path, reason substring); 0 points, status "refused"
FILE_CASES = {
    "fifo": (lambda path, course, folder: os.mkfifo(path), "a FIFO (named pipe), " + NOT_REGULAR),
    "char_device": (_mknod(stat.S_IFCHR), "a device, " + NOT_REGULAR),
    "socket_file": (_mknod(stat.S_IFSOCK), "a socket, " + NOT_REGULAR),
    "folder_as_notebook": (lambda path, course, folder: path.mkdir(), "a folder, " + NOT_REGULAR),
    "symlink_to_source": (_symlink(lambda course, folder: course / "source" / A / f"{NB}.ipynb"),
                          "a symbolic link, " + NOT_REGULAR),
    "symlink_to_reference": (_symlink(lambda course, folder: folder / "reference" / A / f"{NB}.ipynb"),
                             "a symbolic link, " + NOT_REGULAR),
    "dangling_symlink": (_symlink(lambda course, folder: Path("/nonexistent") / f"{NB}.ipynb"),
                         "a symbolic link, " + NOT_REGULAR),
    "relative_symlink": (_symlink(lambda course, folder: Path("..") / ".." / "reference" / A / f"{NB}.ipynb"),
                         "a symbolic link, " + NOT_REGULAR),
}
FOLDER_REFUSED = "refused: the folder holding your notebook is a symbolic link"
SECRET_NAME = "reference_private_name"


@pytest.fixture(scope="module")
def hostile(course, tmp_path_factory):
    """Grade every hostile student once, with one reference student; record in the gradebook."""
    folder = tmp_path_factory.mktemp("hostile") / "submitted"
    write_student(course, folder, A, "reference")
    (folder / "reference" / A / f"{SECRET_NAME}.ipynb").write_text("{}")  # a name only the reference's folder holds
    for name, (mangle, _, _) in METADATA_CASES.items():
        write_json(folder / name / A / f"{NB}.ipynb", mangle(solved_dict(course)))
    for name, (make, _) in FILE_CASES.items():
        (folder / name / A).mkdir(parents=True)
        make(folder / name / A / f"{NB}.ipynb", course, folder)
    # folders that are symbolic links: a student's folder, an assignment folder
    (folder / "linked_student").symlink_to(folder / "reference")
    (folder / "linked_assignment").mkdir()
    (folder / "linked_assignment" / A).symlink_to(folder / "reference" / A)
    # names that used to change the layout, or collide once "made safe"
    write_student(course, folder, A, "x.ipynb")
    write_student(course, folder, A, A)
    write_student(course, folder, A, "alice")
    write_student(course, folder, A, "alice.", stub=True)
    write_student(course, folder, A, "alice_", stub=True)
    # invalid ids: never graded, never a report
    for bad in ("bad name", "ctl\x01char", "-dash", os.fsdecode(b"bytes\xff")):
        write_student(course, folder, A, bad)
    out = tmp_path_factory.mktemp("hostile-out")
    lines = []
    reports = grade.run(folder, A, out, jobs=1, root=course, echo=lines.append)
    return {"reports": {r["student"]: r for r in reports}, "out": out, "folder": folder, "echo": lines,
            "course": course}


def _nb(rep, name=NB):
    return next(r for r in rep["notebooks"] if r["notebook"] == name)


def test_the_reference_student_keeps_full_marks(hostile):
    rep = hostile["reports"]["reference"]
    assert rep["score"] == rep["max_score"] > 0
    assert all(r["status"] == "graded" for r in rep["notebooks"])
    assert _nb(rep)["score"] == FULL


def test_every_folder_with_a_valid_id_gets_its_own_report(hostile):
    expected = {"reference", *METADATA_CASES, *FILE_CASES, "linked_student", "linked_assignment",
                "x.ipynb", A, "alice", "alice.", "alice_"}
    assert set(hostile["reports"]) == expected
    names = sorted(p.name for p in (hostile["out"] / report.REPORTS).glob("*.json"))
    assert len(names) == len(expected)
    for student in expected:
        path = report.report_path(hostile["out"], student, A)
        assert json.loads(path.read_text())["student"] == student
        assert (report.feedback_folder(hostile["out"], student, A) / f"{NB}.html").is_file()


@pytest.mark.parametrize("case", sorted(METADATA_CASES))
def test_hostile_metadata_costs_only_its_notebook(hostile, case):
    _, (points, status), reason = METADATA_CASES[case]
    result = _nb(hostile["reports"][case])
    assert (result["score"], result["status"]) == (points, status), result
    assert result["max_score"] == FULL
    if reason:
        assert reason in result["problem"]
        assert all(t["points"] == 0 and reason in t["message"] for t in result["tests"])
    for other in hostile["reports"][case]["notebooks"]:
        if other["notebook"] != NB:
            assert other["status"] == "missing" and other["score"] == 0


def test_lone_surrogates_reach_no_write(hostile):
    result = _nb(hostile["reports"]["surrogates"])
    assert len(result["cells"]) >= 2  # the uncompilable cell and the exception are noted
    page = (report.feedback_folder(hostile["out"], "surrogates", A) / f"{NB}.html").read_text(encoding="utf-8")
    assert "\\ud800" in page and "\ud800" not in page  # shown escaped
    raw = report.report_path(hostile["out"], "surrogates", A).read_text(encoding="utf-8")
    for note in _nb(json.loads(raw))["cells"]:
        note.encode("utf-8")  # no lone surrogate comes back from the report
    autograded = hostile["course"] / "autograded" / "surrogates" / A / f"{NB}.ipynb"
    text = autograded.read_text(encoding="utf-8")
    assert "\\\\ud800" in text  # escaped once more: a readable notebook for nbgrader
    (json.dumps(json.loads(text), ensure_ascii=False)).encode("utf-8")


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_anything_but_a_regular_file_is_refused_with_its_reason(hostile, case):
    _, reason = FILE_CASES[case]
    result = _nb(hostile["reports"][case])
    assert (result["score"], result["status"]) == (0, "refused"), result
    assert result["problem"] == "refused: " + reason
    assert [t["status"] for t in result["tests"]] == ["failed"] * 5 + ["manual"]
    assert all(t["message"] == result["problem"] for t in result["tests"])


@pytest.mark.parametrize("case", ["symlink_to_source", "symlink_to_reference", "relative_symlink",
                                  "linked_student", "linked_assignment"])
def test_nothing_of_a_link_target_reaches_feedback_or_autograded(hostile, case):
    line = solution_line(hostile["course"])
    page = (report.feedback_folder(hostile["out"], case, A) / f"{NB}.html").read_text()
    assert line not in page and "BEGIN SOLUTION" not in page and "HIDDEN" not in page
    assert "Your code (as graded)</h2></body>" in page  # no cell at all
    autograded = (hostile["course"] / "autograded" / case / A / f"{NB}.ipynb").read_text()
    assert line not in autograded


@pytest.mark.parametrize("case", ["linked_student", "linked_assignment"])
def test_a_symlinked_student_or_assignment_folder_is_refused(hostile, case):
    rep = hostile["reports"][case]
    assert rep["score"] == 0
    assert SECRET_NAME in json.dumps(hostile["reports"]["reference"])  # the name is reported to its owner only
    assert SECRET_NAME not in report.report_path(hostile["out"], case, A).read_text()
    for page in report.feedback_folder(hostile["out"], case, A).iterdir():
        assert SECRET_NAME not in page.read_text()
    for result in rep["notebooks"]:
        assert (result["status"], result["problem"]) == ("refused", FOLDER_REFUSED + " "
                                                         "(only your own regular files are graded)")


def test_folder_names_do_not_change_the_layout(hostile):
    for student in ("x.ipynb", A, "alice"):
        rep = hostile["reports"][student]
        assert rep["score"] == rep["max_score"] == hostile["reports"]["reference"]["max_score"], student


def test_ids_that_used_to_collide_keep_their_own_files(hostile):
    out = hostile["out"]
    assert hostile["reports"]["alice"]["score"] == hostile["reports"]["reference"]["score"]
    assert hostile["reports"]["alice."]["score"] == hostile["reports"]["alice_"]["score"] == 0
    paths = {s: report.report_path(out, s, A) for s in ("alice", "alice.", "alice_")}
    assert len(set(paths.values())) == 3
    assert {s: json.loads(p.read_text())["score"] for s, p in paths.items()} == {
        "alice": hostile["reports"]["reference"]["score"], "alice.": 0, "alice_": 0}
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert float(rows["alice"]["total"]) == hostile["reports"]["reference"]["score"]
    assert float(rows["alice."]["total"]) == 0 and float(rows["alice_"]["total"]) == 0


def test_invalid_ids_are_not_graded_and_the_run_goes_on(hostile):
    assert not any(s.startswith(("bad", "ctl", "-dash", "bytes")) for s in hostile["reports"])
    assert not any(p.name.startswith(("bad", "ctl", "%2Ddash", "bytes"))
                   for p in (hostile["out"] / report.REPORTS).iterdir())
    summary = (hostile["out"] / "summary.md").read_text()
    assert "| reference |" in summary
    warned = [line for line in hostile["echo"] if line.startswith("not graded: the student folder ")]
    assert len(warned) == 4 and all(line.isascii() for line in warned)  # named on the console, escaped


def test_the_gradebook_records_every_graded_student(hostile):
    course = hostile["course"]
    course_mod.nbgrader_command(course, "export", "--to", str(hostile["out"] / "export.csv"))
    rows = {r["student_id"]: r for r in csv.DictReader((hostile["out"] / "export.csv").open())
            if r["assignment"] == A}
    for student, rep in hostile["reports"].items():
        assert float(rows[student]["score"]) == rep["score"], student
    for case in METADATA_CASES:
        assert (course / "autograded" / case / A / f"{NB}.ipynb").is_file(), case


# -- prepare alone: every hostile file, no child ------------------------------------------

@pytest.fixture(scope="module")
def spec(course):
    return course_mod.load_assignment(course, A).notebooks[NB]


def test_prepare_never_raises_and_refuses_what_is_not_a_regular_file(course, spec, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    limits = Limits()
    write_json(own / "ok.ipynb", solved_dict(course))
    os.mkfifo(own / "fifo.ipynb")
    (own / "link.ipynb").symlink_to(own / "ok.ipynb")
    (own / "dangling.ipynb").symlink_to(own / "nowhere.ipynb")
    (own / "dir.ipynb").mkdir()
    os.mknod(own / "dev.ipynb", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (tmp_path / "linked").symlink_to(own)
    assert prepare(own / "ok.ipynb", spec, limits).status == "ok"
    assert prepare(None, spec, limits).status == "missing"
    assert prepare(own / "absent.ipynb", spec, limits).status == "missing"
    for name, kind in [("fifo", "a FIFO (named pipe)"), ("link", "a symbolic link"),
                       ("dangling", "a symbolic link"), ("dir", "a folder"), ("dev", "a device")]:
        p = prepare(own / f"{name}.ipynb", spec, limits)
        assert (p.status, p.problem, p.cells) == ("refused", f"refused: {kind}, {NOT_REGULAR}", []), name
    p = prepare(tmp_path / "linked" / "ok.ipynb", spec, limits)
    assert (p.status, p.cells) == ("refused", []) and p.problem.startswith(FOLDER_REFUSED)
    p = prepare(own / "ok.ipynb", spec, Limits(max_notebook_bytes=1000))
    assert p.status == "malformed" and "too large" in p.problem


@pytest.mark.parametrize("case", sorted(METADATA_CASES))
def test_prepare_runs_no_test_cell_whatever_the_metadata(course, spec, tmp_path, case):
    mangle, (points, status), _ = METADATA_CASES[case]
    path = write_json(tmp_path / f"{NB}.ipynb", mangle(solved_dict(course)))
    prepared = prepare(path, spec, Limits())
    assert prepared.status == ("ok" if status == "graded" else status)
    if status == "graded":  # the student's solution is run; the grader's checks decide the points
        solution = submissions.solution_sources(source_nb(course, A, NB))[SOLUTION_ID]
        assert any(src.strip() == solution.strip() for _, src in prepared.cells)
    else:
        assert prepared.cells == [] and "not a valid notebook" in prepared.problem


# -- discovery: the layout comes from the path, never from a student's folder name ----------

def _tree(root: Path, *students: str) -> Path:
    for s in students:
        (root / s / A).mkdir(parents=True)
    return root


def test_discover_decides_the_layout_from_the_path(tmp_path):
    sub = _tree(tmp_path / "submitted", "x.ipynb", A, "alice", ".git", "bob")
    (sub / "top.ipynb").write_text("{}")  # a file at the top is no student
    (sub / "nosub").mkdir()  # a student without this assignment
    found = grade.discover(sub, A)
    assert [(s.student, s.folder) for s in found] == [
        ("alice", sub / "alice" / A), (A, sub / A / A), ("bob", sub / "bob" / A), ("x.ipynb", sub / "x.ipynb" / A)]
    assert [(s.student, s.folder) for s in grade.discover(sub / "alice", A)] == [("alice", sub / "alice" / A)]
    assert [(s.student, s.folder) for s in grade.discover(sub / A, A)] == [(A, sub / A / A)]  # submitted/<A>
    assert [(s.student, s.folder) for s in grade.discover(sub / "alice" / A, A)] == [("alice", sub / "alice" / A)]
    assert [(s.student, s.folder) for s in grade.discover(sub / "bob" / A, A, "zoe")] == [("zoe", sub / "bob" / A)]
    other = _tree(tmp_path / "elsewhere", "carol")
    assert [(s.student, s.folder) for s in grade.discover(other / "carol", A, "carol")] == [
        ("carol", other / "carol" / A)]
    assert [s.student for s in grade.discover(other, A)] == ["carol"]


def test_discover_resolves_only_the_instructors_part_of_the_path(tmp_path):
    sub = _tree(tmp_path / "real" / "submitted", "alice")
    (tmp_path / "via").symlink_to(tmp_path / "real")  # the instructor's own symlink: fine
    (sub / "mallory").symlink_to(sub / "alice")  # a student's: kept, so its notebooks are refused
    found = {s.student: s.folder for s in grade.discover(tmp_path / "via" / "submitted", A)}
    assert found == {"alice": sub / "alice" / A, "mallory": sub / "mallory" / A}
    with pytest.raises(untrusted.Refused):
        untrusted.check_real_folder(found["mallory"])
    untrusted.check_real_folder(found["alice"])
    assert grade.discover(tmp_path / "via" / "submitted" / "mallory", A)[0].folder == sub / "mallory" / A


def test_discover_refuses_invalid_ids_with_a_reason(tmp_path):
    bad = ["bad name", "ctl\x01", "-x", os.fsdecode(b"b\xff"), "x" * 65, "e\u0301"]
    sub = _tree(tmp_path / "submitted", "ok", *bad)
    warned = []
    assert [s.student for s in grade.discover(sub, A, warn=warned.append)] == ["ok"]
    assert len(warned) == len(bad)
    assert all(line.startswith("not graded: the student folder ") for line in warned)
    assert all(line.isascii() and "\n" not in line for line in warned)
    with pytest.raises(CourseError, match="not a valid student id"):
        grade.discover(sub / "bad name", A)
    with pytest.raises(CourseError, match="--student '../x': not a valid student id"):
        grade.discover(sub / "ok", A, "../x")


def test_ids_that_differ_only_in_case_are_an_error_naming_both(tmp_path):
    sub = _tree(tmp_path / "submitted", "Alice", "alice", "bob")
    with pytest.raises(CourseError, match="'Alice' and 'alice' differ only in case"):
        grade.discover(sub, A)


def test_one_students_folder_without_the_assignment_is_an_error(tmp_path):
    sub = _tree(tmp_path / "submitted", "alice")
    (sub / "carol").mkdir()
    with pytest.raises(CourseError, match=f"no submission of {A} in"):
        grade.discover(sub / "carol", A)
    with pytest.raises(CourseError, match="no submissions of x in"):
        grade.discover(sub / "alice" / A, "x")  # a folder of notebooks, not named like the assignment


# -- file names: injective -----------------------------------------------------------------

NAMES = ["alice", "alice.", "alice_", "alice-", "alice%2E", "Alice", ".", "..", ".alice", "a-b", "a--b", "a-",
         "-a", "a---b", "a%b", "a/b", "a\\b", "jos\u00e9", "jose\u0301", "\ud800", "\udcff", "", "_", "%", "a b",
         "a@b", "a+b", "x.ipynb", "\x00", "\n", "CON", "a" * 64]


def test_file_names_map_ids_injectively_and_stay_one_component():
    safe = [report._safe(n) for n in NAMES]
    assert len(set(safe)) == len(NAMES)
    for s in safe:
        assert s and "/" not in s and "\\" not in s and s not in (".", "..") and not s.startswith(".")
        assert s.isascii() and s.isprintable() and "--" not in s and not s.startswith("-") and not s.endswith("-")
    pairs = {(a, b): report.report_path(Path("/o"), a, b) for a in NAMES for b in ("exam22", "a-", "-b", "b--c")}
    assert len(set(pairs.values())) == len(pairs)
    assert report._safe("m-batchnorm-x1") == "m-batchnorm-x1"  # ordinary ids keep their names


def test_write_student_refuses_to_overwrite_another_students_report(tmp_path):
    rep = report.student_report("alice", A, [], "none")
    report.write_student(tmp_path, rep, {})
    other = report.report_path(tmp_path, "Alice", A)
    other.write_text(report.report_path(tmp_path, "alice", A).read_text())  # as on a case-insensitive disk
    with pytest.raises(ValueError, match="'alice' and 'Alice' collide"):
        report.write_student(tmp_path, report.student_report("Alice", A, [], "none"), {})


def test_reports_and_pages_are_written_whatever_the_strings(tmp_path):
    result = {"notebook": NB, "status": "graded", "problem": "\ud800", "score": 0.0, "max_score": 1.0,
              "manual_max": 0.0, "cells": ["cell 1 raised \udcff"],
              "tests": [{"grade_id": "t", "max_points": 1.0, "points": 0.0, "status": "failed", "message": "\udfff"}]}
    rep = report.student_report("s", A, [result], "\ud800")
    report.write_student(tmp_path, rep, {NB: [("cell 1", "x = '\ud800'")]})
    page = (report.feedback_folder(tmp_path, "s", A) / f"{NB}.html").read_text(encoding="utf-8")
    assert "\\ud800" in page and "\\udfff" in page
    (loaded,) = report.load_reports(tmp_path)
    assert loaded["notebooks"][0]["problem"] == "\\ud800"
    report.write_class(tmp_path, [loaded])


# -- merge: no shard overwrites another -----------------------------------------------------

def _shard(path: Path, *students: str) -> Path:
    result = {"notebook": NB, "status": "missing", "problem": "notebook not submitted", "score": 0.0,
              "max_score": FULL, "manual_max": 2.0, "tests": [], "cells": []}
    for s in students:
        report.write_student(path, report.student_report(s, A, [result], "none"), {})
    return path


def test_merge_refuses_a_student_in_two_shards_naming_both(tmp_path):
    one, two = _shard(tmp_path / "one", "alice"), _shard(tmp_path / "two", "bob", "alice")
    with pytest.raises(CourseError, match=f"alice/{A} appears in both {one} and {two}"):
        merge.run([one, two], tmp_path / "out", echo=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_merge_never_overwrites_a_file_of_another_shard(tmp_path):
    one, two = _shard(tmp_path / "one", "alice"), _shard(tmp_path / "two", "bob")
    stray = report.feedback_folder(two, "alice", A) / f"{NB}.html"
    stray.parent.mkdir(parents=True)
    stray.write_text("bob's shard writing alice's page")
    with pytest.raises(CourseError, match=f"is in both {one} and {two}"):
        merge.run([one, two], tmp_path / "out", echo=lambda m: None)
    ok = merge.run([one, _shard(tmp_path / "three", "alice.")], tmp_path / "out2", echo=lambda m: None)
    assert sorted(r["student"] for r in ok) == ["alice", "alice."]


def test_merge_refuses_a_shard_with_two_reports_of_one_student(tmp_path):
    one = _shard(tmp_path / "one", "alice")
    copy = one / report.REPORTS / "copy.json"
    copy.write_text(report.report_path(one, "alice", A).read_text())
    with pytest.raises(CourseError, match="both hold the report of 'alice'"):
        merge.run([one], tmp_path / "out", echo=lambda m: None)

