"""Grading one notebook, as a short pipeline of steps, each testable alone.

1. :func:`prepare` - read the submitted file defensively (only a regular file
   of the student's own: FIFOs, devices, folders and symbolic links are
   ``refused``) and decide which code to run: the student's cells, with locked
   cells restored from the gradebook; cells marked as tests are never run, and
   metadata of any JSON type is tolerated.
2. :class:`Execution` - run that code in a confined child; a cell that hangs
   or kills the process is skipped and the rest replayed in a fresh child.
3. :func:`judge` - run each test cell's check *in the grader*, talking to the
   child only through :class:`autograder.checking.Student`.
4. :func:`grade_notebook` wires them and always returns a result dict.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
import warnings
from pathlib import Path

import nbformat

from autograder.course import NotebookSpec, notebooks, untrusted
from autograder.grading import hints
from autograder.grading.checking import CheckFailed, Student, StudentError, seed_for
from autograder.sandbox import SessionDead, Zygote


@dataclasses.dataclass
class Limits:
    cell_seconds: float = 30.0
    notebook_seconds: float = 180.0
    max_notebook_bytes: int = 20 << 20
    max_restarts: int = 3


@dataclasses.dataclass
class Prepared:
    name: str
    cells: list  # of (label, source)
    text: str | None = None
    problem: str | None = None  # why nothing can run (missing, malformed, refused), safe to show
    status: str = "ok"  # ok | missing | malformed | refused


def prepare(path, spec: NotebookSpec, limits: Limits) -> Prepared:
    """Read a submitted notebook and list the code to run (never raises).

    Everything in the file is hostile data: the file is read only if it is a regular file
    reached without a symbolic link (:func:`autograder.course.untrusted.read_submitted`: a FIFO,
    device, socket, folder or symlink is ``refused``, and nothing of a link's target is read);
    metadata of any JSON type is tolerated; test cells are never run, whatever their metadata.

    Args:
        path: the submitted file, or None when it is missing. Its folder must be an absolute
            path without symbolic links (``autograder grade``'s discovery resolves it).
        spec: the notebook's cells and points, from the gradebook.
        limits: the file size limit.

    Returns:
        A :class:`Prepared`; when ``problem`` is set, nothing is to be run.
    """
    try:
        return _prepare(path, spec, limits)
    except Exception:  # noqa: BLE001 - a notebook the checks below did not foresee costs only itself
        return Prepared(spec.name, [], status="malformed",
                        problem="not a valid notebook (nbformat 4): open it in Jupyter and save it again")


def _prepare(path, spec: NotebookSpec, limits: Limits) -> Prepared:
    name = spec.name
    if path is None:
        return Prepared(name, [], problem="notebook not submitted", status="missing")
    try:
        raw = untrusted.read_submitted(Path(path), limits.max_notebook_bytes)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        return Prepared(name, [], problem="notebook not submitted", status="missing")
    except untrusted.TooLarge as big:
        return Prepared(name, [], status="malformed",
                        problem=f"notebook file too large ({big.size / 2**20:.0f} MiB; limit "
                                f"{limits.max_notebook_bytes / 2**20:.0f} MiB)")
    except untrusted.Refused as refused:
        return Prepared(name, [], status="refused", problem=str(refused))
    except UnicodeDecodeError:
        return Prepared(name, [], status="malformed", problem="not a notebook: the file is not UTF-8 text")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return Prepared(name, [], status="malformed", problem=f"not a notebook: invalid JSON{where}")
    try:
        if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
            raise ValueError("no cells")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. nbformat repairing duplicated cell ids
            nb = nbformat.convert(nbformat.reader.reads(text), 4)  # validated once, below
        for i, cell in enumerate(nb.cells):  # copied cells may repeat ids: ids do not matter here
            if isinstance(cell, dict):
                cell["id"] = f"cell-{i}"
        nbformat.validate(nb)
    except Exception:  # noqa: BLE001 - any malformed notebook lands here
        return Prepared(name, [], status="malformed",
                        problem="not a valid notebook (nbformat 4): open it in Jupyter and save it again")
    cells, present = [], set()
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = notebooks.nbgrader_meta(cell)  # {} unless a dict
        gid = notebooks.grade_id_of(cell)  # None unless a non-empty string
        if gid in spec.auto_ids or (meta.get("grade") and not meta.get("solution")):
            continue  # test cells are judged by the grader, never run
        source = cell.get("source", "")
        if gid in spec.locked and spec.locked[gid][0] == "code":
            source = spec.locked[gid][1]  # restored, as nbgrader does
            present.add(gid)
        cells.append((f"cell {index + 1}", source if isinstance(source, str) else ""))
    order = spec.order + sorted(set(spec.locked) - set(spec.order))
    restorable = {gid for gid, (kind, _) in spec.locked.items() if kind == "code"} - present - spec.auto_ids
    missing = [(f"restored cell {gid}", spec.locked[gid][1]) for gid in order if gid in restorable]
    return Prepared(name, missing + cells, text=text)


class Execution:
    """The student's namespace, alive in a confined child; rebuilt on demand."""

    def __init__(self, zygote: Zygote, prepared: Prepared, limits: Limits):
        self.zygote, self.prepared, self.limits = zygote, prepared, limits
        self.deadline = time.monotonic() + limits.notebook_seconds
        self.skipped: dict[int, str] = {}  # cell index -> why it was skipped
        self.errors: dict[int, str] = {}  # cell index -> exception type it raised
        self.session = None
        self.restarts = -1
        self.broken: str | None = None

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _timeout(self) -> float:
        return max(0.1, min(self.limits.cell_seconds, self.remaining()))

    def start(self) -> bool:
        """(Re)build the namespace: run every cell not skipped. False if that is impossible."""
        while self.broken is None:
            self.restarts += 1
            if self.restarts > self.limits.max_restarts:
                self.broken = "the notebook had to be restarted too often"
                break
            if self.remaining() <= 0:
                self.broken = f"the notebook ran out of its {self.limits.notebook_seconds:g} s time limit"
                break
            self.close()
            self.session = self.zygote.spawn(self.prepared.name + ".ipynb", self.prepared.text)
            for index, (label, source) in enumerate(self.prepared.cells):
                if index in self.skipped:
                    continue
                if self.remaining() <= 0:
                    self.skipped[index] = "not run: the notebook's time limit was reached"
                    continue
                try:
                    ok, error = self.session.run_cell(source, self._timeout())
                except SessionDead as dead:
                    self.skipped[index] = f"{label}: {dead.reason}"
                    break  # rebuild without this cell
                if not ok:
                    self.errors[index] = error or "an exception"
            else:
                return True
        self.close()
        return False

    def transport(self, request: dict) -> dict:
        if self.session is None or not self.session.alive:
            raise SessionDead("the notebook's process is not running")
        return self.session.request(request, self._timeout())

    def cell_notes(self) -> list:
        notes = [f"{self.prepared.cells[i][0]} raised {e}" for i, e in sorted(self.errors.items())]
        return notes + [why for _, why in sorted(self.skipped.items())]

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def judge(execution: Execution, spec: NotebookSpec, task_checks: dict, log=None, misconceptions=None) -> list:
    """Run every test cell's check in the grader; one verdict per grade cell.

    After every check has run, failed verdicts get ``hints`` (see :func:`attach_hints`); a check
    that failed because the student's code raised ``NotImplementedError`` (a stub) is not searched:
    no probe of unwritten code can match.
    """
    verdicts, unwritten = [], set()
    for cell in spec.grade_cells:
        verdict = {"grade_id": cell.grade_id, "max_points": cell.points, "points": 0.0}
        if not cell.auto:
            verdict.update(status="manual", message="graded by hand")
            verdicts.append(verdict)
            continue
        fn = task_checks.get(cell.grade_id)
        if fn is None:
            verdict.update(status="error", message="this test is not available in the grader (tell your instructor)")
            verdicts.append(verdict)
            continue
        if (execution.session is None or not execution.session.alive) and not execution.start():
            verdict.update(status="failed", message=f"not run: {execution.broken}")
            verdicts.append(verdict)
            continue
        student = Student(execution.transport, seed=seed_for(spec.name, cell.grade_id))
        try:
            fn(student)
            verdict.update(status="passed", points=cell.points, message="")
        except SessionDead as dead:
            execution.close()
            verdict.update(status="failed", message=f"your code stopped during this test: {dead.reason}")
        except CheckFailed as exc:
            verdict.update(status="failed", message=str(exc)[:500] or "failed")
            if isinstance(exc, StudentError) and exc.error == "NotImplementedError":
                unwritten.add(cell.grade_id)
        except Exception:  # noqa: BLE001 - a bug in a check must not stop grading
            if log:
                log(f"internal error in check {spec.name}.{cell.grade_id}:\n{traceback.format_exc(limit=3)}")
            verdict.update(status="error", message="the grader could not run this test (tell your instructor)")
        verdicts.append(verdict)
    attach_hints(execution, spec, verdicts, misconceptions, log, unsearched=unwritten)
    return verdicts


def attach_hints(execution: Execution, spec: NotebookSpec, verdicts: list, catalogue, log=None,
                 unsearched: set | None = None) -> None:
    """Give every failed verdict a ``hints`` list: the misconceptions its failure matches.

    Runs after all checks, so a probe that hangs or kills the student's process can cost
    no point; it never restarts the notebook (a dead process gets no hint search), and
    each call of the student's code gets at most :data:`hints.CALL_SECONDS`.

    Args:
        execution: the notebook's namespace (its child process), after the checks.
        spec: the notebook's cells.
        verdicts: the checks' verdicts; failed ones get ``hints`` (a list, maybe empty), in place.
        catalogue: the task's misconceptions (:class:`autograder.grading.hints.Misconception`), or None.
        log: where internal errors go, or None.
        unsearched: grade_ids of failed checks not to search (their hints stay empty).
    """
    failed = [v["grade_id"] for v in verdicts
              if v.get("status") == "failed" and v["grade_id"] not in (unsearched or ())]
    for v in verdicts:
        if v.get("status") == "failed":
            v["hints"] = []
    session = execution.session
    if not catalogue or not failed or session is None or not session.alive or execution.remaining() <= 1:
        return

    def transport(request: dict) -> dict:
        if not session.alive:
            raise SessionDead("the notebook's process is not running")
        return session.request(request, min(hints.CALL_SECONDS, execution._timeout()))

    try:
        found = hints.search(transport, catalogue, failed, spec.name, alive=lambda: session.alive,
                             seconds=min(hints.SEARCH_SECONDS, execution.remaining()), log=log)
    except Exception:  # noqa: BLE001 - a hint is a bonus: never let it cost the report
        if log:
            log(f"internal error in the hint search of {spec.name}:\n{traceback.format_exc(limit=3)}")
        return
    for v in verdicts:
        if v.get("status") == "failed":
            v["hints"] = found.get(v["grade_id"], [])


def grade_notebook(zygote: Zygote, spec: NotebookSpec, path, limits: Limits, checks: dict, log=None,
                   misconceptions=None) -> dict:
    """Grade one submitted notebook; always returns a result (never raises).

    Args:
        zygote: forks the confined child that runs the student's cells.
        spec: the notebook's cells and points, from the gradebook.
        path: the submitted file, or None when it is missing.
        limits: time and size limits.
        checks: grade_id -> check function (the task's ``checks.py``, loaded by the caller).
        log: where internal errors go (the run's private log), or None.
        misconceptions: the task's catalogue (``misconceptions.py``, loaded by the caller) for the
            hints on failed tests, or None for no hints.

    Returns:
        The notebook's result dict (see :mod:`autograder.report`).
    """
    started = time.monotonic()
    prepared = prepare(path, spec, limits)  # never raises
    return grade_prepared(zygote, spec, prepared, limits, checks, log, misconceptions, started=started)


def grade_prepared(zygote: Zygote, spec: NotebookSpec, prepared: Prepared, limits: Limits, checks: dict, log=None,
                   misconceptions=None, started: float | None = None) -> dict:
    """:func:`grade_notebook` for a notebook already read by :func:`prepare` (so that it is parsed once).

    Args:
        zygote, spec, limits, checks, log, misconceptions: as for :func:`grade_notebook`.
        prepared: what :func:`prepare` made of the submitted file.
        started: ``time.monotonic()`` when the notebook's grading began (its ``seconds``); default now.

    Returns:
        The notebook's result dict (see :mod:`autograder.report`); never raises.
    """
    started = time.monotonic() if started is None else started
    result = {"notebook": spec.name, "status": "graded", "problem": None, "score": 0.0,
              "max_score": spec.max_score, "manual_max": spec.manual_max, "tests": [], "cells": []}
    if prepared.problem:
        result.update(status=prepared.status, problem=prepared.problem)
        result["tests"] = [{"grade_id": c.grade_id, "max_points": c.points, "points": 0.0,
                            "status": "manual" if not c.auto else "failed", "message": prepared.problem}
                           for c in spec.grade_cells]
    else:
        execution = Execution(zygote, prepared, limits)
        try:
            execution.start()
            result["tests"] = judge(execution, spec, checks, log, misconceptions)
            result["cells"] = execution.cell_notes()
            if execution.broken:
                result["problem"] = execution.broken
        except Exception:  # noqa: BLE001 - the report must still be written
            if log:
                log(f"internal error grading {spec.name}:\n{traceback.format_exc(limit=4)}")
            result.update(status="error", problem="the grader failed on this notebook (tell your instructor)")
            result["tests"] = [{"grade_id": c.grade_id, "max_points": c.points, "points": 0.0,
                                "status": "error", "message": "not graded"} for c in spec.grade_cells]
        finally:
            execution.close()
    result["score"] = sum(t["points"] for t in result["tests"])
    result["seconds"] = round(time.monotonic() - started, 3)
    return untrusted.clean(result)  # no string that can make a write fail (lone surrogates escaped)
