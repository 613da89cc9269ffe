"""``autograder grade``: official grading of submissions (instructor and CI).

Reads nbgrader's ``submitted/<student>/<assignment>/`` layout (or one
student's folder), grades every notebook with the hidden checks in confined
children (:mod:`autograder.pipeline`), records the scores in nbgrader's
gradebook (so ``nbgrader export`` and ``generate_feedback`` work), and writes
per-student JSON reports and feedback pages, ``grades.csv`` and ``summary.md``.

The contract of a run:

* ``--out`` is the assignment's record. A student's earlier report there is
  reused, byte for byte, while its ``fingerprint`` matches: the student's
  notebooks (content hashes), the names in their folder, their
  ``timestamp.txt``, each task's folder ``autograder/tasks/<task>/``, the
  gradebook's cells, the grader's code and version, Python and NumPy, and the
  limits. ``--force`` regrades everyone. Reports of students not in this run
  are kept; ``grades.csv`` and ``summary.md`` are rebuilt from every report.
* Each student's report is written as soon as their last notebook is graded.
  Ctrl-C stops the workers (no traceback), keeps every report finished so far,
  prints one line and exits 130; a rerun goes on from there.
* Grading runs in worker processes, one zygote each: at most ``--jobs``, and one
  per :data:`NOTEBOOKS_PER_WORKER` notebooks (a small run starts no worker it does
  not need). A worker that dies (out of memory) costs only the notebook it was
  grading (status ``error``, never reused); a new worker takes over. From the
  command line, the first worker's zygote starts before this module is even
  imported (:func:`autograder.sandbox.launch_early`); the forked worker adopts it,
  and the further workers adopt its twins (forks of it once it is warm, made in
  milliseconds), so that a second worker costs next to nothing and even one
  student's notebooks are graded on every core.
* Each notebook is parsed once, in its worker. The gradebook is written with
  ``sqlite3`` in one transaction at the end of the run (nothing on Ctrl-C); each
  student's ``autograded/`` copies are written as soon as their report is.
* The submission time is nbgrader's ``timestamp.txt`` (never the grading time),
  in the report, the gradebook and ``autograded/``.
* A checks module that cannot be imported stops the run (exit 2) before
  anything is graded: a broken grader must not give everyone 0.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import gc
import hashlib
import inspect
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from pathlib import Path

from autograder import course, report, sandbox, tasks
from autograder.course import CourseError, deadlines, untrusted
from autograder.course.gradebook import record as record_in_gradebook
from autograder.course.gradebook import write_copies as write_gradebook_copies
from autograder.grading.checking import checks_of
from autograder.grading.pipeline import Limits, grade_prepared, prepare
from autograder.sandbox import SandboxConfig, Zygote, isolate


@dataclasses.dataclass
class Submission:
    """One student's submission of the assignment."""

    student: str  #: a valid student id (:func:`autograder.course.untrusted.student_id_problem`)
    folder: Path  #: absolute; holds the assignment's notebooks. Only the instructor's part of it is resolved:
    #: a student or assignment folder that is a symbolic link makes every notebook in it ``refused``


SUBMITTED = "submitted"  # nbgrader's name for the folder of submissions


def discover(path: Path, assignment: str, student: str | None = None, warn=None) -> list[Submission]:
    """Find the submissions under ``path``; the layout is decided from ``path`` and ``student`` alone.

    Never from what the folder holds: its entries are named by students (a student folder
    named ``x.ipynb`` or ``exam22`` is just a student). The rule, first match wins:

    1. the folder above ``path`` is named ``submitted`` (``submitted/alice``): one student's folder,
       notebooks in ``path/<assignment>/``; the student is ``student``, else ``path``'s name;
    2. ``path`` is named like the assignment (``.../alice/exam22``): one student's notebooks, in
       ``path``; the student is ``student``, else the name of the folder above;
    3. ``student`` is given: ``path`` is that student's folder, notebooks in ``path/<assignment>/``;
    4. otherwise ``path`` is nbgrader's ``submitted/``: every folder in it is a student (its name is
       the id) whose notebooks are in ``<student>/<assignment>/``; a folder without that is skipped
       (no submission of this assignment), hidden ones (``.git``) too.

    Student ids must be valid (:func:`~autograder.course.untrusted.student_id_problem`). In a
    ``submitted/`` folder an invalid one is not graded and ``warn`` names it (escaped); given
    explicitly, it is an error. Two ids that differ only in case are an error naming both (their
    files would collide on a case-insensitive disk).

    Args:
        path: the folder given on the command line.
        assignment: the assignment's name.
        student: ``--student``: the id of a single student's folder.
        warn: called with one line per student folder that is not graded, or None.

    Returns:
        The submissions, sorted by student id.

    Raises:
        CourseError: a bad path or id, a collision, or no submission at all (exit 2).
    """
    given = Path(path)
    path = Path(os.path.abspath(given))
    if not os.path.lexists(path):
        raise CourseError(f"{given}: no such file or directory")
    if not path.is_dir():
        raise CourseError(f"{given}: not a folder (give the submitted/ folder or one student's folder)")
    if student is not None and (problem := untrusted.student_id_problem(student)):
        raise CourseError(f"--student {untrusted.shown_name(student)}: not a valid student id ({problem})")
    # Only the instructor's part of the path is resolved; its last parts may be a student's folders.
    if path.parent.name == SUBMITTED:
        return [_one(given, student or path.name, path.parent.resolve() / path.name / assignment, assignment)]
    if path.name == assignment:
        folder = path.parent.parent.resolve() / path.parent.name / path.name
        return [_one(given, student or path.parent.name, folder, assignment)]
    if student is not None:
        return [_one(given, student, path.parent.resolve() / path.name / assignment, assignment)]
    subs, refused = [], []
    root = path.resolve()
    for entry in sorted(os.listdir(root)):
        folder = root / entry
        if entry.startswith(".") or not folder.is_dir() or not os.path.lexists(folder / assignment):
            continue
        problem = untrusted.student_id_problem(entry)
        if problem:
            refused.append(f"not graded: the student folder {untrusted.shown_name(entry)} ({problem})")
            continue
        subs.append(Submission(entry, folder / assignment))
    for line in refused:
        if warn:
            warn(line)
    if not subs:
        raise CourseError(f"no submissions of {assignment} in {given} "
                          f"(expected {given}/<student>/{assignment}/*.ipynb)")
    _refuse_collisions(subs)
    return subs


