"""``autograder merge``: one grades.csv and summary.md from sharded grading runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder import report
from autograder.course import CourseError


def run(shards: list[Path], out: Path, echo=print) -> list:
    reports, seen = [], {}
    for shard in shards:
        if not (shard / report.REPORTS).is_dir():
            raise CourseError(f"{shard}: not the output of `autograder grade` (no {report.REPORTS}/ folder)")
        for rep in report.load_reports(shard):
            key = (rep["student"], rep["assignment"])
            if key in seen:
                raise CourseError(f"{rep['student']}/{rep['assignment']} appears in both {seen[key]} and {shard}")
            seen[key] = shard
            reports.append(rep)
    out.mkdir(parents=True, exist_ok=True)
    for shard in shards:
        for sub in (report.REPORTS, report.FEEDBACK):
            if (shard / sub).is_dir() and shard.resolve() != out.resolve():
                shutil.copytree(shard / sub, out / sub, dirs_exist_ok=True)
    report.write_class(out, reports)
    echo(f"merged {len(reports)} report(s) from {len(shards)} shard(s) into {out}")
    return reports


def add_arguments(p) -> None:
    p.add_argument("shards", nargs="+", help="output folders of `grade --shard`")
    p.add_argument("--out", required=True, help="folder for the merged grades.csv and summary.md")


def from_args(args) -> int:
    run([Path(p) for p in args.shards], Path(args.out))
    return 0
