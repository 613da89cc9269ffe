"""The zygote: a warm process that forks one confined child per notebook.

Starting a Jupyter kernel costs ~0.5 s of imports per notebook. The zygote
imports NumPy, Matplotlib and IPython once; each child is a ``fork`` of it
(a few milliseconds), confined (see :mod:`.isolate`) before any student code
runs. As root, the forked process is the init of a new PID namespace: it
joins its cgroup, builds the allowlisted view, forks the process that runs
student code and waits for it; killing it kills everything the student
started. The student's process speaks :mod:`.wire` messages over its own
socket:

* ``{"op": "file", "name": ..., "text": ...}`` -> ``{"op": "stored", "ok": bool}``
  (the notebook's own text, sent only to its own child, after the fork)
* ``{"op": "cell", "code": ...}`` -> ``{"op": "done", "ok": bool, "error": name|None}``
* ``{"op": "req", "request": {...}}`` -> ``{"op": "reply", "reply": {...}}`` (see :mod:`autograder.bridge.protocol`)

The zygote itself never runs student code and never receives a notebook's
text. Run as ``python -m autograder.sandbox.zygote FD SCRATCH``; its
environment is :func:`.isolate.minimal_environment` (nothing of the grader's).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys

from . import cgroups, isolate, wire


def preload():
    """Import and warm up what notebooks use, so that children start warm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="warm-up")
    ax.legend()
    fig.canvas.draw()
    plt.close(fig)
    try:
        import matplotlib_inline.backend_inline  # noqa: F401
    except ImportError:  # pragma: no cover
        pass
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from autograder.bridge import codec, protocol  # noqa: F401

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    config.InteractiveShell.xmode = "Plain"
    return InteractiveShell.instance(config=config)


def _report_failure(sock: socket.socket, exc: BaseException) -> None:
    try:
        wire.send(sock, {"op": "failed", "reason": f"{type(exc).__name__}: {exc}"[:300]})
    except Exception:  # noqa: BLE001
        pass


def init_main(sock: socket.socket, config: dict, shell) -> None:
    """PID 1 of the child's namespace (root): confine, fork the student's process, wait for it."""
    isolate.die_with_parent()
    host_pid = int(os.readlink("/proc/self"))  # the machine's /proc is still mounted here
    uid = config["uid_base"] + host_pid  # unique while this namespace lives (see README, Security)
    cgroups.join(config.get("cgroups") or [])
    isolate.unshare(isolate.CLONE_NEWNS | isolate.CLONE_NEWNET | isolate.CLONE_NEWIPC)
    isolate.build_root(config.get("hide", []), uid, config.get("tmp_bytes", 512 << 20))
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            isolate.die_with_parent()
            child_main(sock, config, shell, uid=uid, isolated=True)
        except BaseException as exc:  # noqa: BLE001
            _report_failure(sock, exc)
            code = 1
        finally:
            os._exit(code)
    sock.close()
    os.closerange(3, 65536)
    isolate.quiet_std_streams()
    while True:  # reap orphans; leave (and so end the namespace) with the student's process
        try:
            done, _ = os.wait()
        except ChildProcessError:
            os._exit(0)
        if done == pid:
            os._exit(0)


def child_main(sock: socket.socket, config: dict, shell, uid: int | None = None, isolated: bool = False) -> None:
    """Confine this process further, then serve files, cells and requests until told to stop."""
    from autograder.bridge import protocol

    if isolated:
        home = "/tmp/work"
    else:
        os.setsid()
        home = os.path.join(config["scratch"], f"work-{os.getpid()}")
        os.mkdir(home, 0o700)
    os.chdir(home)
    sys.path[:] = [home] + [p for p in sys.path if p not in ("", "/", ".")]
    isolate.limit_resources(config["memory_bytes"], config["file_bytes"],
                            config["processes"] if isolated else None, config["cpu_seconds"])
    keep = sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)
    isolate.quiet_std_streams()
    debug = config.get("debug") is True  # developers only: the grader never sets it
    isolate.clean_environment(home)
    if isolated:
        isolate.drop_privileges(uid)
    # Forget the grader's modules' origin: the package directory is hidden anyway.
    shell.user_ns.clear()
    shell.init_user_ns()
    wire.send(sock, {"op": "ready", "isolated": isolated})
    while True:
        try:
            message = wire.recv(sock, max_bytes=1 << 30)
        except wire.WireError:
            os._exit(0)
        op = message.get("op")
        if op == "file":
            wire.send(sock, {"op": "stored", "ok": _store(home, message.get("name"), message.get("text"))})
        elif op == "cell":
            result = shell.run_cell(str(message.get("code", "")), store_history=False)
            exc = result.error_before_exec or result.error_in_exec
            done = {"op": "done", "ok": exc is None, "error": None if exc is None else protocol.error_name(exc)}
            if debug and exc is not None:
                done["detail"] = repr(exc)[:500]
            wire.send(sock, done)
        elif op == "req":
            reply = protocol.serve(shell.user_ns, message.get("request") or {})
            wire.send(sock, {"op": "reply", "reply": reply})
        else:
            os._exit(0)


def _store(home: str, name, text) -> bool:
    if not (isinstance(name, str) and isinstance(text, str) and name.endswith(".ipynb")
            and name == os.path.basename(name) and not name.startswith(".")):
        return False
    try:
        with open(os.path.join(home, name), "w", encoding="utf-8", errors="surrogatepass") as fh:
            fh.write(text)
    except OSError:
        return False
    return True


def _spawn(ctrl: socket.socket, config: dict, shell, pidns: int | None) -> None:
    isolated = pidns is not None and bool(config.get("isolate"))
    ours, theirs = socket.socketpair()
    if isolated:
        isolate.allowlist(config.get("hide", []))  # computed once here (cached), inherited by every child
        isolate.unshare(isolate.CLONE_NEWPID)  # the next child is the init of a new PID namespace
    try:
        pid = os.fork()
    except BaseException:
        if isolated:
            isolate.setns(pidns, isolate.CLONE_NEWPID)
        raise
    if pid == 0:
        code = 0
        try:
            ctrl.close()
            ours.close()
            if pidns is not None:
                os.close(pidns)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            if isolated:
                init_main(theirs, config, shell)
            else:
                isolate.die_with_parent()
                child_main(theirs, config, shell)
        except BaseException as exc:  # noqa: BLE001 - report set-up failures, then die
            _report_failure(theirs, exc)
            code = 1
        finally:
            os._exit(code)
    if isolated:
        isolate.setns(pidns, isolate.CLONE_NEWPID)  # later children: back in our own namespace first
    theirs.close()
    header = json.dumps({"op": "spawned", "pid": pid}).encode()
    socket.send_fds(ctrl, [wire.HEADER.pack(len(header)) + header], [ours.fileno()])
    ours.close()


def main(fd: int, scratch: str) -> None:
    ctrl = socket.socket(fileno=fd)
    parents: set = set()
    try:
        isolate.lift_memory_limit()
        os.environ["MPLCONFIGDIR"] = os.path.join(scratch, "mpl")
        shell = preload()
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
        pidns = None
        if os.geteuid() == 0:
            pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        wire.send(ctrl, {"op": "ready", "pid": os.getpid()})
        while True:
            try:
                message = wire.recv(ctrl, max_bytes=16 << 20)
            except wire.WireError:
                return
            if message.get("op") != "spawn":
                return
            parents.update(message["config"].get("cgroup_parents") or [])
            _spawn(ctrl, message["config"], shell, pidns)
    finally:  # also when the grading worker was killed: leave nothing behind
        cgroups.remove_tree(sorted(parents))
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
