"""``autograder grade``: official grading of submissions (instructor and CI).

Reads nbgrader's ``submitted/<student>/<assignment>/`` layout (or one
student's folder), grades every notebook with the hidden checks in confined
children (:mod:`autograder.pipeline`), records the scores in nbgrader's
gradebook (so ``nbgrader export`` and ``generate_feedback`` work), and writes
per-student JSON reports and feedback pages, ``grades.csv`` and ``summary.md``.
"""

from __future__ import annotations

import dataclasses
import inspect
import multiprocessing
import os
import time
from pathlib import Path

from autograder import course, report, tasks
from autograder.course import CourseError
from autograder.course.gradebook import record as record_in_gradebook
from autograder.grading.checking import checks_of
from autograder.grading.pipeline import Limits, grade_notebook, prepare
from autograder.sandbox import SandboxConfig, Zygote, isolate


@dataclasses.dataclass
class Submission:
    student: str
    folder: Path  # holds the assignment's notebooks


def discover(path: Path, assignment: str, student: str | None = None) -> list[Submission]:
    """Find submissions: nbgrader's layout, one student's folder, or a folder of notebooks."""
    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path}: no such file or directory")
    if not path.is_dir():
        raise CourseError(f"{path}: not a folder (give the submitted/ folder or one student's folder)")
    if any(path.glob("*.ipynb")):
        return [Submission(student or path.resolve().name, path)]
    if (path / assignment).is_dir():
        return [Submission(student or path.resolve().name, path / assignment)]
    subs = [Submission(d.name, d / assignment) for d in sorted(path.iterdir())
            if d.is_dir() and (d / assignment).is_dir() and not d.name.startswith(".")]
    if student:
        subs = [s for s in subs if s.student == student]
    if not subs:
        raise CourseError(f"no submissions of {assignment} in {path} "
                          f"(expected {path}/<student>/{assignment}/*.ipynb)")
    return subs


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 1, 1
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise CourseError(f"--shard must look like i/N (e.g. 2/4), not {text!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise CourseError(f"--shard {text}: need 1 <= i <= N")
    return i, n


def shard(subs: list, i: int, n: int) -> list:
    """A deterministic slice: every n-th student by name, starting at the i-th."""
    return sorted(subs, key=lambda s: s.student)[i - 1::n]


def hidden_paths(root: Path, extra: list) -> list[str]:
    """What student code must not see: the course tree (less Python itself) and the grader's files."""
    needed = [Path(p) for p in isolate.python_paths()]
    hide = set()
    for entry in root.iterdir():
        if any(entry == p or entry in p.parents for p in needed):
            continue  # e.g. the course's .venv: Python must stay readable
        hide.add(str(entry))
    package = Path(__file__).resolve().parents[1]  # the whole autograder package: checks, keys
    hide.add(str(package))
    for p in extra:
        p = Path(p).resolve()
        if not any(p == n or p in n.parents for n in needed):
            hide.add(str(p))
    return sorted(hide)


# -- workers ----------------------------------------------------------------------

class PrivateLog:
    """Internal errors (which may quote a check's code) of one run: a file in ``--out``, never the console."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __call__(self, message: str) -> None:
        with open(self.path, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(message + "\n")


def load_checks(task: str) -> dict:
    """grade_id -> check of a task ({} when the task has no checks module)."""
    try:
        return checks_of(tasks.load(task))
    except ImportError:
        return {}


_WORKER = {}


def _worker_init(config: SandboxConfig, log: PrivateLog) -> None:
    _WORKER.update(zygote=Zygote(config), log=log, checks={})


def _worker_grade(item):
    spec, student, path, limits = item
    checks = _WORKER["checks"]
    if spec.name not in checks:
        checks[spec.name] = load_checks(spec.name)
    return student, grade_notebook(_WORKER["zygote"], spec, path, limits, checks[spec.name], log=_WORKER["log"])


# -- the verb ---------------------------------------------------------------------

def run(submissions: Path, assignment: str, out: Path, *, jobs: int = 1, shard_spec: str | None = None,
        student: str | None = None, root: Path | None = None, limits: Limits | None = None,
        isolate_children: bool = True, require_isolation: bool = False, gradebook: bool = True,
        echo=print) -> list:
    """Grade; return the student reports (and write everything under ``out``)."""
    started = time.monotonic()
    if jobs < 1:
        raise CourseError("--jobs must be at least 1")
    root = root or course.find_root()
    limits = limits or Limits()
    i, n = parse_shard(shard_spec)
    subs = shard(discover(Path(submissions), assignment, student), i, n)
    course.ensure_in_gradebook(root, assignment, log=echo)
    spec = course.load_assignment(root, assignment)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    root_user = os.geteuid() == 0
    if require_isolation and not (root_user and isolate_children):
        raise CourseError("--require-isolation: official grading must run as root (e.g. with sudo) "
                          "so that student code runs confined under its own user")
    isolation = ("confined (namespaces, own uid, no network)" if root_user and isolate_children
                 else "process only (not root: student code can read files the grader can)")
    config = SandboxConfig(hide=hidden_paths(root, [out, Path(submissions), root / "gradebook.db"]),
                           isolate=isolate_children)
    log = PrivateLog(out / "grader-private.log")
    checks = {name: load_checks(name) for name in spec.notebooks}
    items = []
    for sub in subs:
        for nb in spec.notebooks.values():
            path = sub.folder / f"{nb.name}.ipynb"
            items.append((nb, sub.student, path if path.exists() else None, limits))
    shard_note = f" (shard {i}/{n})" if n > 1 else ""
    echo(f"grading {len(subs)} submission(s) of {assignment}{shard_note}: {len(items)} notebooks, "
         f"{jobs} job(s); student code: {isolation}")
    results: dict[str, list] = {s.student: [] for s in subs}
    done = 0

    def progress(student_name, result):
        nonlocal done
        done += 1
        flag = "" if result["status"] == "graded" else f" [{result['status']}]"
        echo(f"[{done}/{len(items)}] {student_name}/{result['notebook']}: "
             f"{report._fmt(result['score'])}/{report._fmt(result['max_score'])}{flag} ({result['seconds']:.2f} s)")

    if jobs == 1 or len(items) <= 1:
        with Zygote(config) as zygote:
            for nb, student_name, path, lim in items:
                result = grade_notebook(zygote, nb, path, lim, checks[nb.name], log=log)
                results[student_name].append(result)
                progress(student_name, result)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(jobs, initializer=_worker_init, initargs=(config, log)) as pool:
            for student_name, result in pool.imap_unordered(_worker_grade, items):
                results[student_name].append(result)
                progress(student_name, result)
    reports = [report.student_report(s.student, assignment, results[s.student], isolation) for s in subs]
    for sub, rep in zip(subs, reports):
        sources = {nb: _student_cells(spec.notebooks[nb], sub.folder / f"{nb}.ipynb", limits)
                   for nb in spec.notebooks}
        report.write_student(out, rep, sources)
    if gradebook:
        record_in_gradebook(root, spec, subs, reports)
    all_reports = report.load_reports(out)
    report.write_class(out, all_reports)
    seconds = time.monotonic() - started
    echo(f"graded {len(items)} notebooks in {seconds:.1f} s; reports in {out}")
    return reports


def _student_cells(spec, path: Path, limits: Limits) -> list:
    prepared = prepare(path if path.exists() else None, spec, limits)
    return [(label, src) for label, src in prepared.cells if not label.startswith("restored")]


# -- the command line ---------------------------------------------------------------

def add_arguments(p) -> None:
    limits = Limits()
    p.add_argument("submissions", help="nbgrader's submitted/ folder, or one student's folder")
    p.add_argument("--assignment", required=True, help="assignment name, e.g. exam22")
    p.add_argument("--out", required=True, help="folder for reports, feedback, grades.csv, summary.md")
    jobs = inspect.signature(run).parameters["jobs"].default
    p.add_argument("--jobs", type=int, default=jobs, help=f"parallel grading processes (default {jobs})")
    p.add_argument("--shard", help="grade only slice i of N (e.g. 2/4), by student name")
    p.add_argument("--student", help="name of the student (for a single folder of notebooks)")
    p.add_argument("--cell-timeout", type=float, default=limits.cell_seconds,
                   help=f"seconds per cell and per test call (default {limits.cell_seconds:g})")
    p.add_argument("--notebook-timeout", type=float, default=limits.notebook_seconds,
                   help=f"seconds per notebook (default {limits.notebook_seconds:g})")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse to grade unless student code can be confined (needs root)")
    p.add_argument("--no-gradebook", action="store_true", help="do not record scores in gradebook.db")


def from_args(args) -> int:
    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.notebook_timeout)
    reports = run(Path(args.submissions), args.assignment, Path(args.out), jobs=args.jobs,
                  shard_spec=args.shard, student=args.student, limits=limits,
                  require_isolation=args.require_isolation, gradebook=not args.no_gradebook)
    print(report.table_text(reports))
    return 0