def _one(given: Path, name: str, folder: Path, assignment: str) -> Submission:
    problem = untrusted.student_id_problem(name)
    if problem:
        raise CourseError(f"{given}: {untrusted.shown_name(name)} is not a valid student id ({problem}); "
                          "give --student NAME")
    if not folder.is_dir():
        raise CourseError(f"no submission of {assignment} in {given} (no folder {folder}; "
                          f"for a folder of notebooks, name it {assignment} or give --student NAME)")
    return Submission(name, folder)


def _refuse_collisions(subs: list) -> None:
    seen = {}
    for sub in subs:
        other = seen.setdefault(sub.student.casefold(), sub.student)
        if other != sub.student:
            raise CourseError(f"student ids {other!a} and {sub.student!a} differ only in case: their reports "
                              "would collide on a case-insensitive disk (rename one folder)")


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
    """grade_id -> check of a task ({} when the task has no checks module).

    Args:
        task: the task's name (its notebook's name).

    Returns:
        The task's checks; {} when ``autograder/tasks/<task>/checks.py`` does not exist.

    Raises:
        ImportError: the checks module exists but cannot be imported (the grader is broken).
    """
    try:
        return checks_of(tasks.load(task))
    except ModuleNotFoundError as exc:
        if exc.name in (f"{tasks.__name__}.{task}", f"{tasks.__name__}.{task}.checks"):
            return {}
        raise


def load_misconceptions(task: str, log=None) -> list:
    """The task's misconception catalogue (``autograder/tasks/<task>/misconceptions.py``), for hints.

    Args:
        task: the task's name (its notebook's name).
        log: where a catalogue that cannot be loaded is noted (the run's private log), or None.

    Returns:
        Its ``MISCONCEPTIONS``; [] when the task has none, or when it cannot be loaded: hints
        never decide a grade, so a broken catalogue costs only the hints.
    """
    import importlib

    name = f"{tasks.__name__}.{task}.misconceptions"
    try:
        return list(importlib.import_module(name).MISCONCEPTIONS)
    except ModuleNotFoundError as exc:
        if exc.name in (name, f"{tasks.__name__}.{task}"):
            return []
        if log:
            log(f"the misconceptions of {task} could not be loaded:\n{traceback.format_exc(limit=3)}")
        return []
    except Exception:  # noqa: BLE001 - see above
        if log:
            log(f"the misconceptions of {task} could not be loaded:\n{traceback.format_exc(limit=3)}")
        return []


def _load_all_checks(spec) -> dict:
    """notebook -> checks, for the whole assignment; a check module that cannot be loaded stops the run.

    Grading on with a broken grader would give every student 0 on that task ("not available in
    the grader") and exit 0: a run in which checks cannot be loaded fails loudly instead.
    """
    checks, broken = {}, []
    for name in spec.notebooks:
        try:
            checks[name] = load_checks(name)
        except Exception as exc:  # noqa: BLE001 - ImportError, or any error raised while importing
            broken.append(f"{name} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"[:200])
    if broken:
        raise CourseError(f"the checks of {len(broken)} of {len(spec.notebooks)} task(s) of {spec.name} could not "
                          f"be loaded, so nothing was graded: {'; '.join(broken[:3])}"
                          + (f"; and {len(broken) - 3} more" if len(broken) > 3 else ""))
    auto = any(nb.auto_ids for nb in spec.notebooks.values())
    if auto and not any(checks.values()):
        raise CourseError(f"no check of {spec.name} could be loaded (no autograder/tasks/<task>/checks.py), "
                          "so nothing was graded")
    return checks


_WORKER = {}


def _worker_init(config: SandboxConfig, log: PrivateLog, launch: sandbox.Launch | None = None) -> None:
    _WORKER.update(zygote=Zygote(config, launch=launch), log=log, checks={})
    isolate.limit_worker_memory()  # this worker's own address-space limit (its zygote lifts it for itself)


