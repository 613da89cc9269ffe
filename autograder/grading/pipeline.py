"""Grading one notebook, as a short pipeline of steps, each testable alone.

1. :func:`prepare` - read the submitted file defensively and decide which code
   to run: the student's cells, with locked cells restored from the gradebook;
   test cells are never run (whatever their metadata now says).
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

import nbformat

from autograder.course import NotebookSpec, notebooks
from autograder.grading.checking import CheckFailed, Student, seed_for
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
    problem: str | None = None  # why nothing can run (missing, malformed)
    status: str = "ok"  # ok | missing | malformed


def prepare(path, spec: NotebookSpec, limits: Limits) -> Prepared:
    """Read a submitted notebook and list the code to run (never raises)."""
    name = spec.name
    if path is None or not path.exists():
        return Prepared(name, [], problem="notebook not submitted", status="missing")
    try:
        size = path.stat().st_size
        if size > limits.max_notebook_bytes:
            return Prepared(name, [], status="malformed",
                            problem=f"notebook file too large ({size / 2**20:.0f} MiB; limit "
                                    f"{limits.max_notebook_bytes / 2**20:.0f} MiB)")
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Prepared(name, [], status="malformed", problem="not a notebook: the file is not UTF-8 text")
    except OSError as exc:
        return Prepared(name, [], status="malformed", problem=f"the file could not be read ({exc.strerror})")
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
            nb = nbformat.reads(text, as_version=4)
        for i, cell in enumerate(nb.cells):  # copied cells may repeat ids: ids do not matter here
            if isinstance(cell, dict):
                cell["id"] = f"cell-{i}"
        nbformat.validate(nb)
    except Exception:  # noqa: BLE001 - any malformed notebook lands here
        return Prepared(name, [], status="malformed",
                        problem="not a valid notebook (nbformat 4): open it in Jupyter and save it again")
    cells, present = [], set()
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = notebooks.nbgrader_meta(cell) if isinstance(cell.get("metadata"), dict) else {}
        gid = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
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


def judge(execution: Execution, spec: NotebookSpec, task_checks: dict, log=None) -> list:
    """Run every test cell's check in the grader; one verdict per grade cell."""
    verdicts = []
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
        except Exception:  # noqa: BLE001 - a bug in a check must not stop grading
            if log:
                log(f"internal error in check {spec.name}.{cell.grade_id}:\n{traceback.format_exc(limit=3)}")
            verdict.update(status="error", message="the grader could not run this test (tell your instructor)")
        verdicts.append(verdict)
    return verdicts


def grade_notebook(zygote: Zygote, spec: NotebookSpec, path, limits: Limits, checks: dict, log=None) -> dict:
    """Grade one submitted notebook; always returns a result (never raises).

    Args:
        zygote: forks the confined child that runs the student's cells.
        spec: the notebook's cells and points, from the gradebook.
        path: the submitted file, or None when it is missing.
        limits: time and size limits.
        checks: grade_id -> check function (the task's ``checks.py``, loaded by the caller).
        log: where internal errors go (the run's private log), or None.

    Returns:
        The notebook's result dict (see :mod:`autograder.report`).
    """
    started = time.monotonic()
    prepared = prepare(path, spec, limits)
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
            result["tests"] = judge(execution, spec, checks, log)
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
    return result
