"""`autograder grade` as a whole run: it survives dead workers and Ctrl-C, reuses unchanged reports,
records submission times, and works on the first run of a fresh clone.

Every run grades the scratch course's `backprop` (four notebooks, two of them with written
answers) in a private copy of the course, so that the gradebook of the shared one is untouched.
Students whose notebooks are all missing are graded without a child process, which keeps the
cheap cases cheap; the dead worker and Ctrl-C are real (a notebook that sleeps, real signals).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import report
from autograder.commands import grade, merge
from autograder.course import ensure_gradebook, notebooks
from autograder.grading.pipeline import Limits

from .conftest import notebook_names, write_student
from .helpers import mutants_of

A = "backprop"
PY = sys.executable
#: a cell that names its process (PR_SET_NAME, seen from the host in /proc/PID/comm), then sleeps: the tests wait
#: for that name, not for any child of the zygote (a spare child may be forked before any notebook runs)
SLEEPER_NAME = "ag-sleeper"
SLEEP = f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{SLEEPER_NAME}', 0, 0, 0)\ntime.sleep(120)\n"


@pytest.fixture(scope="module")
def mine(course, tmp_path_factory) -> Path:
    """A private copy of the scratch course (its own gradebook.db)."""
    dest = tmp_path_factory.mktemp("gradecourse") / "course"
    shutil.copytree(course, dest, ignore=shutil.ignore_patterns("submitted", "autograded", "o", "export.csv"))
    return dest


def _empty(folder: Path, student: str) -> Path:
    """A student who submitted no notebook (graded without a child: fast)."""
    path = folder / student / A
    path.mkdir(parents=True)
    return path


def _files(out: Path) -> dict:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.parent.name != "__pycache__" and p.name != "grader-private.log"}


def _without_graded_at(data: bytes) -> bytes:
    rep = json.loads(data)
    rep.pop("graded_at")
    return json.dumps(rep, indent=1, sort_keys=True).encode()


def _cli(*args, cwd, env=None, **kw):
    return subprocess.run([PY, "-m", "autograder.cli", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900, **kw)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _sandbox_of(run_pid: int, bound: float = 300) -> tuple[int, int, int]:
    """(worker, zygote, child) of a grading run once a child runs the sleeping cell (waits at most ``bound`` s).

    The zygote is the worker's child, or the run's own when the run started it early for its first
    worker (``--jobs 1``: one worker).
    """
    end = time.monotonic() + bound
    while time.monotonic() < end:
        workers = [p for p in _children(run_pid) if not _is_zygote(p)]  # forked or spawned
        for zygote in [p for p in _children(run_pid) if _is_zygote(p)] + [z for w in workers for z in _children(w)]:
            if not _is_zygote(zygote):
                continue
            for child in _children(zygote):
                if any(_comm(p) == SLEEPER_NAME for p in _descendants(child)) and len(workers) == 1:
                    return workers[0], zygote, child
        time.sleep(0.2)
    raise AssertionError("no grading child ran the sleeping cell")


def _is_zygote(pid: int) -> bool:
    return "autograder.sandbox.zygote" in _cmdline(pid)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _scratch_of(zygote: int) -> Path:
    """The zygote's scratch folder (in its worker's temporary folder, or the run's when started early)."""
    (scratch,) = [a for a in _cmdline(zygote).split() if os.path.basename(a).startswith("autograder-")]
    return Path(scratch)


def _gone(pids, bound: float = 60) -> bool:
    end = time.monotonic() + bound
    while time.monotonic() < end:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


def _sleeper(course: Path, folder: Path, student: str) -> None:
    """A solved submission whose first notebook (relu_softmax_mlp) sleeps in its first cell."""
    write_student(course, folder, A, student)
    path = folder / student / A / "relu_softmax_mlp.ipynb"
    nb = notebooks.read(path)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SLEEP))
    path.write_text(notebooks.dumps(nb))


def _grade_in_background(course: Path, sub: Path, rec: Path, private: Path, jobs: int) -> subprocess.Popen:
    """``autograder grade`` as its own session (for killpg), long timeouts (the sleepers), TMPDIR ``private``."""
    return subprocess.Popen([PY, "-m", "autograder.cli", "grade", str(sub), "--assignment", A, "--out", str(rec),
                             "--jobs", str(jobs), "--no-gradebook", "--cell-timeout", "200", "--notebook-timeout",
                             "400"], cwd=course, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(private)})