def _worker_grade(item):
    """(student, result, the student's cells for the report's sources or None): the notebook is parsed once."""
    spec, student, path, limits = item
    checks = _WORKER["checks"]
    try:
        started = time.monotonic()
        if spec.name not in checks:
            checks[spec.name] = load_checks(spec.name)
        catalogues = _WORKER.setdefault("misconceptions", {})
        if spec.name not in catalogues:
            catalogues[spec.name] = load_misconceptions(spec.name, _WORKER["log"])
        prepared = prepare(path, spec, limits)  # never raises
        result = grade_prepared(_WORKER["zygote"], spec, prepared, limits, checks[spec.name], log=_WORKER["log"],
                                misconceptions=catalogues[spec.name], started=started)
        return student, result, _shown_cells(prepared)
    except Exception:  # noqa: BLE001 - grade_prepared never raises; this is the grader's own failure
        _WORKER["log"](f"internal error grading {spec.name}:\n{traceback.format_exc(limit=4)}")
        return student, failed_result(spec, "the grader failed on this notebook (tell your instructor)"), None


def _worker_stop(signum, frame):
    raise SystemExit(0)  # unwinds through `finally`: the notebook's child and the zygote are closed


def _worker_main(conn, config: SandboxConfig, log: PrivateLog, scratch: str | None = None,
                 launch: sandbox.Launch | None = None) -> None:
    """A grading worker: one zygote; grades the items the run sends, one at a time, until told to stop.

    Protocol on ``conn``: the worker sends ``("ready", pid)`` (or ``("failed", reason)``), then
    answers each item with ``("result", student, result)``; ``None`` or EOF stops it. SIGINT is
    ignored (the run handles Ctrl-C); SIGTERM stops it cleanly. Its temporary files go under
    ``scratch``, which the run removes when the worker ends, even when it was killed. ``launch``:
    a zygote the run started early (:func:`autograder.sandbox.launch_early`), adopted by this worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    if scratch:
        tempfile.tempdir = scratch
    try:
        try:
            _worker_init(config, log, launch)
        except Exception as exc:  # noqa: BLE001 - reported to the run, which stops with one line
            log(f"a grading worker could not start:\n{traceback.format_exc(limit=4)}")
            conn.send(("failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]))
            return
        conn.send(("ready", os.getpid()))
        while True:
            try:
                item = conn.recv()
            except (EOFError, OSError):
                return
            if item is None:
                return
            conn.send(("result", *_worker_grade(item)))
    finally:
        zygote = _WORKER.pop("zygote", None)
        if zygote is not None:
            zygote.close()
        gc.freeze()  # the interpreter's exit then skips a garbage collection over everything loaded


def failed_result(spec, problem: str) -> dict:
    """A notebook's result when the grader itself failed on it: status ``error``, 0 points, ``problem`` said.

    Args:
        spec: the notebook's :class:`~autograder.course.NotebookSpec`.
        problem: why, for the student (never an internal detail).

    Returns:
        A result dict of :class:`autograder.report.NotebookResult`'s schema (plus ``seconds``).
    """
    return {"notebook": spec.name, "status": "error", "problem": problem, "score": 0.0,
            "max_score": spec.max_score, "manual_max": spec.manual_max, "cells": [], "seconds": 0.0,
            "tests": [{"grade_id": c.grade_id, "max_points": c.points, "points": 0.0,
                       "status": "manual" if not c.auto else "error", "message": "" if not c.auto else "not graded"}
                      for c in spec.grade_cells]}


WORKER_DIED = "the grader's worker died while grading this notebook (tell your instructor)"


class _Worker:
    def __init__(self, ctx, config, log, launch: sandbox.Launch | None = None):
        self.conn, theirs = ctx.Pipe()
        self.scratch = tempfile.mkdtemp(prefix="autograder-worker-")  # removed by stop(), whatever became of it
        os.chmod(self.scratch, 0o711)
        self.launch = launch  # a zygote started early, for this worker (only a forked one can adopt it)
        self.proc = ctx.Process(target=_worker_main, args=(theirs, config, log, self.scratch, launch), daemon=True)
        try:
            with sandbox.sigint_ignored():  # a Ctrl-C while it starts must not reach it (no traceback)
                self.proc.start()
        except BaseException:  # it never ran: nothing of it stays behind
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.conn.close()
            theirs.close()
            if launch is not None:
                launch.discard()
            raise
        theirs.close()
        if launch is not None:
            launch.handed_over()  # the worker holds it now; the run only collects its exit status
        self.ready = False
        self.item = None  # index of the item it is grading

    def send(self, message) -> bool:
        try:
            self.conn.send(message)
            return True
        except OSError:
            return False

    def stop(self, grace: float) -> None:
        """Ask it to stop (SIGTERM: closes its zygote and child), then kill it after ``grace`` seconds."""
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(grace)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.launch is not None:  # the zygote ends with its worker (it saw its control socket close)
            self.launch.reap()
            self.launch = None


#: a worker costs about a second to start (its imports and its zygote): a run starts one per this many notebooks
NOTEBOOKS_PER_WORKER = 16


def workers_for(items: int, jobs: int, twins: bool = False) -> int:
    """How many workers a run of ``items`` notebooks starts: at most ``jobs``, and no more than are useful.

    Args:
        items: notebooks to grade.
        jobs: ``--jobs``.
        twins: whether further workers get a twin of a zygote started early (a fork of it, warm in
            milliseconds), so that a worker costs next to nothing to start.

    Returns:
        ``min(jobs, items)`` with twins, else ``min(jobs, ceil(items / NOTEBOOKS_PER_WORKER))``; at least 1
        (0 when there is nothing to grade).
    """
    if items <= 0:
        return 0
    return max(1, min(jobs, items if twins else -(-items // NOTEBOOKS_PER_WORKER)))


def worker_start_method() -> str:
    """How grading workers start: ``fork`` from a single-threaded run, else ``spawn``.

    A forked worker starts in milliseconds with the run's modules already imported (a spawned
    one repeats about 0.4 s of imports); forking is safe only while no other thread could hold
    a lock, so a process with more than one thread (a caller's, or a BLAS thread pool: the
    command line runs ``grade`` with one BLAS thread) spawns instead.

    Returns:
        A :mod:`multiprocessing` start method.
    """
    return "fork" if _os_threads() == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _os_threads() -> int:
    """This process's threads as the kernel counts them (a BLAS library's pool included); 0 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("Threads:")), 0)
    except (OSError, ValueError, IndexError):
        return 0


