"""Grading throughput: stock `nbgrader autograde` against `autograder grade`, in one run.

Fabricates N students' submissions of one assignment in a scratch course (a
mix: correct, one task wrong (a known mutant), untouched stub), then times

  1. stock `nbgrader autograde` (serial; the hidden checks run in-kernel),
  2. `autograder grade --jobs 1`,
  3. `autograder grade --jobs 2`,

checks that all three give every student the same score (manual cells
excluded), and prints seconds per notebook and the ratios.

    python bench/grading_throughput.py [--students 12] [--assignment exam22]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
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


def timed(cmd, cwd: Path) -> float:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def stock_scores(work: Path, assignment: str) -> dict:
    course_mod.nbgrader_command(work, "export", "--to", str(work / "stock.csv"))
    return {r["student_id"]: float(r["score"]) for r in csv.DictReader((work / "stock.csv").open())
            if r["assignment"] == assignment}


def our_scores(out: Path) -> dict:
    return {r["student"]: float(r["total"]) for r in csv.DictReader((out / "grades.csv").open())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--assignment", default="exam22")
    parser.add_argument("--no-stock", action="store_true",
                        help="skip stock nbgrader (to measure --jobs scaling on big classes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autograder-bench-") as tmp:
        work = Path(tmp)
        shutil.copy2(ROOT / "nbgrader_config.py", work)
        shutil.copytree(ROOT / "source", work / "source")
        course_mod.nbgrader_command(work, "generate_assignment", args.assignment, "--force")
        names = fabricate(work, args.assignment, args.students)
        n = args.students * len(names)
        print(f"{args.students} students x {len(names)} notebooks = {n} notebooks of {args.assignment} "
              f"(correct / one task wrong / stub, in turn); {os.cpu_count()} cores; "
              f"{'root: confined children' if os.geteuid() == 0 else 'not root: process isolation only'}")
        py = sys.executable
        runs = {}
        if not args.no_stock:
            stock_cmd = [py, "-m", "nbgrader", "autograde", args.assignment, "--force"]
            runs["stock nbgrader autograde"] = timed(stock_cmd, work)
            stock = stock_scores(work, args.assignment)
        results = {}
        for jobs in (1, 2):
            out = work / f"out{jobs}"
            label = f"autograder grade --jobs {jobs}"
            runs[label] = timed([py, "-m", "autograder.cli", "grade", "submitted", "--assignment", args.assignment,
                                 "--out", str(out), "--jobs", str(jobs), "--no-gradebook"], work)
            results[jobs] = our_scores(out)
        spec = course_mod.load_assignment(work, args.assignment)
        manual = sum(c.points for nb in spec.notebooks.values() for c in nb.grade_cells if not c.auto)
        stock_agrees = args.no_stock or all(abs(stock[s] - results[1][s]) < 1e-9 for s in results[1])
        agree = results[1] == results[2] and stock_agrees
        base = runs.get("stock nbgrader autograde", runs["autograder grade --jobs 1"])
        versus = "vs jobs 1" if args.no_stock else "vs stock"
        print(f"\n{'run':<28} {'seconds':>8} {'s/notebook':>11} {'throughput ' + versus:>20}")
        for label, seconds in runs.items():
            print(f"{label:<28} {seconds:8.1f} {seconds / n:11.3f} {base / seconds:19.2f}x")
        print(f"\nscores agree across the runs: {'yes' if agree else 'NO'} "
              f"(manually graded points, {manual:g} per student, are excluded by all)")
        if not agree:
            for s in sorted(results[1]):
                print(f"  {s}: stock {None if args.no_stock else stock.get(s)} | jobs1 {results[1][s]} "
                      f"| jobs2 {results[2].get(s)}")
        return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
