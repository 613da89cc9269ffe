"""Building submissions from release notebooks (demo, tests, benchmark).

A submission is made the way a student makes one: start from the release
notebook and fill in its solution cells, here with the source's solutions
or with replacement code (a known-wrong implementation).
"""

from __future__ import annotations

import runpy
from pathlib import Path

from autograder.course import notebooks


def solution_sources(source_nb) -> dict:
    """grade_id -> the solution cell's content without its markers."""
    out = {}
    for cell in source_nb.cells:
        meta = notebooks.nbgrader_meta(cell)
        if meta.get("solution") and meta.get("grade_id"):
            lines = cell.source.splitlines()
            out[meta["grade_id"]] = "\n".join(l for l in lines if not notebooks.SOLUTION_MARKER.match(l))
    return out


def solved(release_nb, source_nb, replace: dict | None = None):
    """The release notebook with its solution cells filled in (``replace`` wins)."""
    nb = notebooks.read_copy(release_nb)
    fill = {**solution_sources(source_nb), **(replace or {})}
    for cell in nb.cells:
        gid = notebooks.nbgrader_meta(cell).get("grade_id")
        if gid in fill and (notebooks.nbgrader_meta(cell).get("solution") or gid in (replace or {})):
            cell.source = fill[gid]
    return nb


def mutants(root: Path, task: str) -> dict:
    """The known-wrong implementations of a task (tests/mutants/<task>.py), if the repository has them."""
    path = root / "tests" / "mutants" / f"{task}.py"
    return runpy.run_path(str(path)).get("MUTANTS", {}) if path.is_file() else {}


def write(nb, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebooks.dumps(nb))