def _grade_items(items: list, jobs: int, config: SandboxConfig, log: PrivateLog, on_result) -> None:
    """Grade ``items`` in worker processes; ``on_result(index, student, result, cells)`` for each.

    ``cells`` is the student's cells as graded (for the report's sources), or None when the
    notebook was not prepared (its worker died). At most ``jobs`` workers run, and no more than
    :func:`workers_for` the number of items (a small run pays for no worker it does not need).
    A worker that dies (e.g. killed by the kernel when out of memory) costs only the notebook it
    was grading: that notebook is reported (:data:`WORKER_DIED`), a new worker starts, and the
    run goes on. KeyboardInterrupt stops every worker (and its zygote and child) and propagates.
    """
    if not items:
        return
    method = worker_start_method()
    ctx = multiprocessing.get_context(method)
    launch = sandbox.take_early()  # the command line's early zygote, for the first worker
    if launch is not None and method != "fork":  # a spawned worker cannot adopt it
        launch.discard()
        launch = None
    jobs = workers_for(len(items), jobs, twins=launch is not None)
    if method == "fork":
        _preload_for_workers(items)
    try:  # the further workers' zygotes: forks of the first once it is warm (milliseconds, not a second each)
        starts = [launch, *launch.twins(jobs - 1)] if launch is not None else []
    except BaseException:
        sandbox.discard_held()
        raise
    pending = collections.deque(range(len(items)))
    workers: list[_Worker] = []
    failed_starts = 0
    left = len(items)

    def assign(w: _Worker) -> None:
        if pending:
            w.item = pending.popleft()
            if not w.send(items[w.item]):
                pending.appendleft(w.item)  # never reached it; its death is noticed below
                w.item = None
        else:
            w.send(None)

    def bury(w: _Worker) -> None:
        nonlocal failed_starts, left
        while w.item is not None and _poll(w.conn):  # a result sent just before it died
            try:
                handle(w)
            except (EOFError, OSError):
                break
        workers.remove(w)
        w.stop(1)
        if not w.ready:
            failed_starts += 1
            if failed_starts >= 3:
                raise CourseError(f"grading workers keep dying as they start (details in {log.path})")
        if w.item is not None:
            index, w.item = w.item, None
            left -= 1
            log(f"a grading worker (pid {w.proc.pid}) died (exit status {w.proc.exitcode}) "
                f"while grading {items[index][1]}/{items[index][0].name}")
            on_result(index, items[index][1], failed_result(items[index][0], WORKER_DIED), None)
        if pending and len(workers) < jobs:
            workers.append(_Worker(ctx, config, log))

    def handle(w: _Worker) -> None:
        nonlocal failed_starts, left
        message = w.conn.recv()
        if message[0] == "ready":
            w.ready, failed_starts = True, 0
            assign(w)
        elif message[0] == "failed":
            raise CourseError(f"the grading sandbox could not start: {message[1]} (details in {log.path})")
        elif message[0] == "result" and w.item is not None:
            index, w.item = w.item, None
            left -= 1
            assign(w)  # the worker grades its next notebook while this result is written
            on_result(index, message[1], message[2], message[3])

    try:
        for n in range(min(jobs, len(items))):
            workers.append(_Worker(ctx, config, log, starts[n] if n < len(starts) else None))
        while left > 0:
            if not workers:
                workers.append(_Worker(ctx, config, log))
            by_handle = {}
            for w in workers:
                by_handle[w.conn] = w
                by_handle[w.proc.sentinel] = w
            for ready in multiprocessing.connection.wait(list(by_handle)):
                w = by_handle[ready]
                if w not in workers:
                    continue
                if ready is w.conn:
                    try:
                        handle(w)
                    except (EOFError, OSError):
                        bury(w)
                else:
                    bury(w)
    except BaseException:
        for w in workers:
            w.stop(10)  # SIGTERM first: each closes its child and zygote
        sandbox.discard_held()  # the zygotes no worker took yet
        raise
    for w in workers:
        w.send(None)
    for w in workers:
        w.proc.join(10)
        w.stop(5)


def _preload_for_workers(items: list) -> None:
    """Import here, once, what each worker would import on its first notebook (forked workers inherit it)."""
    import numpy.random  # noqa: F401 - the checks' random inputs

    from autograder.bridge import protocol  # noqa: F401

    for task in sorted({spec.name for spec, *_ in items}):
        load_misconceptions(task)


