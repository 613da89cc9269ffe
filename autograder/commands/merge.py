"""``autograder merge``: one grades.csv and summary.md from sharded grading runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder import report
from autograder.course import CourseError, make_folder


def run(shards: list[Path], out: Path, echo=print) -> list:
    reports, seen = [], {}
    for shard in shards:
        # an empty shard is a valid shard: `grade` writes an empty reports/ and a summary.md (and an
        # artifact upload may drop the empty folder, so summary.md alone also marks a grade output)
        if not ((shard / report.REPORTS).is_dir() or (shard / "summary.md").is_file()):
            raise CourseError(f"{shard}: not the output of `autograder grade` (no {report.REPORTS}/ folder)")
        try:
            shard_reports = report.load_reports(shard)
        except ValueError as exc:  # two files of one shard hold the same student
            raise CourseError(f"{shard}: {exc}") from None
        for rep in shard_reports:
            key = (rep["student"], rep["assignment"])
            if key in seen:
                raise CourseError(f"{rep['student']}/{rep['assignment']} appears in both {seen[key]} and {shard}")
            seen[key] = shard
            reports.append(rep)
    make_folder(out, "--out")
    _copy_without_overwriting(shards, out)
    report.write_class(out, reports)
    echo(f"merged {len(reports)} report(s) from {len(shards)} shard(s) into {out}")
    return reports


def _copy_without_overwriting(shards: list[Path], out: Path) -> None:
    """Copy every shard's reports and feedback into ``out``; a file two shards both hold is an error naming both."""
    copies = {}  # destination -> the shard it comes from
    for shard in shards:
        if shard.resolve() == out.resolve():
            continue
        for sub in (report.REPORTS, report.FEEDBACK):
            if not (shard / sub).is_dir():
                continue
            for src in sorted((shard / sub).rglob("*")):
                if src.is_dir():
                    continue
                dest = out / src.relative_to(shard)
                if dest in copies:
                    raise CourseError(f"{src.relative_to(shard)} is in both {copies[dest]} and {shard}: "
                                      "shards must not overlap")
                copies[dest] = shard
    for dest, shard in copies.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shard / dest.relative_to(out), dest)


def add_arguments(p) -> None:
    p.add_argument("shards", nargs="+", help="output folders of `grade --shard`")
    p.add_argument("--out", required=True, help="folder for the merged grades.csv and summary.md")


def from_args(args) -> int:
    run([Path(p) for p in args.shards], Path(args.out))
    return 0
