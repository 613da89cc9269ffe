"""The pull loop's cycle with one changed submission, against a full regrade of the same class, in one run.

Fabricates N student repositories (bare, ``file://``; correct / one task wrong /
stub in turn) for one assignment of a scratch course, then times, each step as
its command (``python -m autograder.cli``):

  1. a first cycle: everyone is new (collect, grade, return, publish);
  2. a cycle on a fresh runner (the record restored from the ``grades`` branch) in
     which one student changed one notebook: collect, grade (reuse), return, publish;
  3. a full regrade of the same N submissions (``grade --force``);
  4. the cycle of 2 as one command, ``autograder cycle`` (another student changed): one process,
     whose first grading zygote warms up while collect runs;

2, 4 and 3 in ``--rounds`` interleaved rounds (other students change in each), because the
machines are noisy; it prints the seconds of each step (minimum and median) and the ratios
full regrade / cycle of the medians (and of the minimums), for the four commands and for the one.

    python bench/pull_cycle.py [--students 200] [--assignment exam22] [--jobs 2] [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
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

from grading_throughput import scratch_course  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@x",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git(*args, cwd=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True,
                          capture_output=True, text=True).stdout.strip()


def push_folder(folder: Path, bare: Path) -> None:
    if not bare.exists():
        git("init", "-q", "--bare", "-b", "main", str(bare))
    if not (folder / ".git").exists():
        git("init", "-q", "-b", "main", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-q", "-m", "work", cwd=folder)
    git("push", "-q", "-f", str(bare), "HEAD:refs/heads/main", cwd=folder)


def step(label: str, cmd: list, cwd: Path, times: dict) -> str:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, cmd)], cwd=cwd, capture_output=True,
                          text=True)
    times[label] = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def cycle(work: Path, n: int, args, roster: Path, course_bare: Path, url: str) -> tuple[dict, dict]:
    run = work / f"cycle{n}"
    run.mkdir()
    has_grades = subprocess.run(["git", "rev-parse", "-q", "--verify", "refs/heads/grades"], cwd=course_bare,
                                capture_output=True).returncode == 0
    if has_grades:
        git("clone", "-q", "--depth", "1", "--branch", "grades", f"file://{course_bare}", str(run / "record"))
    out = run / "record" / args.assignment
    times, lines = {}, {}
    pull = ["--org", "bench", "--url-template", url]
    lines["collect"] = step("collect", ["collect", roster, "--assignment", args.assignment, "--dest",
                                        run / "submitted", "--record", out, *pull], work, times)
    lines["grade"] = step("grade", ["grade", run / "submitted", "--assignment", args.assignment, "--out", out,
                                    "--jobs", args.jobs], work, times)
    lines["return"] = step("return", ["return", out, "--roster", roster, *pull], work, times)
    lines["publish"] = step("publish", ["publish", out, "--to", f"file://{course_bare}"], work, times)
    return times, lines


def one_command(work: Path, n: int, args, roster: Path, course_bare: Path, url: str) -> tuple[float, str]:
    """The same cycle as one command, ``autograder cycle``, on a fresh runner: (seconds, its output)."""
    run = work / f"one{n}"
    run.mkdir()
    git("clone", "-q", "--depth", "1", "--branch", "grades", f"file://{course_bare}", str(run / "record"))
    times = {}
    out = step("cycle", ["cycle", roster, "--assignment", args.assignment, "--record", run / "record" / args.assignment,
                         "--dest", run / "submitted", "--org", "bench", "--url-template", url, "--publish-to",
                         f"file://{course_bare}", "--jobs", args.jobs], work, times)
    return times["cycle"], out


def change_one(work: Path, repos: Path, names: list, assignment: str, student: str) -> None:
    """``student`` changes one notebook (back to the stub) and pushes."""
    folder = work / "submitted" / student / assignment
    shutil.copy2(work / "release" / assignment / f"{names[0]}.ipynb", folder / f"{names[0]}.ipynb")
    push_folder(folder, repos / f"{assignment}-{student}.git")


def last_line(text: str, start: str) -> str:
    return next((line for line in reversed(text.splitlines()) if line.startswith(start)), "?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--assignment", default="exam22")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of (a cycle in which one student changed, a full regrade), interleaved "
                             "(default %(default)s); the figures are their minimum and median")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR (a new folder) and keep it, to rerun or profile a step")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: exists already")
    with tempfile.TemporaryDirectory(prefix="autograder-bench-pull-") as tmp:
        work = Path(tmp) if args.keep is None else args.keep
        work.mkdir(parents=True, exist_ok=True)
        names = scratch_course(work, args.assignment, args.students)
        students = sorted(p.name for p in (work / "submitted").iterdir())
        repos = work / "repos"
        repos.mkdir()
        started = time.perf_counter()
        for s in students:
            push_folder(work / "submitted" / s / args.assignment, repos / f"{args.assignment}-{s}.git")
        print(f"{len(students)} student repositories x {len(names)} notebooks of {args.assignment} "
              f"(made in {time.perf_counter() - started:.1f} s); {os.cpu_count()} cores; grade --jobs {args.jobs}; "
              f"{'root: confined children' if os.geteuid() == 0 else 'not root: process isolation only'}")
        roster = work / "roster.csv"
        roster.write_text("student\n" + "\n".join(students) + "\n")
        course_bare = work / "course.git"
        git("init", "-q", "--bare", "-b", "main", str(course_bare))
        url = f"file://{repos}/{{assignment}}-{{student}}.git"
        first, first_lines = cycle(work, 1, args, roster, course_bare, url)
        seconds, fulls, ones = [], [], []
        for r in range(args.rounds):
            # one student changes one notebook (back to the stub): a different student each time
            change_one(work, repos, names, args.assignment, students[(2 * r) % len(students)])
            second, second_lines = cycle(work, r + 2, args, roster, course_bare, url)
            seconds.append(second)
            change_one(work, repos, names, args.assignment, students[(2 * r + 1) % len(students)])
            one, one_lines = one_command(work, r + 1, args, roster, course_bare, url)
            ones.append(one)
            # a full regrade of the same submissions (as they are now), nothing reused
            full_out = work / f"full{r + 1}"
            shutil.copytree(work / f"cycle{r + 2}" / "record" / args.assignment, full_out)
            full = {}
            full_lines = step("grade --force", ["grade", "submitted", "--assignment", args.assignment, "--out",
                                                full_out, "--jobs", args.jobs, "--force"], work, full)
            fulls.append(full["grade --force"])
            print(f"round {r + 1}/{args.rounds}: cycle {sum(second.values()):.2f} s "
                  f"({', '.join(f'{k} {v:.2f}' for k, v in second.items())}); as one command {one:.2f} s; "
                  f"full regrade {fulls[-1]:.1f} s", flush=True)
        print(f"\n{'step':<10} {'cycle 1 (all new)':>18} {'1 changed: min':>15} {'median':>8}")
        for label in ("collect", "grade", "return", "publish"):
            values = [second[label] for second in seconds]
            print(f"{label:<10} {first[label]:17.2f}s {min(values):14.2f}s {statistics.median(values):7.2f}s")
        totals = [sum(second.values()) for second in seconds]
        print(f"{'total':<10} {sum(first.values()):17.2f}s {min(totals):14.2f}s {statistics.median(totals):7.2f}s")
        regrade = statistics.median(fulls)
        print(f"\nfull regrade of the same {len(students)} (grade --force), {args.rounds} round(s): "
              f"min {min(fulls):.1f} s, median {regrade:.1f} s")
        print(f"a cycle with one changed student is {regrade / statistics.median(totals):.1f}x faster than the full "
              f"regrade (medians; {min(fulls) / min(totals):.1f}x by the minimums; "
              f"{regrade / statistics.median(s['grade'] for s in seconds):.1f}x for its grade step alone)")
        print(f"the same cycle as one command (autograder cycle): min {min(ones):.2f} s, median "
              f"{statistics.median(ones):.2f} s: {regrade / statistics.median(ones):.1f}x faster than the full "
              f"regrade (medians; {min(fulls) / min(ones):.1f}x by the minimums)")
        print("\nthe last cycle said:")
        print("  " + last_line(second_lines["collect"], "collect:"))
        print("  " + last_line(second_lines["grade"], "graded "))
        print("  " + last_line(second_lines["return"], "return:"))
        print("  " + last_line(second_lines["publish"], "publish:"))
        print("  " + last_line(one_lines, "cycle:") + "  (autograder cycle)")
        print("the last full regrade said:\n  " + last_line(full_lines, "graded "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