def _poll(conn) -> bool:
    try:
        return conn.poll()
    except (EOFError, OSError):
        return False


# -- what a report depends on -------------------------------------------------------------

#: the parts of the package that decide a grade, besides the tasks' own folders
GRADER_PARTS = ("__init__.py", "report.py", "grading", "sandbox", "bridge", "course", "commands/grade.py",
                "tasks/__init__.py", "tasks/answer_key.py")


def _files_digest(base: Path, parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        top = base / part
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix in (".pyc", ".pyo"):
                continue
            h.update(f"{f.relative_to(base).as_posix()}\0".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


@functools.cache
def grader_digest() -> str:
    """Hash of the grader's own code (:data:`GRADER_PARTS`: its version is in ``__init__.py``), and the Python
    and NumPy it runs on.

    Computed once per process: the code this process loaded.
    """
    import numpy

    package = Path(__file__).resolve().parents[1]
    return hashlib.sha256(f"{sys.version}\0{numpy.__version__}\0"
                          f"{_files_digest(package, GRADER_PARTS)}".encode()).hexdigest()


def task_digest(task: str, folder: Path | None = None) -> str:
    """Hash of every file of ``autograder/tasks/<task>/`` (checks, answer key, anything else there).

    Args:
        task: the task's name.
        folder: the task's folder (default: the package's).

    Returns:
        A hex digest; "" when the task has no folder.
    """
    if folder is None:
        return _package_task_digest(task)
    return _files_digest(Path(folder), ["."]) if Path(folder).is_dir() else ""


@functools.cache
def _package_task_digest(task: str) -> str:
    return task_digest(task, Path(tasks.HERE) / task)  # once per process, as its checks are loaded once


def _notebook_digest(path: Path, limits: Limits) -> str:
    try:
        return "sha256:" + hashlib.sha256(untrusted.read_submitted(path, limits.max_notebook_bytes)).hexdigest()
    except FileNotFoundError:
        return "missing"
    except untrusted.TooLarge as big:
        return f"too large:{big.size}"
    except untrusted.Refused as refused:
        return f"refused:{refused}"
    except OSError as exc:
        return f"unreadable:{exc.errno}"


@dataclasses.dataclass
class _Inspection:
    """What ``grade`` learns about a submission before grading it."""

    digest: str  # the student's part of the fingerprint
    submitted_at: str | None
    notes: list
    unexpected: list
    fingerprint: str = ""  # the whole fingerprint (set by run)
    deadline: dict | None = None  # the deadline decision (set by run; None without --deadline)


#: at most this many unexpected file names are reported, each at most this long
MAX_UNEXPECTED, MAX_NAME_CHARS = 20, 80


def _shown_file_name(name: str) -> str:
    """A student's file name, made safe to show: printable ASCII, other characters as ``?``, bounded."""
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in name)
    return text if len(text) <= MAX_NAME_CHARS else text[:MAX_NAME_CHARS - 3] + "..."


def _inspect(sub: Submission, spec, limits: Limits) -> _Inspection:
    expected = {f"{name}.ipynb" for name in spec.notebooks}
    try:
        untrusted.check_real_folder(sub.folder)  # a symlinked folder: list nothing of its target
        entries = sorted(os.listdir(sub.folder))
    except (OSError, untrusted.Refused):
        entries = []
    odd = [e for e in entries if e.lower().endswith(".ipynb") and e not in expected]
    unexpected = [_shown_file_name(e) for e in odd[:MAX_UNEXPECTED]]
    if len(odd) > MAX_UNEXPECTED:
        unexpected.append(f"... and {len(odd) - MAX_UNEXPECTED} more")
    notes = []
    if odd:
        missing = sorted(expected - set(entries))
        notes.append(f"{len(odd)} notebook file(s) in your submission have names the assignment does not use, "
                     "so they were not graded (see unexpected_files); the grader looks for exactly: "
                     + ", ".join(sorted(expected))
                     + (f" (missing: {', '.join(missing)})" if missing else ""))
    submitted_at, note = submission_time(sub.folder / TIMESTAMP)
    if note:
        notes.append(note)
    state = {"entries": [untrusted.printable(e) for e in entries[:10_000]], "n": len(entries),
             "notebooks": {nb: _notebook_digest(sub.folder / f"{nb}.ipynb", limits) for nb in spec.notebooks},
             "submitted_at": submitted_at, "student": sub.student}
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
    return _Inspection(digest, submitted_at, notes, unexpected)


TIMESTAMP = "timestamp.txt"  # nbgrader's record of when a submission was made
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
                   r"(?: ?(UTC|GMT|Z|[+-]\d\d:?\d\d))?")


def parse_submission_time(text: str) -> datetime.datetime | None:
    """A time in nbgrader's ``timestamp.txt`` format (``2026-11-20 23:58:01.123456 UTC``), as aware UTC.

    Also accepted: ``T`` between date and time, no fraction, ``Z``, ``GMT`` or an offset
    (``+01:00``); no zone means UTC (nbgrader's default). Anything else: None.
    """
    m = _TIME.fullmatch(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    offset = datetime.timedelta(0)
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = -offset if zone[0] == "-" else offset
    try:
        local = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                                  int((fraction or "0").ljust(6, "0")), tzinfo=datetime.timezone(offset))
        return local.astimezone(datetime.timezone.utc)
    except (ValueError, OverflowError):
        return None


