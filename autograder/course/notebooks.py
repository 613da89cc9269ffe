"""Notebook helpers: nbgrader cell kinds, normalisation, and authoring.

Cell kinds follow nbgrader's metadata (schema 3):

=====================  ======  ========  ======  ==========
kind                   grade   solution  locked  points
=====================  ======  ========  ======  ==========
``solution`` (code)    False   True      False   -
``tests`` (code)       True    False     True    yes
``locked``             False   False     True    -
``answer`` (markdown)  True    True      False   yes (manual)
=====================  ======  ========  ======  ==========
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: a line that opens or closes a solution region in source/ notebooks
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
#: cell metadata flags of JupyterLab/Notebook that nbgrader sets to false on the cells it protects
LOCK_FLAGS = ("deletable", "editable")


def nbgrader_meta(cell) -> dict:
    """A cell's ``metadata.nbgrader``; ``{}`` when the cell, its metadata or that entry is not a dict.

    Submitted notebooks are hostile: valid nbformat allows ``metadata.nbgrader`` to be a string,
    a list or a number, so callers always get a dict they can ``.get`` from.

    Args:
        cell: a notebook cell (any value).

    Returns:
        The nbgrader metadata dict, or ``{}``.
    """
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id_of(cell) -> str | None:
    """A cell's nbgrader ``grade_id`` if it is a non-empty string, else None (hostile metadata safe)."""
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_test_cell(cell) -> bool:
    m = nbgrader_meta(cell)
    return isinstance(cell, dict) and cell.get("cell_type") == "code" and bool(m.get("grade")) \
        and not m.get("solution")


def is_manual_cell(cell) -> bool:
    m = nbgrader_meta(cell)
    return bool(m.get("grade")) and bool(m.get("solution"))


def _meta(grade, solution, locked, grade_id, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


# -- authoring ----------------------------------------------------------------

def markdown(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip("\n"))


def solution(text: str, grade_id: str):
    """A code cell the student fills in (solution between ### BEGIN/END SOLUTION)."""
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=_meta(False, True, False, grade_id))


def locked(text: str, grade_id: str):
    """A read-only code cell nbgrader restores at grading time."""
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=_meta(False, False, True, grade_id))


def tests(text: str, grade_id: str, points: int):
    """An autograded test cell; grade_id must name a check in the task module."""
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=_meta(True, False, True, grade_id, points))


def answer(text: str, grade_id: str, points: int):
    """A manually graded written answer (markdown)."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=_meta(True, True, False, grade_id, points))


def new_notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=list(cells))
    return normalize(nb)


# -- normalisation ---------------------------------------------------------------

def normalize(nb, *, keep_outputs: bool = False):
    """Diff-friendly form: stable ids and metadata, no execution counts, no outputs unless kept.

    Of a cell's metadata only ``nbgrader`` is kept, and, on nbgrader cells, the
    JupyterLab/Notebook lock flags ``editable: false`` / ``deletable: false``
    that ``nbgrader generate_assignment`` sets in the release (locked and test
    cells cannot be edited or deleted, solution cells cannot be deleted).
    Source notebooks carry no lock flags, so the instructor can edit every cell.
    """
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = nbformat.NotebookNode({"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)})
    seen = set()
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        old = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        kept = {"nbgrader": meta} if meta else {}
        if meta:
            kept.update({flag: False for flag in LOCK_FLAGS if old.get(flag) is False})
        cell.metadata = nbformat.NotebookNode(kept)
        base = meta.get("grade_id") or f"cell-{index}"
        cid, n = base, 1
        while cid in seen:
            n += 1
            cid = f"{base}-{n}"
        seen.add(cid)
        cell.id = cid
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
        if cell.cell_type == "code":
            cell.execution_count = None
            if not keep_outputs:
                cell.outputs = []
            for out in cell.outputs:
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = None
                if "metadata" in out:
                    out["metadata"] = nbformat.NotebookNode({})
    return nb


def dumps(nb) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write(nb, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    Path(path).write_text(dumps(nb), encoding="utf-8")


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def strip_hidden(source: str) -> str:
    """Remove hidden-test regions (markers included) from a cell's source."""
    out, hidden = [], False
    for line in source.splitlines():
        s = line.strip()
        if s == HIDDEN_BEGIN:
            hidden = True
            continue
        if s == HIDDEN_END:
            hidden = False
            continue
        if not hidden:
            out.append(line)
    return "\n".join(out).rstrip("\n")


def hidden_lines(nb) -> set[str]:
    """The stripped, non-empty lines inside hidden-test regions of a notebook."""
    lines, inside = set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            s = line.strip()
            if s == HIDDEN_BEGIN:
                inside = True
            elif s == HIDDEN_END:
                inside = False
            elif inside and s:
                lines.add(s)
    return lines


def read_copy(nb):
    """A deep copy of a notebook node (or of the notebook at a path)."""
    if isinstance(nb, (str, Path)):
        return read(nb)
    return nbformat.reads(nbformat.writes(nb), as_version=4)
