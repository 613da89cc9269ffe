"""The course as nbgrader sees it: directories, gradebook, assignment layout.

Importing this package needs only the standard library (nbgrader and nbformat
are imported where they are used), so that every wing may raise :class:`CourseError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path


class CourseError(Exception):
    """A problem with the course or the arguments: printed as is, exit status 2."""


#: the optional modules ``jsonschema._format`` imports for format checks nbformat never runs
#: (about 0.1 s at import; ``rfc3987_syntax`` alone builds about 40 parsers)
_FORMAT_MODULES = frozenset({"rfc3987_syntax", "rfc3987", "rfc3986_validator", "rfc3339_validator", "isoduration",
                             "webcolors", "jsonpointer", "uri_template", "fqdn", "idna"})


class _NoFormatCheckers:
    """Keeps ``jsonschema._format`` from importing the optional modules of its format checkers.

    nbformat validates notebooks with jsonschema's Draft 4 validator and no format checker, so
    the checks jsonschema builds from those modules (``iri``, ``duration``, ``color`` ...) are
    never used: validation is unchanged. Only imports made by ``jsonschema._format`` itself are
    refused; anything else may import these modules.
    """

    def find_spec(self, name, path=None, target=None):
        if name not in _FORMAT_MODULES:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen")):
            frame = frame.f_back
        if frame is None or frame.f_globals.get("__name__") != "jsonschema._format":
            return None
        raise ModuleNotFoundError(f"{name}: not needed to validate notebooks", name=name)


if "jsonschema" not in sys.modules and not any(isinstance(f, _NoFormatCheckers) for f in sys.meta_path):
    sys.meta_path.insert(0, _NoFormatCheckers())


def not_a_file(path: Path, what: str) -> None:
    """Refuse (one line) a path given for a folder that is a file.

    Args:
        path: the folder a command was given.
        what: how the command line names it, e.g. ``--out`` (for the message).

    Raises:
        CourseError: ``path`` exists and is not a folder.
    """
    if os.path.lexists(path) and not Path(path).is_dir():
        raise CourseError(f"{what} {path}: is a file, not a folder")


def make_folder(path: Path, what: str, *, empty: bool = False) -> Path:
    """Make the folder ``path`` (and its parents) for a command's output, or say in one line why not.

    Args:
        path: the folder.
        what: how the command line names it, e.g. ``--out`` (for the message).
        empty: it must be new or empty (a folder the command fills from nothing).

    Returns:
        ``path``.

    Raises:
        CourseError: it is a file, lies under a file, is not empty (``empty``), or cannot be made.
    """
    path = Path(path)
    not_a_file(path, what)
    if empty and path.is_dir() and any(path.iterdir()):
        raise CourseError(f"{what} {path}: exists and is not empty")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CourseError(f"{what} {path}: cannot make the folder ({exc.strerror or exc})") from None
    return path


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


def _path_with_our_bin(path: str | None) -> str:
    """``PATH`` with the running interpreter's bin/ first: nbgrader runs ``alembic`` (and itself) from PATH."""
    return os.path.dirname(sys.executable) + os.pathsep + (path or os.defpath)


@contextlib.contextmanager
def _our_bin_on_path():
    old = os.environ.get("PATH")
    os.environ["PATH"] = _path_with_our_bin(old)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = old


def _half_made(path: Path) -> bool:
    """A gradebook that nbgrader's start-up left without its ``alembic_version`` table (it crashed)."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    return bool(names) and "alembic_version" not in names


def ensure_gradebook(root: Path) -> None:
    """Make ``gradebook.db`` if it does not exist, whole or not at all.

    nbgrader's gradebook start-up creates the tables, then runs ``alembic`` from ``PATH`` to
    stamp the schema version; from a fresh clone, with only ``.venv/bin/autograder`` called
    (``sudo`` resets PATH), that fails and leaves a half-made file. Here the interpreter's bin/
    is put on PATH, the gradebook is built in a temporary file beside it and moved into place,
    and a half-made one from an earlier crash is completed (its version stamped).

    Args:
        root: the course root.
    """
    path = root / "gradebook.db"
    if path.exists() and not _half_made(path):
        return  # the usual case: nbgrader's API (about a second of imports) is not needed
    from nbgrader.api import Gradebook, get_alembic_version

    with _our_bin_on_path():
        if path.exists():
            if _half_made(path):
                import sqlite3

                version = get_alembic_version()
                with contextlib.closing(sqlite3.connect(path)) as con, con:
                    con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
                    con.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (version,))
            return
        fd, tmp = tempfile.mkstemp(prefix=".gradebook-", suffix=".db", dir=root)
        os.close(fd)
        os.unlink(tmp)  # nbgrader must see no database, to stamp the version
        try:
            Gradebook(f"sqlite:///{tmp}").close()
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def nbgrader_command(root: Path, *args: str, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run a stock nbgrader command in the course root (its venv's bin/ on PATH)."""
    env = dict(os.environ)
    env["PATH"] = _path_with_our_bin(env.get("PATH"))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise CourseError(f"`nbgrader {' '.join(args)}` failed:\n{tail}")
    return proc


