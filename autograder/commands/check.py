"""Run the public tests of notebooks and print points per task.

Usage:  python check.py NOTEBOOK.ipynb [MORE.ipynb | FOLDER ...]
        autograder check NOTEBOOK.ipynb ...        (in the course repository)

For students: it executes each notebook top to bottom in a fresh Jupyter
kernel (as "Restart & Run All" does), then reports every test cell: passed,
or failed with its message. Only the public tests that are in the notebook
run here; official grading adds hidden tests. Exit status: 0 when every test
cell passed, 1 when one failed, 2 for bad arguments.

This file is self-contained (nbformat, nbclient and ipykernel only) so that
it can be copied into a student repository as it is.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from pathlib import Path


def _test_cells(nb):
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            yield index, cell, meta


def _first_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_notebook(path: Path, timeout: float = 120) -> dict:
    """Execute one notebook; return {"notebook", "points", "max_points", "tests": [...], "problem"}."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    result = {"notebook": path.name, "points": 0.0, "max_points": 0.0, "tests": [], "problem": None}
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001
        result["problem"] = f"cannot read the notebook ({type(exc).__name__}); open it in Jupyter and save it again"
        return result
    tests = list(_test_cells(nb))
    result["max_points"] = float(sum(float(meta.get("points", 0)) for _, _, meta in tests))
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    try:
        client.execute()
    except DeadKernelError:
        result["problem"] = "the kernel died while running the notebook (os._exit, a crash or too much memory)"
    except Exception as exc:  # noqa: BLE001 - e.g. a cell timed out
        result["problem"] = f"the notebook did not finish: {_first_line(exc, 200)}"
    for index, cell, meta in tests:
        points = float(meta.get("points", 0))
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        ran = cell.get("execution_count") is not None or cell.get("outputs")
        if errors:
            err = errors[0]
            message = f"{err.get('ename', 'Error')}: {_first_line(err.get('evalue', ''))}".rstrip(": ")
            status = "failed"
        elif not ran:
            status, message = "failed", "not run (an earlier problem stopped the notebook)"
        else:
            status, message = "passed", ""
        if status == "passed":
            result["points"] += points
        result["tests"].append({"grade_id": meta.get("grade_id", f"cell {index + 1}"), "status": status,
                                "points": points if status == "passed" else 0.0, "max_points": points,
                                "message": message})
    return result


def _collect(args) -> list:
    paths = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            paths += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        elif p.suffix == ".ipynb" and p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{arg}: not a notebook (.ipynb) or a folder of notebooks")
    if not paths:
        raise FileNotFoundError("no notebooks given")
    return paths


def _fmt(x: float) -> str:
    return f"{x:g}"


def main(args=None, timeout: float = 120) -> int:
    args = sys.argv[1:] if args is None else list(args)
    try:
        paths = _collect(args)
    except FileNotFoundError as exc:
        print(f"check: error: {exc}", file=sys.stderr)
        return 2
    results, ok = [], True
    for path in paths:
        started = time.monotonic()
        print(f"checking {path} ...", flush=True)
        res = check_notebook(path, timeout=timeout)
        results.append(res)
        mark = "ok" if not res["problem"] and all(t["status"] == "passed" for t in res["tests"]) else "FAILED"
        ok = ok and mark == "ok"
        print(f"  {res['notebook']}: public tests {_fmt(res['points'])}/{_fmt(res['max_points'])} points "
              f"[{mark}] ({time.monotonic() - started:.1f} s)")
        if res["problem"]:
            print(f"    problem: {res['problem']}")
        for t in res["tests"]:
            if t["status"] != "passed":
                print(f"    - {t['grade_id']}: {t['message']}")
    total = sum(r["points"] for r in results)
    maximum = sum(r["max_points"] for r in results)
    print(f"public tests: {_fmt(total)}/{_fmt(maximum)} points. Official grading adds hidden tests.")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write("## Public tests\n\n| notebook | points | failing tests |\n|---|---:|---|\n")
            for r in results:
                failing = ", ".join(f"`{t['grade_id']}`" for t in r["tests"] if t["status"] != "passed")
                if r["problem"]:
                    failing = (failing + "; " if failing else "") + r["problem"]
                fh.write(f"| {r['notebook']} | {_fmt(r['points'])}/{_fmt(r['max_points'])} | {failing} |\n")
            fh.write(f"\n**Total: {_fmt(total)}/{_fmt(maximum)}** "
                     "(public tests only; official grading adds hidden tests)\n")
    return 0 if ok else 1


def add_arguments(p) -> None:
    p.add_argument("notebooks", nargs="+", help="release notebooks (.ipynb) or folders of them")
    timeout = inspect.signature(main).parameters["timeout"].default
    p.add_argument("--timeout", type=float, default=timeout, help=f"seconds per cell (default {timeout:g})")


def from_args(args) -> int:
    return main(args.notebooks, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