# -- reuse -------------------------------------------------------------------------------

def test_unchanged_students_are_reused_byte_for_byte_and_force_regrades_the_same(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    write_student(mine, sub, A, "ann")
    write_student(mine, sub, A, "bob", stub=True)
    mutant = next(iter(mutants_of("sigmoid_mlp").values()))
    write_student(mine, sub, A, "cat", replace={"sigmoid_mlp": mutant["cells"]})
    lines = []
    first = grade.run(sub, A, rec, jobs=2, root=mine, echo=lines.append, gradebook=False)
    assert [r["student"] for r in first] == ["ann", "bob", "cat"]
    assert first[0]["score"] == first[0]["max_score"] > 0 and first[1]["score"] == 0
    assert all(r["fingerprint"] and r["graded_at"] for r in first)
    assert "graded 3 student(s) (12 notebooks) and reused 0" in lines[-1]
    graded = _files(rec)

    lines.clear()
    again = grade.run(sub, A, rec, jobs=2, root=mine, echo=lines.append, gradebook=False)
    assert "reusing 3 unchanged report(s)" in lines[0] and "graded 0 student(s) (0 notebooks) and reused 3" in lines[-1]
    assert _files(rec) == graded  # reports, feedback pages, grades.csv, summary.md: not a byte changed
    assert again == first

    # bob fixes one notebook: only bob is graded again
    stub_of_bob = (sub / "bob" / A / "sigmoid_mlp.ipynb").read_bytes()
    write_student(mine, tmp_path / "fix", A, "bob")
    shutil.copy(tmp_path / "fix" / "bob" / A / "sigmoid_mlp.ipynb", sub / "bob" / A / "sigmoid_mlp.ipynb")
    lines.clear()
    third = grade.run(sub, A, rec, jobs=1, root=mine, echo=lines.append, gradebook=False)
    assert "graded 1 student(s) (4 notebooks) and reused 2" in lines[-1]
    now = _files(rec)
    changed = {k for k in now if now[k] != graded.get(k)}
    assert changed and all("bob" in k or k in ("grades.csv", "summary.md") for k in changed), changed
    assert third[1]["score"] > 0
    (sub / "bob" / A / "sigmoid_mlp.ipynb").write_bytes(stub_of_bob)  # back as it was
    grade.run(sub, A, rec, jobs=1, root=mine, echo=lambda m: None, gradebook=False)
    reused = _files(rec)

    # --force regrades everyone; each report equals the reused one apart from graded_at
    lines.clear()
    forced = grade.run(sub, A, rec, jobs=2, root=mine, echo=lines.append, gradebook=False, force=True)
    assert "graded 3 student(s) (12 notebooks) and reused 0" in lines[-1]
    regraded = _files(rec)
    assert regraded.keys() == reused.keys()
    for name in reused:
        if name.startswith("reports/"):
            assert regraded[name] != reused[name]  # graded again: a new graded_at
            assert _without_graded_at(regraded[name]) == _without_graded_at(reused[name]), name
        else:
            assert regraded[name] == reused[name], name  # feedback pages, grades.csv, summary.md
    assert [r["fingerprint"] for r in forced] == [r["fingerprint"] for r in first]


def test_absent_student_keeps_the_report_and_the_class_files_hold_everyone(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    for s in ("dan", "eve"):
        _empty(sub, s)
    grade.run(sub, A, rec, root=mine, echo=lambda m: None, gradebook=False)
    eve = report.report_path(rec, "eve", A).read_bytes()
    shutil.rmtree(sub / "eve")
    lines = []
    reports = grade.run(sub, A, rec, root=mine, echo=lines.append, gradebook=False)
    assert [r["student"] for r in reports] == ["dan"]
    assert any("keeping 1 earlier report(s)" in line and "not in this run" in line for line in lines)
    assert "kept 1 earlier report(s)" in lines[-1]
    assert report.report_path(rec, "eve", A).read_bytes() == eve
    rows = list(csv.DictReader(io.StringIO((rec / "grades.csv").read_text())))
    assert [r["student"] for r in rows] == ["dan", "eve"]
    assert "| eve |" in (rec / "summary.md").read_text()


def test_a_change_of_limits_or_of_a_task_folder_means_a_regrade(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    _empty(sub, "fay")
    grade.run(sub, A, rec, root=mine, echo=lambda m: None, gradebook=False)
    lines = []
    grade.run(sub, A, rec, root=mine, echo=lines.append, gradebook=False, limits=Limits(cell_seconds=29))
    assert "graded 1 student(s)" in lines[-1]
    lines.clear()
    grade.run(sub, A, rec, root=mine, echo=lines.append, gradebook=False, limits=Limits(cell_seconds=29))
    assert "reused 1" in lines[-1]
    # the task's folder: any file in it (checks, key, anything else) changes its digest
    task = tmp_path / "task"
    shutil.copytree(Path(grade.tasks.HERE) / "sigmoid_mlp", task, ignore=shutil.ignore_patterns("__pycache__"))
    before = grade.task_digest("sigmoid_mlp", task)
    assert before == grade.task_digest("sigmoid_mlp")
    with open(task / "key.toml", "a") as fh:
        fh.write("\n# a comment\n")
    assert grade.task_digest("sigmoid_mlp", task) != before


def test_a_report_of_a_grader_failure_is_never_reused(mine):
    spec = grade.course.load_assignment(mine, A).notebooks["sigmoid_mlp"]
    result = grade.failed_result(spec, grade.WORKER_DIED)
    assert result["status"] == "error" and result["score"] == 0 and result["problem"] == grade.WORKER_DIED
    assert {t["status"] for t in result["tests"]} == {"error"}


# -- submission time ----------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("2026-11-20 23:58:01.123456 UTC", "2026-11-20T23:58:01.123456Z"),
    ("2026-11-20 23:58:01 UTC\n", "2026-11-20T23:58:01.000000Z"),
    ("2026-11-20T23:58:01Z", "2026-11-20T23:58:01.000000Z"),
    ("2026-11-21 00:58:01.5 +01:00", "2026-11-20T23:58:01.500000Z"),
    ("2026-11-20 23:58:01", "2026-11-20T23:58:01.000000Z"),
    ("2026-02-30 12:00:00 UTC", None),
    ("yesterday", None),
    ("", None),
    ("2026-11-20 23:58:01 CEST", None),
])
def test_submission_time_is_parsed_strictly(text, expected):
    when = grade.parse_submission_time(text)
    assert (grade.format_time(when) if when else None) == expected


def test_the_report_and_gradebook_hold_the_submission_time_not_the_grading_time(mine, tmp_path):
    from nbgrader.api import Gradebook

    sub, rec = tmp_path / "submitted", tmp_path / "record"
    (_empty(sub, "ts-ok") / "timestamp.txt").write_text("2026-11-20 23:58:01.123456 UTC\n")
    (_empty(sub, "ts-bad") / "timestamp.txt").write_bytes(b"\xff\xfe not a time")
    _empty(sub, "ts-none")
    os.mkfifo(_empty(sub, "ts-fifo") / "timestamp.txt")  # must not block
    reports = {r["student"]: r for r in grade.run(sub, A, rec, root=mine, echo=lambda m: None)}
    assert reports["ts-ok"]["submitted_at"] == "2026-11-20T23:58:01.123456Z"
    assert not any("submission time" in n for n in reports["ts-ok"]["notes"])
    expected_notes = {
        "ts-bad": "no submission time: timestamp.txt does not hold a time (e.g. 2026-11-20 23:58:01.123456 UTC)",
        "ts-none": "no submission time: the submission has no timestamp.txt",
        "ts-fifo": "no submission time: timestamp.txt is not a short regular file",
    }
    for student, note in expected_notes.items():
        assert reports[student]["submitted_at"] is None
        assert reports[student]["notes"] == [note]
    with Gradebook(f"sqlite:///{mine / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "ts-ok").timestamp == datetime.datetime(2026, 11, 20, 23, 58, 1, 123456)
        assert gb.find_submission(A, "ts-none").timestamp is None
    stamp = mine / "autograded" / "ts-ok" / A / "timestamp.txt"
    assert stamp.read_text() == "2026-11-20 23:58:01.123456 UTC\n"
    assert not (mine / "autograded" / "ts-none" / A / "timestamp.txt").exists()
    assert "2026-11-20T23:58:01.123456Z" in (rec / "grades.csv").read_text()
    # a new timestamp is a new submission: the report is not reused
    (sub / "ts-ok" / A / "timestamp.txt").write_text("2026-11-21 08:00:00 UTC\n")
    lines = []
    again = {r["student"]: r for r in grade.run(sub, A, rec, root=mine, echo=lines.append)}
    assert "graded 1 student(s)" in lines[-1] and again["ts-ok"]["submitted_at"] == "2026-11-21T08:00:00.000000Z"
    with Gradebook(f"sqlite:///{mine / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "ts-ok").timestamp == datetime.datetime(2026, 11, 21, 8)
    # reused students are recorded again only where the gradebook or autograded/ lacks them
    kept = mine / "autograded" / "ts-bad" / A / "sigmoid_mlp.ipynb"
    before = kept.stat().st_mtime_ns
    shutil.rmtree(mine / "autograded" / "ts-none")
    lines.clear()
    grade.run(sub, A, rec, root=mine, echo=lines.append)
    assert "reused 4" in lines[-1]
    assert (mine / "autograded" / "ts-none" / A / "sigmoid_mlp.ipynb").is_file()
    assert kept.stat().st_mtime_ns == before


# -- misnamed notebooks -------------------------------------------------------------------

def test_misnamed_notebooks_are_named_in_the_report_and_warned_about(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    folder = _empty(sub, "gus")
    for name in ("sigmoid_mlp (1).ipynb", "Softmax_Regression.ipynb", "\x1b[31mred\udcff.IPYNB", "notes.txt"):
        (folder / name).write_text("{}")
    lines = []
    (rep,) = grade.run(sub, A, rec, root=mine, echo=lines.append, gradebook=False)
    assert rep["unexpected_files"] == ["?[31mred?.IPYNB", "Softmax_Regression.ipynb", "sigmoid_mlp (1).ipynb"]
    assert {r["notebook"]: r["status"] for r in rep["notebooks"]} == {n: "missing" for n in notebook_names(mine, A)}
    (note,) = [n for n in rep["notes"] if "names the assignment does not use" in n]
    assert "sigmoid_mlp.ipynb" in note and "softmax_regression.ipynb" in note
    (warning,) = [line for line in lines if line.startswith("warning:")]
    assert "'gus'" in warning and "sigmoid_mlp (1).ipynb" in warning and "\x1b" not in warning
    page = (report.feedback_folder(rec, "gus", A) / "sigmoid_mlp.html").read_text()
    assert "Notes on your submission" in page and "sigmoid_mlp (1).ipynb" in page
    assert "Softmax_Regression" not in (rec / "grades.csv").read_text() + (rec / "summary.md").read_text()


def test_many_misnamed_notebooks_are_bounded(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    folder = _empty(sub, "hal")
    for k in range(25):
        (folder / (f"{k:02d}" + "x" * 200 + ".ipynb")).write_text("{}")
    (rep,) = grade.run(sub, A, rec, root=mine, echo=lambda m: None, gradebook=False)
    assert len(rep["unexpected_files"]) == grade.MAX_UNEXPECTED + 1
    assert rep["unexpected_files"][-1] == "... and 5 more"
    assert all(len(f) <= grade.MAX_NAME_CHARS for f in rep["unexpected_files"])


# -- shards, arguments, class files --------------------------------------------------------

def test_an_empty_shard_is_a_valid_shard(mine, tmp_path):
    sub = tmp_path / "submitted"
    _empty(sub, "ivy")
    one, two = tmp_path / "s1", tmp_path / "s2"
    assert len(grade.run(sub, A, one, shard_spec="1/2", root=mine, echo=lambda m: None, gradebook=False)) == 1
    assert grade.run(sub, A, two, shard_spec="2/2", root=mine, echo=lambda m: None, gradebook=False) == []
    assert (two / report.REPORTS).is_dir() and not any((two / report.REPORTS).iterdir())
    assert "No submissions were graded." in (two / "summary.md").read_text()
    shutil.rmtree(two / report.REPORTS)  # an artifact upload may drop the empty folder
    merged = merge.run([one, two], tmp_path / "all", echo=lambda m: None)
    assert [r["student"] for r in merged] == ["ivy"]


def test_grade_to_a_file_and_merge_of_an_empty_shard_through_the_command_line(mine, tmp_path):
    sub = tmp_path / "submitted"
    _empty(sub, "jo")
    (tmp_path / "afile").write_text("x")
    proc = _cli("grade", sub, "--assignment", A, "--out", tmp_path / "afile", cwd=mine)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"autograder grade: error: --out {tmp_path / 'afile'}: is a file, "
                                                "not a folder"]
    assert (tmp_path / "afile").read_text() == "x"
    proc = _cli("grade", sub, "--assignment", A, "--out", tmp_path / "s2", "--shard", "2/2", "--no-gradebook",
                cwd=mine)
    assert proc.returncode == 0, proc.stderr
    proc = _cli("merge", tmp_path / "s2", "--out", tmp_path / "all", cwd=mine)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "all" / "grades.csv").read_text().count("\n") == 1  # the header only


@pytest.mark.parametrize("verb", ["student-template", "student-template under", "merge", "collect"])
def test_an_output_folder_that_is_a_file_is_one_line_and_exit_2(mine, tmp_path, verb):
    """Every verb that writes a folder says in one line that the path given is a file (no traceback)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    shard = tmp_path / "shard"
    (shard / "reports").mkdir(parents=True)
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nada\n")
    args, option, shown = {
        "student-template": (["student-template", A, afile], "DEST", afile),
        "student-template under": (["student-template", A, afile / "sub"], "DEST", afile / "sub"),
        "merge": (["merge", shard, "--out", afile], "--out", afile),
        "collect": (["collect", roster, "--assignment", A, "--record", afile, "--org", "o", "--url-template",
                     f"file://{tmp_path}/{{student}}.git"], "--record", afile),
    }[verb]
    proc = _cli(*args, cwd=mine)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"autograder {args[0]}: error: {option} {shown}: ")
    assert line.endswith(("is a file, not a folder", "cannot make the folder (Not a directory)"))
    assert afile.read_text() == "x"


def test_grades_csv_and_summary_explain_the_two_maxima(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    _empty(sub, "kim")
    grade.run(sub, A, rec, root=mine, echo=lambda m: None, gradebook=False)
    spec = grade.course.load_assignment(mine, A)
    auto, manual = spec.max_score, sum(nb.manual_max for nb in spec.notebooks.values())
    assert manual > 0
    (row,) = csv.DictReader(io.StringIO((rec / "grades.csv").read_text()))
    assert list(row)[-5:] == ["total", "max_score", "manual_max", "nbgrader_max_score", "submitted_at"]
    assert (float(row["max_score"]), float(row["manual_max"]), float(row["nbgrader_max_score"])) == (
        auto, manual, auto + manual)
    summary = (rec / "summary.md").read_text()
    assert (f"Written answers ({manual:g} points) are graded by hand" in summary
            and f"`nbgrader export` reports a max_score of {auto + manual:g}" in summary)


# -- a broken grader, a first run ----------------------------------------------------------

BLOCK_CHECKS = """
import importlib.abc, sys
class NoChecks(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("autograder.tasks.") and name.endswith(".checks"):
            raise ImportError("simulated: " + name)
sys.meta_path.insert(0, NoChecks())
from autograder.cli import main
sys.exit(main())
"""


def test_a_run_in_which_no_check_module_loads_fails_loudly(mine, tmp_path):
    sub = tmp_path / "submitted"
    write_student(mine, sub, A, "lou")
    proc = subprocess.run([PY, "-c", BLOCK_CHECKS, "grade", str(sub), "--assignment", A, "--out",
                           str(tmp_path / "o")], cwd=mine, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"autograder grade: error: the checks of 4 of 4 task(s) of {A} could not be loaded, "
                           "so nothing was graded: relu_softmax_mlp (ImportError: simulated:")
    assert not list((tmp_path / "o").glob("reports/*.json"))


def test_the_first_run_in_a_fresh_clone_makes_the_gradebook_without_alembic_on_path(course, tmp_path):
    fresh = tmp_path / "clone"
    shutil.copytree(course, fresh, ignore=shutil.ignore_patterns("submitted", "autograded", "o", "gradebook.db",
                                                                 "export.csv", "release"))
    sub = fresh / "submitted"
    _empty(sub, "max")
    bin_dir = os.path.dirname(PY)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and os.path.realpath(p) != os.path.realpath(bin_dir)) or "/usr/bin:/bin"
    assert shutil.which("alembic", path=path) is None  # the situation of `sudo .venv/bin/autograder`
    env = {**os.environ, "PATH": path}
    proc = _cli("grade", sub, "--assignment", A, "--out", fresh / "o", cwd=fresh, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    with sqlite3.connect(fresh / "gradebook.db") as con:
        (version,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version
    assert not list(fresh.glob(".gradebook-*"))
    assert _cli("grade", sub, "--assignment", A, "--out", fresh / "o", cwd=fresh, env=env).returncode == 0


def test_a_half_made_gradebook_is_completed(tmp_path):
    db = tmp_path / "gradebook.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE assignment (id VARCHAR(128) PRIMARY KEY)")
    con.close()
    ensure_gradebook(tmp_path)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    con.close()
    ensure_gradebook(tmp_path)  # whole now: left alone
    (tmp_path / "new").mkdir()
    ensure_gradebook(tmp_path / "new")
    assert (tmp_path / "new" / "gradebook.db").is_file() and not list((tmp_path / "new").glob(".gradebook-*"))


# -- a dead worker, Ctrl-C ------------------------------------------------------------------

def test_a_worker_killed_mid_notebook_costs_only_that_notebook(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    _sleeper(mine, sub, "a-sleepy")
    write_student(mine, sub, A, "b-ref")
    private = tmp_path / "tmp"
    private.mkdir()
    proc = _grade_in_background(mine, sub, rec, private, jobs=1)
    try:
        worker, zygote, child = _sandbox_of(proc.pid)
        assert zygote in _children(proc.pid)  # the run started it early; its worker adopted it
        scratch = _scratch_of(zygote)
        assert scratch.is_dir()
        os.kill(worker, signal.SIGKILL)  # as the kernel's OOM killer would
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    reports = {r["student"]: r for r in report.load_reports(rec)}
    sleepy = {r["notebook"]: r for r in reports["a-sleepy"]["notebooks"]}
    dead = sleepy.pop("relu_softmax_mlp")
    assert (dead["status"], dead["problem"], dead["score"]) == ("error", grade.WORKER_DIED, 0)
    assert all(r["status"] == "graded" and r["score"] == r["max_score"] for r in sleepy.values())
    assert reports["a-sleepy"]["fingerprint"] is None  # a grader failure is graded again next time
    assert reports["b-ref"]["score"] == reports["b-ref"]["max_score"] > 0
    assert "[error]" in out and _gone([worker, zygote, child])
    assert scratch.is_relative_to(private) and not scratch.exists()  # the dead worker's zygote's files are removed
    assert os.listdir(private) == []  # and everything else of the run's (the next worker's too)


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _pidfd_targets(pid: int) -> set:
    """The processes ``pid`` holds a pidfd of (how a worker holds the zygote it adopted)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as fh:
                found |= {int(line.split()[1]) for line in fh if line.startswith("Pid:")}
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_a_second_worker_adopts_a_twin_of_the_early_zygote_which_ends_with_that_worker_alone(mine, tmp_path):
    sub, rec, private = tmp_path / "submitted", tmp_path / "record", tmp_path / "tmp"
    _sleeper(mine, sub, "a-sleepy")
    _sleeper(mine, sub, "b-sleepy")
    private.mkdir()
    proc = _grade_in_background(mine, sub, rec, private, jobs=2)
    try:
        end = time.monotonic() + 300
        sleepers = []
        while len(sleepers) < 2 and time.monotonic() < end:  # both students' first notebooks sleep at once
            sleepers = [p for p in _descendants(proc.pid) if _comm(p) == SLEEPER_NAME]
            time.sleep(0.2)
        assert len(sleepers) == 2
        zygotes = {_parent(p) for p in sleepers}
        [early] = [z for z in zygotes if _parent(z) == proc.pid]  # started by the run, for the first worker
        [twin] = [z for z in zygotes if _parent(z) == early]  # a fork of it, for the second
        workers = [p for p in _children(proc.pid) if not _is_zygote(p)]
        holders = {z: [w for w in workers if z in _pidfd_targets(w)] for z in (early, twin)}
        assert len(workers) == 2 and len(holders[early]) == len(holders[twin]) == 1  # one worker each
        [twin_worker] = holders[twin]
        os.kill(twin_worker, signal.SIGKILL)
        assert _gone([twin])  # its control socket closed with its worker: no other process held a copy
        assert all(_alive(p) for p in (early, holders[early][0])) and any(_alive(p) for p in sleepers)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert _gone([early, *workers, *sleepers]) and os.listdir(private) == []  # the twin's scratch folder too


def _processes_mentioning(text: str) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and text in _cmdline(int(p)) and _alive(int(p))]


def test_a_run_that_grades_nothing_or_stops_early_leaves_no_zygote_behind(mine, tmp_path):
    sub, rec, private = tmp_path / "submitted", tmp_path / "record", tmp_path / "tmp"
    write_student(mine, sub, A, "a", stub=True)
    private.mkdir()
    env = {**os.environ, "TMPDIR": str(private)}
    first = _cli("grade", sub, "--assignment", A, "--out", rec, "--no-gradebook", cwd=mine, env=env)
    assert first.returncode == 0, first.stderr
    assert "graded 1 student(s) (4 notebooks) and reused 0" in first.stdout
    runs = [_cli("grade", sub, "--assignment", A, "--out", rec, "--no-gradebook", cwd=mine, env=env),  # all reused
            _cli("grade", sub, "--assignment", "nope", "--out", rec, cwd=mine, env=env),  # a course error
            _cli("grade", sub, "--assignment", A, "--out", rec, "--jobs", "x", cwd=mine, env=env)]  # bad argument
    assert [r.returncode for r in runs] == [0, 2, 2]
    assert "graded 0 student(s) (0 notebooks) and reused 1" in runs[0].stdout
    assert runs[1].stderr.count("\n") == 1 and runs[1].stderr.startswith("autograder grade: error: ")
    assert runs[2].stderr.strip().splitlines()[-1] == "autograder grade: error: argument --jobs: invalid int value: 'x'"
    assert "Traceback" not in runs[1].stderr + runs[2].stderr
    assert os.listdir(private) == [] and _processes_mentioning(str(private)) == []


SPAWNED_RUN = """
import os, sys
from pathlib import Path
from autograder import sandbox
from autograder.commands import grade
sandbox.launch_early()
early = sandbox._EARLY[0].proc.pid
grade.worker_start_method = lambda: "spawn"  # as when the run has threads: its workers cannot adopt the zygote
course, sub, out, assignment = map(Path, sys.argv[1:5])
[rep] = grade.run(sub, str(assignment), out, jobs=1, root=course, gradebook=False, echo=lambda m: None)
print(early, os.path.exists(f"/proc/{early}"), rep["score"], rep["max_score"])
"""


def test_spawned_workers_leave_the_early_zygote_and_start_their_own(mine, tmp_path):
    sub, private = tmp_path / "submitted", tmp_path / "tmp"
    write_student(mine, sub, A, "a")
    private.mkdir()
    proc = subprocess.run([PY, "-c", SPAWNED_RUN, mine, sub, tmp_path / "record", A], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TMPDIR": str(private)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, alive, score, max_score = proc.stdout.split()
    assert alive == "False"  # stopped and reaped when the run found it could not hand it over
    assert float(score) == float(max_score) > 0  # graded by the spawned worker's own zygote
    assert os.listdir(private) == []


def test_ctrl_c_keeps_finished_reports_in_one_line_and_a_rerun_goes_on(mine, tmp_path):
    sub, rec = tmp_path / "submitted", tmp_path / "record"
    write_student(mine, sub, A, "a", stub=True)
    write_student(mine, sub, A, "b", stub=True)
    _sleeper(mine, sub, "c")
    args = [PY, "-m", "autograder.cli", "grade", str(sub), "--assignment", A, "--out", str(rec), "--jobs", "1",
            "--no-gradebook", "--cell-timeout", "200", "--notebook-timeout", "400"]
    private = tmp_path / "tmp"
    private.mkdir()
    proc = subprocess.Popen(args, cwd=mine, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(private)})
    try:
        end = time.monotonic() + 300
        while len(list((rec / report.REPORTS).glob("*.json"))) < 2 and time.monotonic() < end:
            time.sleep(0.2)
        worker, zygote, child = _sandbox_of(proc.pid)  # c's sleeping notebook
        scratch = _scratch_of(zygote)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["interrupted: 2 reports kept; run again to go on"]
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert sorted(r["student"] for r in report.load_reports(rec)) == ["a", "b"]
    assert [r["student"] for r in csv.DictReader(io.StringIO((rec / "grades.csv").read_text()))] == ["a", "b"]
    assert _gone([worker, zygote, child]) and not scratch.exists() and os.listdir(private) == []
    write_student(mine, sub, A, "c")  # c stops sleeping; a and b are unchanged
    proc = subprocess.run(args, cwd=mine, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "graded 1 student(s) (4 notebooks) and reused 2" in proc.stdout
    assert sorted(r["student"] for r in report.load_reports(rec)) == ["a", "b", "c"]
