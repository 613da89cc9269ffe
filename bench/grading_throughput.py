"""Grading throughput: the in-process limit, `autograder grade` and stock `nbgrader autograde`, in one run.

Fabricates N students' submissions of one assignment in a scratch course (a
mix: correct, one task wrong (a known mutant), untouched stub), then times, in
interleaved rounds (each round runs every command once, so a noisy machine
hits all of them alike), each as a fresh process:

  1. the in-process limit: one plain Python process that runs the same student
     cells and the same checks, with no sandbox and no codec (``--limit`` mode);
  2. `autograder grade --jobs 1` and 3. `--jobs 2` (``--force``: everyone graded);
  4. one student cold: `autograder grade submitted/<one student>` (6 notebooks);
  5. stock `nbgrader autograde` (serial; the hidden checks run in-kernel), in the first round only.

It checks that every run gives every student the same score (manual cells
excluded) and that the reports of ``--jobs 1`` and ``--jobs 2`` agree test by
test, then prints the minimum and median seconds of each, seconds per
notebook, the grader's ratio to the limit and stock nbgrader's ratio to the grader.

    python bench/grading_throughput.py [--students 12] [--repeats 3] [--assignment exam22] [--no-stock]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import course as course_mod  # noqa: E402
from autograder.course import notebooks, submissions  # noqa: E402


def fabricate(work: Path, assignment: str, students: int) -> list[str]:
    release, source = work / "release" / assignment, work / "source" / assignment
    names = sorted(p.stem for p in release.glob("*.ipynb"))
    kinds = []
    for k in range(students):
        student = f"s{k:03d}"
        kind = ("correct", "wrong", "stub")[k % 3]
        kinds.append(kind)
        for i, name in enumerate(names):
            rel = notebooks.read(release / f"{name}.ipynb")
            if kind == "stub":
                nb = rel
            else:
                replace = None
                if kind == "wrong" and i == k % len(names):
                    mutants = list(submissions.mutants(ROOT, name).values())
                    replace = mutants[k % len(mutants)]["cells"] if mutants else None
                nb = submissions.solved(rel, notebooks.read(source / f"{name}.ipynb"), replace)
            submissions.write(nb, work / "submitted" / student / assignment / f"{name}.ipynb")
    return names


def scratch_course(work: Path, assignment: str, students: int) -> list[str]:
    """A scratch course in ``work``: the source, the assignment released by stock nbgrader, ``students``
    fabricated submissions (see :func:`fabricate`); returns the notebooks' names."""
    shutil.copy2(ROOT / "nbgrader_config.py", work)
    shutil.copytree(ROOT / "source", work / "source")
    course_mod.nbgrader_command(work, "generate_assignment", assignment, "--force")
    return fabricate(work, assignment, students)


def timed(cmd, cwd: Path) -> float:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def limit(work: Path, assignment: str, out: Path) -> None:
    """The in-process limit: every notebook's cells and checks in this one process; scores to ``out`` (JSON)."""
    import contextlib
    import io

    from autograder import tasks
    from autograder.bridge import protocol
    from autograder.grading.checking import Student, checks_of, seed_for
    from autograder.grading.pipeline import Limits, prepare

    spec = course_mod.load_assignment(work, assignment)
    checks = {name: checks_of(tasks.load(name)) for name in spec.notebooks}
    scores = {}
    for folder in sorted((work / "submitted").iterdir()):
        total = 0.0
        for name, nb in spec.notebooks.items():
            prepared = prepare(folder / assignment / f"{name}.ipynb", nb, Limits())
            namespace = {"__name__": "__main__"}
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                for _, source in prepared.cells:
                    try:
                        exec(compile(source, name, "exec"), namespace)  # noqa: S102 - the bench's own fabrications
                    except BaseException:  # noqa: BLE001 - a stub raises NotImplementedError
                        pass
                for cell in nb.grade_cells:
                    fn = checks[name].get(cell.grade_id)
                    if not cell.auto or fn is None:
                        continue
                    student = Student(lambda request, ns=namespace: protocol.serve(ns, request),
                                      seed=seed_for(name, cell.grade_id))
                    try:
                        fn(student)
                        total += cell.points
                    except Exception:  # noqa: BLE001 - a failed check
                        pass
        scores[folder.name] = total
    out.write_text(json.dumps(scores))


def stock_scores(work: Path, assignment: str) -> dict:
    course_mod.nbgrader_command(work, "export", "--to", str(work / "stock.csv"))
    return {r["student_id"]: float(r["score"]) for r in csv.DictReader((work / "stock.csv").open())
            if r["assignment"] == assignment}


def our_scores(out: Path) -> dict:
    return {r["student"]: float(r["total"]) for r in csv.DictReader((out / "grades.csv").open())}


