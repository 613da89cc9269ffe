"""``autograder student-template``: a student repository made from release/.

It holds the release notebooks, a README for students, ``check.py`` (the
public-test runner, self-contained), ``requirements.txt`` and a workflow that
runs the public tests on every push and reports their score in the job summary.
It holds no secret and refers to none: official grading is pulled by the course
(``autograder collect``) and returned to the ``feedback`` branch and the commit
status (``autograder return``). No answer key and no hidden test is ever copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder import course
from autograder.commands import check

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
REQUIREMENTS = "numpy>=1.24\nmatplotlib>=3.7\njupyterlab>=4\nnbclient>=0.9\nnbformat>=5.9\nipykernel>=6.25\n"


def run(assignment: str, dest: Path, root: Path | None = None, echo=print) -> Path:
    root = root or course.find_root()
    release = root / "release" / assignment
    notebooks = sorted(release.glob("*.ipynb"))
    if not notebooks:
        raise course.CourseError(f"no release notebooks in {release}: run `autograder generate {assignment}` first")
    course.make_folder(dest, "DEST", empty=True)
    for nb in notebooks:
        shutil.copy2(nb, dest / nb.name)
    shutil.copy2(Path(check.__file__), dest / "check.py")
    (dest / "requirements.txt").write_text(REQUIREMENTS)
    (dest / "README.md").write_text((TEMPLATES / "student_README.md").read_text().replace("{assignment}", assignment))
    wf = dest / ".github" / "workflows"
    wf.mkdir(parents=True, exist_ok=True)
    (wf / "check.yml").write_text((TEMPLATES / "student_check.yml").read_text().replace("{assignment}", assignment))
    (dest / ".gitignore").write_text(".venv/\n.ipynb_checkpoints/\n__pycache__/\n")
    echo(f"wrote a student template for {assignment} to {dest} ({len(notebooks)} notebooks)")
    return dest


def add_arguments(p) -> None:
    p.add_argument("assignment", help="assignment name, e.g. exam22")
    p.add_argument("dest", help="folder to create")


def from_args(args) -> int:
    run(args.assignment, Path(args.dest))
    return 0
