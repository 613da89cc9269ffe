"""Run the public tests of notebooks and print points per task.

Usage:  python check.py [--fail-on test|broken] NOTEBOOK.ipynb [MORE.ipynb | FOLDER ...]
        autograder check NOTEBOOK.ipynb ...        (in the course repository)
        run(["NOTEBOOK.ipynb"], fail_on="test")      (as a library call: the exit status)

For students: it executes each notebook top to bottom in a fresh Jupyter
kernel (as "Restart & Run All" does), then reports every test cell: passed,
or failed with its message. Only the public tests that are in the notebook
run here; official grading adds hidden tests. Exit status: 0 when every test
cell passed, 1 when one failed (with ``--fail-on broken``: only when a notebook
is broken: unreadable, crashed or did not finish), 2 for bad arguments.

This file is self-contained (nbformat, nbclient and ipykernel only) so that
it can be copied into a student repository as it is.
"""

from __future__ import annotations

import argparse
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


def kernel_options() -> dict:
    """Keyword arguments for ``nbclient.NotebookClient`` that start a quiet, private kernel.

    With pyzmq's CurveZMQ and a jupyter_client that provisions keys (8.10+), the
    kernel's TCP channels are encrypted; otherwise the kernel's log is limited to
    errors. Either way ipykernel's "running over TCP without encryption" warning
    no longer appears once per notebook.

    Returns:
        ``{"config": ..., "extra_arguments": [...]}`` for ``NotebookClient(nb, **kernel_options())``.
    """
    from traitlets.config import Config

    config = Config()
    try:
        import zmq
        from jupyter_client.manager import KernelManager

        if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
            config.KernelManager.transport_encryption = "required"
    except Exception:  # noqa: BLE001 - an older jupyter_client: plain TCP on 127.0.0.1, as before
        pass
    return {"config": config, "extra_arguments": ["--IPKernelApp.log_level=ERROR"]}


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
                            resources={"metadata": {"path": str(path.parent.resolve())}}, **kernel_options())
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


class NotANotebook(FileNotFoundError):
    """A path given is neither a notebook (.ipynb) nor a folder, or no notebook is given at all."""


def _collect(args) -> list:
    paths = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            paths += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        elif p.suffix == ".ipynb" and p.is_file():
            paths.append(p)
        else:
            raise NotANotebook(f"{arg}: not a notebook (.ipynb) or a folder of notebooks")
    if not paths:
        raise NotANotebook("no notebooks given")
    return paths


def _fmt(x: float) -> str:
    return f"{x:g}"


def run(paths, *, timeout: float = 120, fail_on: str = "test") -> int:
    """Check notebooks and print points per task: the library entry point of ``autograder check``.

    Args:
        paths: notebooks (.ipynb) or folders of them (or one such path).
        timeout: seconds per cell.
        fail_on: "test" fails (1) on any failed public test or broken notebook; "broken" only on a
            broken notebook, so that a workflow stays green while the student is still working.

    Returns:
        The exit status: 0, or 1 as ``fail_on`` says.

    Raises:
        NotANotebook: a path is neither a notebook nor a folder, or there is no notebook at all.
    """
    paths = _collect([paths] if isinstance(paths, (str, os.PathLike)) else paths)
    results, ok, broken = [], True, False
    for path in paths:
        started = time.monotonic()
        print(f"checking {path} ...", flush=True)
        res = check_notebook(path, timeout=timeout)
        results.append(res)
        mark = "ok" if not res["problem"] and all(t["status"] == "passed" for t in res["tests"]) else "FAILED"
        ok = ok and mark == "ok"
        broken = broken or bool(res["problem"])
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
    if fail_on == "broken":
        return 1 if broken else 0
    return 0 if ok else 1


def main(args=None, **options) -> int:
    """Check notebooks (``args``: paths of notebooks or folders, default ``sys.argv[1:]``); the exit status.

    ``options``: ``timeout`` and ``fail_on``, as for :func:`run`. A bad path is one line on stderr and 2.
    """
    args = sys.argv[1:] if args is None else list(args)
    try:
        return run(args, **options)
    except NotANotebook as exc:
        print(f"check: error: {exc}", file=sys.stderr)
        return 2


def add_arguments(p) -> None:
    p.add_argument("notebooks", nargs="+", help="release notebooks (.ipynb) or folders of them")
    timeout = inspect.signature(run).parameters["timeout"].default
    p.add_argument("--timeout", type=float, default=timeout, help=f"seconds per cell (default {timeout:g})")
    fail_on = inspect.signature(run).parameters["fail_on"].default
    p.add_argument("--fail-on", choices=("test", "broken"), default=fail_on,
                   help="exit 1 on any failed public test (test, the default) or only on a broken notebook (broken)")


def from_args(args) -> int:
    return main(args.notebooks, timeout=args.timeout, fail_on=args.fail_on)


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="check.py", description=__doc__.splitlines()[0])
    add_arguments(_parser)
    sys.exit(from_args(_parser.parse_args()))
