"""The zygote: a warm process that forks one confined child per notebook.

Starting a Jupyter kernel costs ~0.5 s of imports per notebook. The zygote
imports NumPy, Matplotlib and IPython once; each child is a ``fork`` of it
(a few milliseconds), confined (see :mod:`.isolate`) before any student code
runs, and speaks :mod:`.wire` messages over its own socket:

* ``{"op": "cell", "code": ...}`` -> ``{"op": "done", "ok": bool, "error": name|None}``
* ``{"op": "req", "request": {...}}`` -> ``{"op": "reply", "reply": {...}}`` (see :mod:`autograder.protocol`)

The zygote itself never runs student code. Run as ``python -m autograder.sandbox.zygote FD``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile

from . import isolate, wire


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


def child_main(sock: socket.socket, config: dict, shell) -> None:
    """Confine this (forked) process, then serve cells and requests until told to stop."""
    from autograder.bridge import protocol

    os.setsid()
    uid = config["uid_base"] + os.getpid()  # unique machine-wide while this process lives
    isolated = bool(config.get("isolate")) and os.geteuid() == 0
    if isolated:
        isolate.confine_root(config.get("hide", []), isolate.python_paths())
        home = "/tmp/work"
        os.makedirs(home, mode=0o700)
        os.chown(home, uid, uid)
    else:
        home = tempfile.mkdtemp(prefix="autograder-work-")
    if config.get("notebook_name") and config.get("notebook_text") is not None:
        name = os.path.basename(config["notebook_name"])
        with open(os.path.join(home, name), "w", encoding="utf-8") as fh:
            fh.write(config["notebook_text"])
        if isolated:
            os.chown(os.path.join(home, name), uid, uid)
    os.chdir(home)
    sys.path[:] = [home] + [p for p in sys.path if p not in ("", "/", ".")]
    isolate.limit_resources(config["memory_bytes"], config["file_bytes"],
                            config["processes"] if isolated else None, config["cpu_seconds"])
    keep = sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)
    isolate.quiet_std_streams()
    debug = os.environ.get("AUTOGRADER_SANDBOX_DEBUG") == "1"  # developers only: the grader never sets it
    isolate.clean_environment(home)
    if isolated:
        isolate.drop_privileges(uid)
    isolate.die_with_parent()
    # Forget the grader's modules' origin: the package directory is hidden anyway.
    shell.user_ns.clear()
    shell.init_user_ns()
    wire.send(sock, {"op": "ready", "isolated": isolated})
    while True:
        try:
            message = wire.recv(sock)
        except wire.WireError:
            os._exit(0)
        op = message.get("op")
        if op == "cell":
            result = shell.run_cell(str(message.get("code", "")), store_history=False)
            exc = result.error_before_exec or result.error_in_exec
            done = {"op": "done", "ok": exc is None, "error": None if exc is None else protocol._error_name(exc)}
            if debug and exc is not None:
                done["detail"] = repr(exc)[:500]
            wire.send(sock, done)
        elif op == "req":
            reply = protocol.serve(shell.user_ns, message.get("request") or {})
            wire.send(sock, {"op": "reply", "reply": reply})
        else:
            os._exit(0)


def main(fd: int) -> None:
    ctrl = socket.socket(fileno=fd)
    shell = preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    wire.send(ctrl, {"op": "ready", "pid": os.getpid()})
    while True:
        try:
            message = wire.recv(ctrl)
        except wire.WireError:
            return
        if message.get("op") != "spawn":
            return
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ctrl.close()
                ours.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                child_main(theirs, message["config"], shell)
            except BaseException as exc:  # noqa: BLE001 - report set-up failures, then die
                try:
                    wire.send(theirs, {"op": "failed", "reason": f"{type(exc).__name__}: {exc}"[:300]})
                except Exception:  # noqa: BLE001
                    pass
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        header = json.dumps({"op": "spawned", "pid": pid}).encode()
        socket.send_fds(ctrl, [wire.HEADER.pack(len(header)) + header], [ours.fileno()])
        ours.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