def verdicts(out: Path) -> dict:
    """student -> every notebook's status and every test's (status, points, message): what a grade is made of."""
    found = {}
    for path in sorted((out / "reports").rglob("*.json")):
        rep = json.loads(path.read_text())
        found[rep["student"]] = [(r["notebook"], r["status"], r["score"],
                                  [(t["grade_id"], t["status"], t["points"], t["message"]) for t in r["tests"]])
                                 for r in rep["notebooks"]]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--assignment", default="exam22")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--no-stock", action="store_true", help="skip stock nbgrader (slow: ~2 s a notebook)")
    parser.add_argument("--limit", nargs=2, metavar=("COURSE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.limit:
        limit(Path(args.limit[0]), args.assignment, Path(args.limit[1]))
        return 0
    with tempfile.TemporaryDirectory(prefix="autograder-bench-") as tmp:
        work = Path(tmp)
        names = scratch_course(work, args.assignment, args.students)
        n = args.students * len(names)
        print(f"{args.students} students x {len(names)} notebooks = {n} notebooks of {args.assignment} "
              f"(correct / one task wrong / stub, in turn); {os.cpu_count()} cores; "
              f"{'root: confined children' if os.geteuid() == 0 else 'not root: process isolation only'}; "
              f"{args.repeats} interleaved round(s)")
        py = sys.executable
        grade = [py, "-m", "autograder.cli", "grade"]
        one = sorted((work / "submitted").iterdir())[0]
        commands = {
            "in-process limit": ([py, str(Path(__file__).resolve()), "--assignment", args.assignment,
                                  "--limit", str(work), str(work / "limit.json")], n),
            "autograder grade --jobs 1": ([*grade, "submitted", "--assignment", args.assignment, "--out", "out1",
                                           "--jobs", "1", "--force"], n),
            "autograder grade --jobs 2": ([*grade, "submitted", "--assignment", args.assignment, "--out", "out2",
                                           "--jobs", "2", "--force"], n),
            "one student cold (--jobs 2)": ([*grade, str(one.relative_to(work)), "--assignment", args.assignment,
                                             "--out", "out-one", "--jobs", "2", "--force"], len(names)),
        }
        times = {label: [] for label in commands}
        if not args.no_stock:
            times["stock nbgrader autograde"] = []
        for round_ in range(args.repeats):
            order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
            for label in order:
                times[label].append(timed(commands[label][0], work))
            if round_ == 0 and not args.no_stock:
                times["stock nbgrader autograde"].append(
                    timed([py, "-m", "nbgrader", "autograde", args.assignment, "--force"], work))
        counts = {label: c for label, (_, c) in commands.items()}
        counts["stock nbgrader autograde"] = n
        results = {1: our_scores(work / "out1"), 2: our_scores(work / "out2")}
        lim = {s: float(v) for s, v in json.loads((work / "limit.json").read_text()).items()}
        agree = results[1] == results[2] == lim
        if not args.no_stock:
            stock = stock_scores(work, args.assignment)
            agree = agree and all(abs(stock[s] - results[1][s]) < 1e-9 for s in results[1])
        same_reports = verdicts(work / "out1") == verdicts(work / "out2")
        same_one = verdicts(work / "out-one")[one.name] == verdicts(work / "out1")[one.name]
        med = {label: statistics.median(v) for label, v in times.items()}
        print(f"\n{'run':<30} {'min s':>7} {'median s':>9} {'s/notebook':>11}   (median; notebooks)")
        for label, v in times.items():
            print(f"{label:<30} {min(v):7.2f} {med[label]:9.2f} {med[label] / counts[label]:11.4f}   ({counts[label]})")
        base = med["in-process limit"]
        for jobs in (1, 2):
            print(f"grader --jobs {jobs} / in-process limit: {med[f'autograder grade --jobs {jobs}'] / base:.2f}x")
        if not args.no_stock:
            print(f"stock nbgrader / autograder grade --jobs 2: "
                  f"{med['stock nbgrader autograde'] / med['autograder grade --jobs 2']:.1f}x")
        print(f"\nscores agree across the runs (limit, jobs 1, jobs 2{'' if args.no_stock else ', stock'}): "
              f"{'yes' if agree else 'NO'}; reports of jobs 1 and jobs 2 agree test by test: "
              f"{'yes' if same_reports else 'NO'}; the cold student's too: {'yes' if same_one else 'NO'}")
        if not agree:
            for s in sorted(results[1]):
                print(f"  {s}: limit {lim.get(s)} | jobs1 {results[1][s]} | jobs2 {results[2].get(s)}"
                      + ("" if args.no_stock else f" | stock {stock.get(s)}"))
        return 0 if agree and same_reports and same_one else 1


if __name__ == "__main__":
    sys.exit(main())