def format_time(t: datetime.datetime) -> str:
    """UTC time as the reports write it: ISO 8601 with microseconds and ``Z``."""
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def submission_time(path: Path) -> tuple[str | None, str | None]:
    """(submission time for the report, or None; a note saying why there is none, or None). Never raises."""
    try:
        raw = untrusted.read_submitted(path, 256)
    except FileNotFoundError:
        return None, "no submission time: the submission has no timestamp.txt"
    except untrusted.Refused:
        return None, "no submission time: timestamp.txt is not a short regular file"
    except Exception:  # noqa: BLE001 - whatever is there, the run goes on
        return None, "no submission time: timestamp.txt could not be read"
    try:
        when = parse_submission_time(raw.decode("ascii"))
    except UnicodeDecodeError:
        when = None
    if when is None:
        return None, "no submission time: timestamp.txt does not hold a time (e.g. 2026-11-20 23:58:01.123456 UTC)"
    return format_time(when), None


# -- the verb ---------------------------------------------------------------------

class Interrupted(KeyboardInterrupt):
    """Ctrl-C during grading: every report finished so far was written; ``kept`` says how many."""

    def __init__(self, kept: int):
        super().__init__(kept)
        self.kept = kept


def _check_out(out: Path, make: bool = False) -> Path:
    out = Path(out)
    course.not_a_file(out, "--out")
    if not make:
        return out
    course.make_folder(out, "--out")
    try:
        (out / report.REPORTS).mkdir(exist_ok=True)
    except OSError as exc:
        raise CourseError(f"--out {out}: cannot make the folder ({exc.strerror})") from None
    return out.resolve()


