"""``autograder demo``: the end-to-end demonstration (the README's main job).

In a scratch copy of the course: release every assignment with stock
``nbgrader generate_assignment``, build four sample submissions from the
release notebooks, grade them officially (``autograder grade``), export the
gradebook with stock ``nbgrader export``, print the score table and the path
of one feedback page to open. The scratch course is ``demo-out/`` in the course
root (git-ignored), kept after the run and replaced by the next one.

Students: ``ada`` (full solution), ``bo`` (the untouched stub), ``cy``
(typical mistakes, one per task) and ``dee`` (broken: invalid JSON, a cell
that calls ``os._exit``, an infinite loop, a missing notebook; the rest solved).
"""

from __future__ import annotations

import inspect
import shutil
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


#: the demo's default folder, in the course root (git-ignored, replaced on each run)
DEMO_DIR = "demo-out"
#: a file that marks a folder as the demo's own, so that a rerun may replace it
MARKER = ".autograder-demo"


def _fresh_workdir(work: Path) -> None:
    """Make ``work`` an empty demo folder; replace it only if an earlier demo made it."""
    if work.exists():
        if not work.is_dir():
            raise course.CourseError(f"{work} is a file, not a folder: pass --workdir DIR")
        if any(work.iterdir()) and not (work / MARKER).is_file():
            raise course.CourseError(f"{work} is not empty and was not made by the demo: pass another --workdir")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / MARKER).write_text("made by `autograder demo`; replaced on its next run\n")


def feedback_page(work: Path, reports: list, student: str = "cy") -> Path | None:
    """One feedback page worth opening: ``student``'s page of the first task they lost points on.

    Args:
        work: the demo course.
        reports: the reports of the run.
        student: whose page.

    Returns:
        The path of the page, or None when there is none.
    """
    for r in reports:
        if r["student"] != student:
            continue
        folder = work / "out" / r["assignment"] / "feedback" / student / r["assignment"]
        for nb in r.get("notebooks", []):
            page = folder / f"{nb.get('notebook', '')}.html"
            if nb.get("score", 0) < nb.get("max_score", 0) and page.is_file():
                return page
        pages = sorted(folder.glob("*.html"))
        if pages:
            return pages[0]
    return None


def run(workdir: Path | None = None, jobs: int = 2, root: Path | None = None, echo=print) -> int:
    """Run the demo in ``workdir`` (default: ``demo-out/`` in the course root, replaced, kept afterwards).

    Args:
        workdir: where to build the demo course; kept after the run.
        jobs: grading worker processes.
        root: the course root (default: found from the working directory).
        echo: where console lines go.

    Returns:
        0 when the solution got full marks and the stub zero, else 1.
    """
    root = root or course.find_root()
    started = time.monotonic()
    work = Path(workdir if workdir is not None else root / DEMO_DIR).resolve()
    _fresh_workdir(work)
    echo(f"demo course in {work} (kept after the run, replaced by the next demo)")
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
    page = feedback_page(work, all_reports)
    if page is not None:
        echo(f"\nopen one feedback page (student cy, a typical mistake) in a browser:\n  {page.as_uri()}")
    return 0 if ok else 1


def add_arguments(p) -> None:
    p.add_argument("--workdir", help=f"where to build the demo course, kept afterwards (default: {DEMO_DIR}/ in "
                   "the course root, replaced on each run)")
    jobs = inspect.signature(run).parameters["jobs"].default
    p.add_argument("--jobs", type=int, default=jobs, help=f"parallel grading processes (default {jobs})")


def from_args(args) -> int:
    return run(Path(args.workdir) if args.workdir else None, jobs=args.jobs)
