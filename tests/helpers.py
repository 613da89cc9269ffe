"""Shared helpers of the repository's own tests."""

from __future__ import annotations

import importlib
from pathlib import Path

from autograder.bridge import protocol
from autograder.course import notebooks
from autograder.grading.checking import CheckFailed, Student, checks_of, seed_for
from autograder.tasks import load

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("exam22", "backprop")


def source_notebooks() -> dict[str, Path]:
    """task name -> source notebook path, for every task of every assignment."""
    out = {}
    for assignment in ASSIGNMENTS:
        for path in sorted((ROOT / "source" / assignment).glob("*.ipynb")):
            out[path.stem] = path
    return out


def assignment_of(task: str) -> str:
    return source_notebooks()[task].parent.name


def stub_notebook(nb):
    """The student's version of a source notebook, as nbgrader's ClearSolutions makes it."""
    from nbgrader.preprocessors import ClearSolutions

    nb = notebooks.read_copy(nb)
    ClearSolutions(code_stub={"python": "# YOUR CODE HERE\nraise NotImplementedError()"},
                   text_stub="YOUR ANSWER HERE").preprocess(nb, {})
    return nb


def mutants_of(task: str) -> dict:
    return importlib.import_module(f"tests.mutants.{task}").MUTANTS


def execute_cells(nb, replace=None, *, tolerate_errors: bool = True) -> dict:
    """The namespace of ``nb``'s code cells run in-process (test cells skipped, magics dropped).

    ``replace``: grade_id -> source used instead of that cell's. A cell that raises is tolerated (as in
    grading: later cells still run) unless ``tolerate_errors`` is False.
    """
    ns = {"__name__": "__main__"}
    replace = replace or {}
    for cell in nb.cells:
        if cell.cell_type != "code" or notebooks.is_test_cell(cell):
            continue
        src = replace.get(notebooks.nbgrader_meta(cell).get("grade_id"), cell.source)
        src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            with protocol.quiet():
                exec(compile(src, "<cell>", "exec"), ns)
        except Exception:  # noqa: BLE001 - a failing student cell is part of the scenario
            if not tolerate_errors:
                raise
    return ns


def run_checks_locally(task: str, nb, replace=None) -> dict[str, str | None]:
    """Run every check of ``task`` in-process against ``nb``'s code.

    Returns check name -> None (passed) or the failure message. Student cells
    that raise are tolerated (as in grading: later cells still run).
    """
    ns = execute_cells(nb, replace)
    module = load(task)
    results = {}
    for name, fn in checks_of(module).items():
        student = Student(lambda request: protocol.serve(ns, request), seed=seed_for(task, name))
        try:
            fn(student)
            results[name] = None
        except CheckFailed as exc:
            results[name] = str(exc) or "failed"
    protocol.reset()
    return results
