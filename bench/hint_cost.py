"""What the hint search costs: the same notebooks graded with and without the misconception catalogues.

Fabricates N students of one assignment (correct / one task wrong (a known mutant) /
untouched stub, as ``grading_throughput.py`` does: each notebook is correct, wrong or a
stub), then grades every notebook in this
process through one confined zygote (as a grading worker does), in interleaved rounds:
once with each task's catalogue (hints searched after a failed check) and once without
(``misconceptions=None``). Prints, per kind of notebook, the median milliseconds per
notebook both ways and the difference, and checks that the verdicts are the same both
ways (hints never change a grade).

    python bench/hint_cost.py [--students 12] [--repeats 3] [--assignment exam22]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grading_throughput import scratch_course  # noqa: E402

from autograder import course as course_mod  # noqa: E402
from autograder.commands.grade import load_checks, load_misconceptions  # noqa: E402
from autograder.grading import pipeline  # noqa: E402
from autograder.sandbox import SandboxConfig, Zygote  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--assignment", default="exam22")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autograder-bench-hints-") as tmp:
        work = Path(tmp)
        names = scratch_course(work, args.assignment, args.students)
        spec = course_mod.load_assignment(work, args.assignment)
        checks = {name: load_checks(name) for name in names}
        catalogues = {name: load_misconceptions(name) for name in names}
        students = sorted(p.name for p in (work / "submitted").iterdir())
        def kind_of(student: str, index: int) -> str:  # as fabricate() made it: s<k>, kind k % 3, task k % n wrong
            k = int(student[1:])
            kind = ("correct", "wrong", "stub")[k % 3]
            return "correct" if kind == "wrong" and index != k % len(names) else kind

        times = {(kind, mode): [] for kind in ("correct", "wrong", "stub") for mode in ("with", "without")}
        verdicts = {"with": {}, "without": {}}
        with Zygote(SandboxConfig(hide=[str(work)])) as zygote:
            for round_ in range(args.repeats):
                modes = ("with", "without") if round_ % 2 == 0 else ("without", "with")
                for mode in modes:
                    per_kind = {kind: [] for kind in ("correct", "wrong", "stub")}
                    for s in students:
                        for index, name in enumerate(names):
                            path = work / "submitted" / s / args.assignment / f"{name}.ipynb"
                            started = time.perf_counter()
                            catalogue = catalogues[name] if mode == "with" else None
                            result = pipeline.grade_notebook(zygote, spec.notebooks[name], path, pipeline.Limits(),
                                                             checks[name], misconceptions=catalogue)
                            per_kind[kind_of(s, index)].append(time.perf_counter() - started)
                            verdicts[mode][(s, name)] = [(t["grade_id"], t["status"], t["points"])
                                                         for t in result["tests"]]
                    for kind, seconds in per_kind.items():
                        times[(kind, mode)].append(sum(seconds) / len(seconds))
        print(f"{len(students)} students x {len(names)} notebooks of {args.assignment}; {args.repeats} interleaved "
              f"round(s); median ms per notebook")
        print(f"\n{'notebooks':<10} {'with hints':>11} {'without':>9} {'difference':>11}")
        for kind in ("correct", "wrong", "stub"):
            w, wo = statistics.median(times[(kind, "with")]), statistics.median(times[(kind, "without")])
            print(f"{kind:<10} {w * 1000:11.1f} {wo * 1000:9.1f} {(w - wo) * 1000:+9.1f} ms "
                  f"({(w / wo - 1) * 100:+.0f}%)")
        same = verdicts["with"] == verdicts["without"]
        print(f"\nverdicts and points the same with and without hints: {'yes' if same else 'NO'}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