def run(submissions: Path, assignment: str, out: Path, *, jobs: int = 1, shard_spec: str | None = None,
        student: str | None = None, root: Path | None = None, limits: Limits | None = None,
        isolate_children: bool = True, require_isolation: bool = False, gradebook: bool = True,
        force: bool = False, rule: deadlines.Rule | None = None, echo=print) -> list:
    """Grade; return the reports of this run's students (and write everything under ``out``).

    ``out`` is the assignment's record: a student's earlier report there is reused (not
    regraded) when its fingerprint still matches: the student's files, the tasks' folders, the
    grader's code and version, the gradebook's cells and the limits (``force``: regrade all).
    Reports of students not in this run are kept; ``grades.csv`` and ``summary.md`` are
    rebuilt from every report in ``out``. Each student's report is written as soon as their
    last notebook is graded.

    Args:
        submissions: nbgrader's ``submitted/``, one student's folder, or a folder of notebooks.
        assignment: the assignment's name.
        out: the record folder.
        jobs: at most this many grading worker processes (see :func:`workers_for`).
        shard_spec: ``i/N``: grade only that slice of the students.
        student: the student's id, for a single folder.
        root: the course root (default: found from the working directory).
        limits: time and size limits.
        isolate_children: confine student code (needs root).
        require_isolation: refuse to run unless confined.
        gradebook: record scores in ``gradebook.db`` and ``autograded/``.
        force: regrade every student.
        rule: the deadline rule (``--deadline`` ...; None: no deadline). The student's decision under it is
            part of the fingerprint, so a new rule regrades; its penalty is taken off the total once.
        echo: where console lines go.

    Returns:
        The reports of the students in this run (graded and reused), in student order.

    Raises:
        CourseError: bad arguments or course (exit 2).
        Interrupted: Ctrl-C; the reports finished so far are written.
    """
    started = time.monotonic()
    if jobs < 1:
        raise CourseError("--jobs must be at least 1")
    _check_out(out)
    root = root or course.find_root()
    limits = limits or Limits()
    i, n = parse_shard(shard_spec)
    found = discover(Path(submissions), assignment, student, warn=echo)
    subs = shard(found, i, n)
    course.ensure_in_gradebook(root, assignment, log=echo)
    spec = course.load_assignment(root, assignment)
    root_user = os.geteuid() == 0
    if require_isolation and not (root_user and isolate_children):
        raise CourseError("--require-isolation: official grading must run as root (e.g. with sudo) "
                          "so that student code runs confined under its own user")
    isolation = ("confined (namespaces, own uid, no network)" if root_user and isolate_children
                 else "process only (not root: student code can read files the grader can)")
    checks = _load_all_checks(spec)
    out = _check_out(out, make=True)
    config = SandboxConfig(hide=hidden_paths(root, [out, Path(submissions), root / "gradebook.db"]),
                           isolate=isolate_children)
    log = PrivateLog(out / "grader-private.log")

    shared = json.dumps({"grader": grader_digest(), "isolation": isolation, "assignment": assignment,
                         "limits": dataclasses.asdict(limits),
                         "sandbox": {k: v for k, v in dataclasses.asdict(config).items() if k != "hide"},
                         "notebooks": {name: [dataclasses.asdict(nb), task_digest(name), sorted(checks[name])]
                                       for name, nb in spec.notebooks.items()}},
                        sort_keys=True, default=str)
    try:
        earlier = {r.get("student"): r for r in report.load_reports(out) if r.get("assignment") == assignment}
    except ValueError as exc:  # a damaged record: say so rather than overwrite or ignore it
        raise CourseError(f"--out {out}: the reports there cannot be read ({str(exc)[:200]})") from None
    inspections, reused, to_grade = {}, {}, []
    sources = _pushed_sources(out)
    for sub in subs:
        seen = inspections[sub.student] = _inspect(sub, spec, limits)
        seen.deadline = (rule or deadlines.Rule()).decide(sub.student, seen.submitted_at,
                                                          _push_source(sources, sub.student, seen.submitted_at))
        part = seen.digest if seen.deadline is None else f"{seen.digest}\0{json.dumps(seen.deadline, sort_keys=True)}"
        fingerprint = hashlib.sha256(f"{shared}\0{part}".encode()).hexdigest()
        seen.fingerprint = fingerprint
        old = earlier.get(sub.student)
        if not force and old is not None and old.get("fingerprint") == fingerprint:
            reused[sub.student] = old
        else:
            to_grade.append(sub)
        if seen.unexpected:
            echo(f"warning: {untrusted.shown_name(sub.student)}: notebook(s) with names the assignment does not "
                 f"use, not graded: {', '.join(seen.unexpected[:5])}{' ...' if len(seen.unexpected) > 5 else ''}")
    others = sorted(set(earlier) - {s.student for s in subs})
    if others:  # kept reports decided under another deadline rule stay wrong (nbgrader #723): say so
        in_other_shards = {s.student for s in found}

        def decided(info):
            keys = ("due", "policy", "grace_minutes", "late", "penalty_percent")
            return tuple(info.get(k) for k in keys) if isinstance(info, dict) else None

        def stale_one(name, rep):
            kept = rep.get("deadline") if isinstance(rep.get("deadline"), dict) else {}
            now = (rule or deadlines.Rule()).decide(name, rep.get("submitted_at") or kept.get("pushed_at"),
                                                    kept.get("pushed_source"))
            return decided(rep.get("deadline")) != decided(now)

        stale = sum(stale_one(s, earlier[s]) for s in others if s not in in_other_shards)
        if stale:
            echo(f"warning: {stale} kept report(s) of students not in this run were decided under another deadline "
                 "rule: collect again: it re-fetches everyone when the rule changes, or give their submissions")
    items = [(nb, sub.student, sub.folder / f"{nb.name}.ipynb", limits)
             for sub in to_grade for nb in spec.notebooks.values()]
    shard_note = f" (shard {i}/{n})" if n > 1 else ""
    echo(f"grading {len(to_grade)} of {len(subs)} submission(s) of {assignment}{shard_note}: {len(items)} notebooks, "
         f"{jobs} job(s); reusing {len(reused)} unchanged report(s); student code: {isolation}")
    if others:
        echo(f"keeping {len(others)} earlier report(s) in {out} of students not in this run "
             "(they stay in grades.csv and summary.md)")

    results: dict[str, list] = {s.student: [] for s in to_grade}
    shown: dict[str, dict] = {s.student: {} for s in to_grade}  # the cells each notebook ran, as graded
    waiting = {s.student: len(spec.notebooks) for s in to_grade}
    by_name = {s.student: s for s in to_grade}
    written: dict[str, dict] = {}
    done = 0

    def on_result(index, student_name, result, cells=None):
        nonlocal done
        done += 1
        flag = "" if result["status"] == "graded" else f" [{result['status']}]"
        echo(f"[{done}/{len(items)}] {untrusted.shown_name(student_name)}/{result['notebook']}: "
             f"{report._fmt(result['score'])}/{report._fmt(result['max_score'])}{flag} ({result['seconds']:.2f} s)")
        results[student_name].append(result)
        if cells is not None:
            shown[student_name][result["notebook"]] = cells
        waiting[student_name] -= 1
        if waiting[student_name] == 0:
            written[student_name] = _write_report(out, spec, by_name[student_name], results[student_name],
                                                  inspections[student_name], isolation, limits,
                                                  shown.pop(student_name))
            if gradebook:  # its autograded/ copies while the others are graded; its rows go in at the end
                write_gradebook_copies(root, spec, by_name[student_name], written[student_name])

    try:
        _grade_items(items, jobs, config, log, on_result)
    except KeyboardInterrupt:
        report.write_class(out, report.load_reports(out))
        raise Interrupted(len(written) + len(reused)) from None
    reports = [written.get(s.student) or reused[s.student] for s in subs]
    if gradebook:
        current = _recorded_already(root, spec, [(s, r) for s, r in zip(subs, reports) if s.student in reused])
        pairs = [(s, r) for s, r in zip(subs, reports) if s.student not in current]
        for s, r in pairs:
            if s.student not in written:
                write_gradebook_copies(root, spec, s, r)
        record_in_gradebook(root, spec, [s for s, _ in pairs], [r for _, r in pairs], copies=False)
    report.write_class(out, report.load_reports(out))
    seconds = time.monotonic() - started
    echo(f"graded {len(to_grade)} student(s) ({len(items)} notebooks) and reused {len(reused)} in {seconds:.1f} s"
         f"{f'; kept {len(others)} earlier report(s)' if others else ''}; reports in {out}")
    return reports


def _pushed_sources(out: Path) -> dict:
    """student -> (pushed_at, pushed_source) from the record's ``collected.json`` (written by collect), or {}."""
    try:
        data = json.loads((Path(out) / "collected.json").read_text(encoding="utf-8"))
        students = data.get("students") or {}
        return {s: (e.get("pushed_at"), e.get("pushed_source")) for s, e in students.items() if isinstance(e, dict)}
    except (OSError, ValueError, AttributeError):
        return {}


