"""``autograder generate``: release/ (stock nbgrader) and solutions/ from source/.

* ``release/<assignment>/``: ``nbgrader generate_assignment`` (which also records
  the cells in the gradebook), then normalised for clean diffs.
* ``solutions/<assignment>/``: each source notebook with its solutions kept,
  solution markers and hidden tests removed, executed (plots visible).
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograder import course
from autograder.course import notebooks


def solution_notebook(nb):
    """The published solution: markers and hidden tests removed, nothing else changed."""
    nb = notebooks.read_copy(nb)
    for cell in nb.cells:
        lines = [l for l in cell.source.splitlines() if not notebooks.SOLUTION_MARKER.match(l)]
        cell.source = notebooks.strip_hidden("\n".join(lines))
    return nb


def execute(nb, cwd: Path, timeout: int = 300):
    from nbclient import NotebookClient

    from autograder.commands.check import kernel_options

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                            **kernel_options())
    client.execute()
    return nb


def run(assignments=None, *, solutions: bool = True, root: Path | None = None, echo=print) -> None:
    root = root or course.find_root()
    names = assignments or sorted(p.name for p in (root / "source").iterdir() if p.is_dir())
    for name in names:
        src = root / "source" / name
        if not src.is_dir():
            raise course.CourseError(f"no assignment {name!r}: {src} does not exist")
        echo(f"{name}: nbgrader generate_assignment ...")
        course.nbgrader_command(root, "generate_assignment", name, "--force")
        for path in sorted((root / "release" / name).glob("*.ipynb")):
            notebooks.write(notebooks.normalize(notebooks.read(path)), path)
        if solutions:
            out = root / "solutions" / name
            out.mkdir(parents=True, exist_ok=True)
            for path in sorted(src.glob("*.ipynb")):
                echo(f"{name}: executing the solution of {path.stem} ...")
                nb = execute(solution_notebook(notebooks.read(path)), out)
                notebooks.write(notebooks.normalize(nb, keep_outputs=True), out / path.name)
    echo("done: release/ and solutions/ are up to date")


def add_arguments(p) -> None:
    p.add_argument("assignments", nargs="*", help="assignments (default: all in source/)")
    p.add_argument("--no-solutions", action="store_true", help="skip executing the solution notebooks")


def from_args(args) -> int:
    run(args.assignments or None, solutions=not args.no_solutions)
    return 0


if __name__ == "__main__":
    run(sys.argv[1:] or None)