def ensure_in_gradebook(root: Path, assignment: str, log=print) -> None:
    """Record the assignment's cells in the gradebook (as generate_assignment does) if missing."""
    ensure_gradebook(root)
    if read_assignment(root, assignment):
        return
    if not (root / "source" / assignment).is_dir():
        raise CourseError(f"no assignment {assignment!r}: source/{assignment}/ does not exist")
    log(f"recording {assignment} in the gradebook (nbgrader generate_assignment) ...")
    with tempfile.TemporaryDirectory() as tmp:
        nbgrader_command(root, "generate_assignment", assignment, "--force",
                         f"--CourseDirectory.release_directory={tmp}")


def read_assignment(root: Path, assignment: str) -> dict:
    """The assignment's notebooks and cells as the gradebook holds them, read with ``sqlite3`` alone.

    nbgrader's own API costs almost a second of imports; reading its tables needs none of it.
    ``tests/test_grading_speed.py`` checks that this reads what ``nbgrader.api`` reads.

    Args:
        root: the course root (its ``gradebook.db``).
        assignment: the assignment's name.

    Returns:
        ``{notebook: {"grade": [(name, max_score)], "solution": {names}, "source": {name: (cell_type,
        locked, source)}}}``; ``{}`` when the gradebook or the assignment is missing or has no notebook.
    """
    import sqlite3

    path = root / "gradebook.db"
    if not path.is_file():
        return {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = con.execute("SELECT id FROM assignment WHERE name = ?", (assignment,)).fetchone()
        if found is None:
            return {}
        nbs = {}
        for nb_id, name in con.execute("SELECT id, name FROM notebook WHERE assignment_id = ?", (found[0],)):
            grade = con.execute("SELECT b.name, g.max_score FROM base_cell b JOIN grade_cells g ON g.id = b.id "
                                "WHERE b.notebook_id = ?", (nb_id,)).fetchall()
            solution = {r[0] for r in con.execute("SELECT b.name FROM base_cell b JOIN solution_cells s "
                                                  "ON s.id = b.id WHERE b.notebook_id = ?", (nb_id,))}
            source = {r[0]: (r[1], bool(r[2]), r[3]) for r in con.execute(
                "SELECT name, cell_type, locked, source FROM source_cell WHERE notebook_id = ?", (nb_id,))}
            nbs[name] = {"grade": grade, "solution": solution, "source": source}
        return nbs
    finally:
        con.close()


def load_assignment(root: Path, assignment: str) -> AssignmentSpec:
    """Read the assignment's notebooks, grade cells and locked cells from the gradebook."""
    release = root / "release" / assignment
    specs = {}
    for name, nb in read_assignment(root, assignment).items():
        order = _cell_order(release / f"{name}.ipynb", root / "source" / assignment / f"{name}.ipynb")
        rank = {gid: i for i, gid in enumerate(order)}
        cells = sorted(nb["grade"], key=lambda c: (rank.get(c[0], len(rank)), c[0]))
        grade_cells = [GradeCell(gid, float(points), gid not in nb["solution"]) for gid, points in cells]
        locked = {gid: (kind, src) for gid, (kind, is_locked, src) in nb["source"].items() if is_locked}
        specs[name] = NotebookSpec(name, grade_cells, locked, order or sorted(nb["source"]))
    if not specs:
        raise CourseError(f"assignment {assignment!r} is not in the gradebook or has no notebooks")
    return AssignmentSpec(assignment, dict(sorted(specs.items())))


def _cell_order(*paths: Path) -> list:
    from autograder.course import notebooks

    for path in paths:
        if path.is_file():
            nb = notebooks.read(path)
            return [notebooks.nbgrader_meta(c).get("grade_id") for c in nb.cells
                    if notebooks.nbgrader_meta(c).get("grade_id")]
    return []
