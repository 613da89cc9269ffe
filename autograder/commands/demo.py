"""``autograder demo``: the end-to-end demonstration (the README's main job).

In a scratch copy of the course: release every assignment with stock
``nbgrader generate_assignment``, build four sample submissions from the
release notebooks, grade them officially (``autograder grade``), export the
gradebook with stock ``nbgrader export``, and print the score table.

Students: ``ada`` (full solution), ``bo`` (the untouched stub), ``cy``
(typical mistakes, one per task) and ``dee`` (broken: invalid JSON, a cell
that calls ``os._exit``, an infinite loop, a missing notebook; the rest solved).
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
import time
from pathlib import Path

from autograder import course, report
from autograder.commands import grade
from autograder.course import notebooks, submissions


def _copy_course(root: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", work / "nbgrader_config.py")
    shutil.copytree(root / "source", work / "source", dirs_exist_ok=True)
    (work / "tests").mkdir(exist_ok=True)
    if (root / "tests" / "mutants").is_dir():
        shutil.copytree(root / "tests" / "mutants", work / "tests" / "mutants", dirs_exist_ok=True)


def build_submissions(work: Path, assignment: str) -> list[str]:
    release = work / "release" / assignment
    source = work / "source" / assignment
    names = sorted(p.stem for p in release.glob("*.ipynb"))
    sub = work / "submitted"
    for i, name in enumerate(names):
        rel = notebooks.read(release / f"{name}.ipynb")
        src = notebooks.read(source / f"{name}.ipynb")
        submissions.write(submissions.solved(rel, src), sub / "ada" / assignment / f"{name}.ipynb")
        submissions.write(rel, sub / "bo" / assignment / f"{name}.ipynb")
        mutant = next(iter(submissions.mutants(work, name).values()), None)
        wrong = submissions.solved(rel, src, mutant["cells"] if mutant else None)
        submissions.write(wrong, sub / "cy" / assignment / f"{name}.ipynb")
        broken = submissions.solved(rel, src)
        target = sub / "dee" / assignment / f"{name}.ipynb"
        kind = i % 4
        if kind == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(notebooks.dumps(broken)[: 200])  # truncated: invalid JSON
            continue
        if kind == 1:
            broken.cells.insert(1, notebooks.code("import os\nos._exit(1)"))
        elif kind == 2:
            broken.cells.insert(1, notebooks.code("while True:\n    pass"))
        else:
            continue  # missing notebook
        submissions.write(broken, target)
    return names


def run(workdir: Path | None = None, jobs: int = 2, root: Path | None = None, echo=print) -> int:
    root = root or course.find_root()
    started = time.monotonic()
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="autograder-demo-")
        workdir = Path(tmp.name)
    work = Path(workdir).resolve()
    echo(f"demo course in {work}")
    _copy_course(root, work)
    assignments = sorted(p.name for p in (work / "source").iterdir() if p.is_dir())
    all_reports = []
    for assignment in assignments:
        echo(f"\n== {assignment}: release (nbgrader generate_assignment)")
        course.nbgrader_command(work, "generate_assignment", assignment, "--force")
        names = build_submissions(work, assignment)
        echo(f"   {len(names)} notebooks; sample submissions: ada (solution), bo (stub), cy (mistakes), dee (broken)")
        echo(f"== {assignment}: official grading (autograder grade --jobs {jobs})")
        all_reports += grade.run(work / "submitted", assignment, work / "out" / assignment, jobs=jobs,
                                 root=work, echo=lambda m: echo("   " + m))
    course.nbgrader_command(work, "export")
    exported = (work / "grades.csv").read_text().count("\n") - 1
    echo("\n" + report.table_text(all_reports))
    echo(f"stock `nbgrader export` wrote {exported} rows to {work / 'grades.csv'}")
    echo("(autograded points; written answers are graded by hand in nbgrader's formgrader)")
    echo(f"reports and feedback: {work / 'out'}  (demo took {time.monotonic() - started:.0f} s)")
    expected_full = {r["assignment"]: r["max_score"] for r in all_reports if r["student"] == "ada"}
    ok = all(r["score"] == expected_full[r["assignment"]] for r in all_reports if r["student"] == "ada") and \
        all(r["score"] == 0 for r in all_reports if r["student"] == "bo")
    echo("demo check: solution full marks, stub zero: " + ("OK" if ok else "FAILED"))
    if tmp is not None:
        echo("(the demo folder is temporary; pass --workdir DIR to keep it)")
        tmp.cleanup()
    return 0 if ok else 1


def add_arguments(p) -> None:
    p.add_argument("--workdir", help="where to build the demo course (default: a temporary folder)")
    jobs = inspect.signature(run).parameters["jobs"].default
    p.add_argument("--jobs", type=int, default=jobs, help=f"parallel grading processes (default {jobs})")


def from_args(args) -> int:
    return run(Path(args.workdir) if args.workdir else None, jobs=args.jobs)
