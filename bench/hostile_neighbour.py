"""An honest student's grading time alone and beside a hostile one, with the sandbox's protections and without.

Usage (as root, like official grading)::

    sudo .venv/bin/python bench/hostile_neighbour.py [--before REV] [--rounds N] [--spawns N]

Two sandboxes are measured in the same run, each in a process of its own:

* ``protected``: this tree's sandbox (PID/IPC namespaces, allowlisted view,
  a cgroup per child where the machine allows);
* ``unprotected``: the sandbox as of ``--before`` (default: the commit before
  these protections), extracted with ``git archive`` into a temporary folder.
  ``--before none`` skips it.

For each it prints: the sandbox's cost per notebook (spawn + one cell + close,
the median of ``--spawns``), the honest student's time for a fixed CPU-bound
cell alone, beside a neighbour running 20 busy processes each in a session of
its own, and beside a fork-and-setsid escaper (four chains of processes, each link in a new
session); and how many of the hostile
neighbour's processes were still alive after its session was closed. Two
workers (zygotes) run side by side, as ``--jobs 2`` does. Figures only: no
assertion; the machine's other load shows in them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "e25614e"  # the last commit without PID namespaces, allowlisted view and cgroups

HONEST = "s = 0\nfor i in range(6_000_000):\n    s += i * i\n"
HOGS = """
import os
for _ in range(20):
    if os.fork() == 0:
        os.setsid()
        while True:
            pass
"""
ESCAPER = """
import os, time
_until = time.time() + {seconds}
for _ in range(4):
    if os.fork() != 0:
        continue
    while time.time() < _until:  # a chain of processes, each in a new session, each a new pid
        try:
            os.setsid()
        except OSError:
            pass
        if os.fork() != 0:
            os._exit(0)
    os._exit(0)
"""


def _uid_processes(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as fh:
                    status = dict(line.split(":", 1) for line in fh if ":" in line)
                if int(status["Uid"].split()[0]) == uid and not status["State"].strip().startswith("Z"):
                    found.append(int(entry))  # (a zombie is dead: only its entry waits for a parent)
            except (OSError, ValueError, KeyError):
                continue
    return found


def _uid_of(session) -> int:
    session.run_cell("import os\n_uid = os.getuid()", 30)
    return session.request({"kind": "get", "target": "_uid", "attr": None}, 30)["value"]


def _honest_seconds(zygote) -> float:
    session = zygote.spawn("task.ipynb", "{}")
    started = time.monotonic()
    ok, _ = session.run_cell(HONEST, 300)
    seconds = time.monotonic() - started
    session.close()
    return seconds if ok else float("nan")


def _beside(honest_zygote, hostile_zygote, code: str) -> tuple[float, int]:
    """(honest seconds while the neighbour runs ``code``, neighbour processes alive after its close)."""
    hostile = hostile_zygote.spawn("task.ipynb", "{}")
    uid = _uid_of(hostile)
    hostile.run_cell(code, 30)
    time.sleep(0.5)  # let the neighbour's processes get going
    seconds = _honest_seconds(honest_zygote)
    hostile.close()
    time.sleep(0.5)
    survivors = len(_uid_processes(uid))
    for _ in range(200):  # the unprotected sandbox leaves them: end them here (they also stop by themselves)
        pids = _uid_processes(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        time.sleep(0.01)
    return seconds, survivors


def worker(rounds: int, spawns: int, escape_seconds: int) -> dict:
    from autograder.sandbox import SandboxConfig, Zygote

    config = SandboxConfig()
    with Zygote(config) as honest, Zygote(config) as hostile:
        costs = []
        for _ in range(spawns):
            started = time.monotonic()
            session = honest.spawn("task.ipynb", "{}")
            session.run_cell("x = 1", 30)
            session.close()
            costs.append(time.monotonic() - started)
        alone = [_honest_seconds(honest) for _ in range(rounds)]
        hogs = [_beside(honest, hostile, HOGS) for _ in range(rounds)]
        escaper = [_beside(honest, hostile, ESCAPER.format(seconds=escape_seconds)) for _ in range(rounds)]
    return {"spawn_close_ms": 1000 * statistics.median(costs), "alone_s": statistics.median(alone),
            "hogs_s": statistics.median(s for s, _ in hogs), "hogs_left": max(n for _, n in hogs),
            "escaper_s": statistics.median(s for s, _ in escaper), "escaper_left": max(n for _, n in escaper)}


def _run_worker(tree: Path | None, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="hostile-neighbour-tmp-") as tmp:  # (the old sandbox left files)
        env = dict(os.environ, TMPDIR=tmp)
        if tree is not None:
            env["PYTHONPATH"] = str(tree)
        out = subprocess.run([sys.executable, __file__, "--worker", "--rounds", str(args.rounds), "--spawns",
                              str(args.spawns), "--escape-seconds", str(args.escape_seconds)],
                             env=env, cwd="/", capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"error: the benchmark worker failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _extract(rev: str, dest: Path) -> Path:
    archive = dest / "tree.tar"
    with open(archive, "wb") as fh:
        done = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "autograder"], stdout=fh,
                              stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"error: --before {rev}: git archive failed: {done.stderr.decode(errors='replace').strip()}")
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE,
                        help=f"git revision of the unprotected sandbox, or 'none' (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per figure (median; default 3)")
    parser.add_argument("--spawns", type=int, default=20, help="spawns for the cost per notebook (default 20)")
    parser.add_argument("--escape-seconds", type=int, default=10,
                        help="how long the escaper keeps forking if nothing stops it (default 10)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.rounds, args.spawns, args.escape_seconds) < 1:
        parser.error("--rounds, --spawns and --escape-seconds must be at least 1")
    if args.worker:
        print(json.dumps(worker(args.rounds, args.spawns, args.escape_seconds)))
        return 0
    if os.geteuid() != 0:
        print("error: run as root (sudo): the protections measured here exist only for root", file=sys.stderr)
        return 2
    results = {"protected (this tree)": _run_worker(None, args)}
    if args.before != "none":
        with tempfile.TemporaryDirectory(prefix="hostile-neighbour-") as tmp:
            results[f"unprotected ({args.before})"] = _run_worker(_extract(args.before, Path(tmp)), args)
    print(f"{'sandbox':<26} {'spawn+close':>12} {'alone':>8} {'20 hogs':>9} {'left':>5} {'escaper':>9} {'left':>5}")
    for name, r in results.items():
        print(f"{name:<26} {r['spawn_close_ms']:>9.1f} ms {r['alone_s']:>6.2f} s {r['hogs_s']:>7.2f} s "
              f"{r['hogs_left']:>5} {r['escaper_s']:>7.2f} s {r['escaper_left']:>5}")
    print("honest: one CPU-bound cell; 'left': the neighbour's processes alive 0.5 s after its session closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
