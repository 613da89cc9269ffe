"""The course as nbgrader sees it: directories, gradebook, assignment layout.

Importing this package needs only the standard library (nbgrader and nbformat
are imported where they are used), so that every wing may raise :class:`CourseError`.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path


class CourseError(Exception):
    """A problem with the course or the arguments: printed as is, exit status 2."""


def find_root(start: Path | None = None) -> Path:
    """The course root: the nearest directory holding nbgrader_config.py."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "nbgrader_config.py").is_file():
            return d
    raise CourseError(f"no nbgrader_config.py in {here} or above: run this inside the course repository")


@dataclasses.dataclass
class GradeCell:
    grade_id: str
    points: float
    auto: bool  # autograded test cell (else: graded by hand)


@dataclasses.dataclass
class NotebookSpec:
    name: str  # stem, e.g. "softplus_layer" (also the task module's name)
    grade_cells: list  # of GradeCell, in notebook order
    locked: dict  # grade_id -> (cell_type, source) of cells nbgrader restores
    order: list  # grade_ids of every nbgrader cell, in notebook order

    @property
    def max_score(self) -> float:
        """Autograded points (the grader's maximum)."""
        return sum(c.points for c in self.grade_cells if c.auto)

    @property
    def manual_max(self) -> float:
        """Points of written answers, graded by hand (nbgrader formgrader)."""
        return sum(c.points for c in self.grade_cells if not c.auto)

    @property
    def auto_ids(self) -> set:
        return {c.grade_id for c in self.grade_cells if c.auto}


@dataclasses.dataclass
class AssignmentSpec:
    name: str
    notebooks: dict  # name -> NotebookSpec

    @property
    def max_score(self) -> float:
        return sum(nb.max_score for nb in self.notebooks.values())


def db_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def nbgrader_command(root: Path, *args: str, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run a stock nbgrader command in the course root (its venv's bin/ on PATH)."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise CourseError(f"`nbgrader {' '.join(args)}` failed:\n{tail}")
    return proc


def ensure_in_gradebook(root: Path, assignment: str, log=print) -> None:
    """Record the assignment's cells in the gradebook (as generate_assignment does) if missing."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url(root)) as gb:
        try:
            a = gb.find_assignment(assignment)
            if a.notebooks:
                return
        except MissingEntry:
            pass
    if not (root / "source" / assignment).is_dir():
        raise CourseError(f"no assignment {assignment!r}: source/{assignment}/ does not exist")
    log(f"recording {assignment} in the gradebook (nbgrader generate_assignment) ...")
    with tempfile.TemporaryDirectory() as tmp:
        nbgrader_command(root, "generate_assignment", assignment, "--force",
                         f"--CourseDirectory.release_directory={tmp}")


def load_assignment(root: Path, assignment: str) -> AssignmentSpec:
    """Read the assignment's notebooks, grade cells and locked cells from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    release = root / "release" / assignment
    with Gradebook(db_url(root)) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise CourseError(f"assignment {assignment!r} is not in the gradebook") from None
        specs = {}
        for nb in a.notebooks:
            solution_ids = {c.name for c in nb.solution_cells}
            sources = {c.name: c for c in nb.source_cells}
            order = _cell_order(release / f"{nb.name}.ipynb", root / "source" / assignment / f"{nb.name}.ipynb")
            rank = {gid: i for i, gid in enumerate(order)}
            cells = sorted(nb.grade_cells, key=lambda c: (rank.get(c.name, len(rank)), c.name))
            grade_cells = [GradeCell(c.name, float(c.max_score), c.name not in solution_ids) for c in cells]
            locked = {name: (c.cell_type, c.source) for name, c in sources.items() if c.locked}
            specs[nb.name] = NotebookSpec(nb.name, grade_cells, locked, order or sorted(sources))
    if not specs:
        raise CourseError(f"assignment {assignment!r} has no notebooks in the gradebook")
    return AssignmentSpec(assignment, dict(sorted(specs.items())))


def _cell_order(*paths: Path) -> list:
    from autograder.course import notebooks

    for path in paths:
        if path.is_file():
            nb = notebooks.read(path)
            return [notebooks.nbgrader_meta(c).get("grade_id") for c in nb.cells
                    if notebooks.nbgrader_meta(c).get("grade_id")]
    return []