def _push_source(sources: dict, student: str, submitted_at: str | None) -> str | None:
    """Where the submission time comes from: collect's source when it wrote this very time, else timestamp.txt."""
    if submitted_at is None:
        return None
    pushed_at, source = sources.get(student) or (None, None)
    same = pushed_at and parse_submission_time(str(pushed_at)) == parse_submission_time(submitted_at)
    return source if same and source in ("github-activity", "first-seen") else "timestamp.txt"


def _recorded_already(root: Path, spec, pairs: list) -> set:
    """Students of ``pairs`` (submission, report) whose gradebook entry and ``autograded/`` copies match the report.

    Those need no recording again (it costs about 0.1 s a student). Anything else (a fresh
    gradebook, an entry from another report, a different time, a missing notebook copy) is
    recorded again, so a run from a fresh clone of the record fills the gradebook completely.
    """
    if not pairs:
        return set()
    from autograder.course.gradebook import recorded, submitted_at

    try:
        held = recorded(root, spec.name, [sub.student for sub, _ in pairs])
    except (sqlite3.Error, ValueError):  # an unreadable gradebook: record everyone again
        held = {}
    same = set()
    for sub, rep in pairs:
        when, have = held.get(sub.student, (None, None))
        if have is None or when != submitted_at(rep):
            continue
        want = {(r["notebook"], t["grade_id"]): None if t["status"] == "manual" else float(t["points"])
                for r in rep["notebooks"] for t in r["tests"]}
        copies = root / "autograded" / sub.student / spec.name
        if have == want and all((copies / f"{name}.ipynb").is_file() for name in spec.notebooks):
            same.add(sub.student)
    return same


def _write_report(out: Path, spec, sub: Submission, results: list, seen: _Inspection, isolation: str,
                  limits: Limits, shown: dict | None = None) -> dict:
    reusable = all(r["status"] != "error" and all(t["status"] != "error" for t in r["tests"]) for r in results)
    rep = report.student_report(sub.student, spec.name, results, isolation, submitted_at=seen.submitted_at,
                                notes=seen.notes, unexpected_files=seen.unexpected,
                                fingerprint=seen.fingerprint if reusable else None,
                                graded_at=format_time(datetime.datetime.now(datetime.timezone.utc)),
                                deadline=seen.deadline)
    shown = shown or {}
    sources = {nb: shown[nb] if nb in shown else _student_cells(spec.notebooks[nb], sub.folder / f"{nb}.ipynb", limits)
               for nb in spec.notebooks}
    report.write_student(out, rep, sources)
    return rep


def _shown_cells(prepared) -> list:
    """The student's own cells of a prepared notebook (restored locked cells left out), for the report."""
    return [(label, src) for label, src in prepared.cells if not label.startswith("restored")]


def _student_cells(spec, path: Path, limits: Limits) -> list:
    return _shown_cells(prepare(path, spec, limits))


# -- the command line ---------------------------------------------------------------

def add_arguments(p) -> None:
    limits = Limits()
    p.add_argument("submissions", help="nbgrader's submitted/ folder (each folder in it is a student), "
                   "one student's folder submitted/<student>, or a folder of notebooks named like the assignment")
    p.add_argument("--assignment", required=True, help="assignment name, e.g. exam22")
    p.add_argument("--out", required=True,
                   help="the assignment's record folder: reports, feedback, grades.csv, summary.md. A student's "
                        "earlier report there is reused while nothing it depends on has changed")
    jobs = inspect.signature(run).parameters["jobs"].default
    p.add_argument("--jobs", type=int, default=jobs, help=f"parallel grading processes (default {jobs})")
    p.add_argument("--shard", help="grade only slice i of N (e.g. 2/4), by student name")
    p.add_argument("--student", help="the student's id when SUBMISSIONS is one student's folder "
                   "(then its notebooks are in SUBMISSIONS/<assignment>/) or a folder of notebooks")
    p.add_argument("--force", action="store_true",
                   help="regrade every student, even those whose earlier report in --out could be reused")
    p.add_argument("--cell-timeout", type=float, default=limits.cell_seconds,
                   help=f"seconds per cell and per test call (default {limits.cell_seconds:g})")
    p.add_argument("--notebook-timeout", type=float, default=limits.notebook_seconds,
                   help=f"seconds per notebook (default {limits.notebook_seconds:g})")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse to grade unless student code can be confined (needs root)")
    p.add_argument("--no-gradebook", action="store_true", help="do not record scores in gradebook.db")
    deadlines.add_arguments(p)


def from_args(args) -> int:
    rule = deadlines.rule_from_args(args)
    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.notebook_timeout)
    try:
        reports = run(Path(args.submissions), args.assignment, Path(args.out), jobs=args.jobs,
                      shard_spec=args.shard, student=args.student, limits=limits, force=args.force, rule=rule,
                      require_isolation=args.require_isolation, gradebook=not args.no_gradebook)
    except Interrupted as stop:
        print(f"interrupted: {stop.kept} reports kept; run again to go on", file=sys.stderr)
        gc.freeze()
        return 130
    print(report.table_text(reports))
    gc.freeze()  # exit without a garbage collection over every object loaded (about 0.9 s)
    return 0
