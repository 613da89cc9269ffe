"""The zygote: a warm process that forks one confined child per notebook.

Starting a Jupyter kernel costs ~0.5 s of imports per notebook. The zygote
imports NumPy, Matplotlib and IPython once, and runs a little generic code
(:data:`WARM_UP`) so that what they set up on first use is made once; each
child is a ``fork`` of it
(a few milliseconds), confined (see :mod:`.isolate`) before any student code
runs. As root, the forked process is the init of a new PID namespace: it
joins its cgroup, builds the allowlisted view, drops its privileges and runs
the student's code itself; killing it kills everything the student started.
The student's process speaks :mod:`.wire` messages over its own
socket:

* ``{"op": "file", "name": ..., "text": ...}`` -> ``{"op": "stored", "ok": bool}``
  (the notebook's own text, sent only to its own child, after the fork)
* ``{"op": "cell", "code": ...}`` -> ``{"op": "done", "ok": bool, "error": name|None}``
* ``{"op": "req", "request": {...}}`` -> ``{"op": "reply", "reply": {...}}`` (see :mod:`autograder.bridge.protocol`)

On its control socket the zygote answers ``{"op": "spawn", "config": ...}`` with a
child's socket (``{"op": "spawned", "pid": ...}``), and ``{"op": "twin", "scratch": ...}``
with the socket of a twin: a fork of itself, warm at once, which serves a socket of
its own for another grading worker (``{"op": "twin", "pid": ...}``).

The zygote itself never runs student code and never receives a notebook's
text. Run as ``python -m autograder.sandbox.zygote FD SCRATCH``; its
environment is :func:`.isolate.minimal_environment` (nothing of the grader's).
"""

from __future__ import annotations

import json
import os
import re
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
    shell = InteractiveShell.instance(config=config)
    skip_idle_token_pass(shell)
    warm_up(shell)
    return shell


def special_syntax_possible(text: str) -> bool:
    """Whether IPython's token transformers could change ``text`` (a superset: False means they cannot).

    They rewrite only magics and shell escapes (``%``, ``!``, and ``,`` ``;`` ``/`` at the start
    of a line) and help requests (``?``); ``!=`` is an operator, not an escape.
    """
    return ("%" in text or "?" in text or _BANG.search(text) is not None
            or _LINE_ESCAPE.search(text) is not None)


_BANG = re.compile(r"!(?!=)")
_LINE_ESCAPE = re.compile(r"^[ \t\f]*[,;/]", re.M)


def skip_idle_token_pass(shell) -> None:
    """Let ``shell`` skip IPython's token pass on a cell that has no special syntax.

    IPython tokenizes every cell (about 0.4 ms a cell here) to look for magics, shell escapes
    and help requests; a cell without any of their characters comes out of that pass unchanged,
    so it is returned as it is. The result is the same text either way; a notebook that adds
    token transformers of its own gets the full pass.
    """
    manager = shell.input_transformer_manager
    full, defaults = manager.do_token_transforms, list(manager.token_transformers)

    def do_token_transforms(lines):
        if manager.token_transformers == defaults and not special_syntax_possible("".join(lines)):
            return lines
        return full(lines)

    manager.do_token_transforms = do_token_transforms


#: generic notebook code the zygote runs once, so that what IPython and NumPy set up on first use
#: (cell transformers, the display hook, tracebacks, ``numpy.random``, array printing) is made
#: before the fork, once, instead of in every child; it knows nothing of any task
WARM_UP = (
    """import numpy as np
rng = np.random.default_rng(0)
x = rng.normal(size=(4, 3)); y = rng.standard_normal(3); z = rng.uniform(-1, 1, size=5)
k = rng.integers(0, 3, size=4); w = rng.permutation(5); v = np.random.randn(2, 2)
a = np.exp(x - x.max(axis=1, keepdims=True)); a = a / a.sum(axis=1, keepdims=True)
b = np.tanh(x) @ y + np.maximum(0, x).mean(axis=0) @ np.log1p(np.abs(y))
c = np.einsum('ij,j->i', x, y); d = np.linalg.norm(x); e = np.clip(x, -1, 1); f = np.where(x > 0, x, 0.0)
g = np.concatenate([x, x]); h = np.stack([y, y]); i = np.argsort(z); j = np.outer(y, y); m = np.sqrt(x ** 2)
n = bool(np.allclose(a, a)) and bool(np.isclose(d, d)) and np.array_equal(x, x); o = np.cumsum(z)
p = np.zeros_like(x); q = np.ones((2, 2)) + np.eye(2); r = np.arange(6).reshape(2, 3); s = np.abs(z).sum()
print(x, y, f'{d:.3f}', round(float(d), 4), a.shape, np.array2string(x, precision=3), repr(x), str(z))
def fn(t, u=1):
    return t * u
class Thing:
    def __init__(self):
        self.t = fn(2)
    def __repr__(self):
        return 'Thing()'
Thing()
x
""",
    "def stub():\n    raise NotImplementedError\nstub()\n",
    "assert 1 == 2, 'warm-up'\n",
)


def warm_up(shell) -> None:
    """Run :data:`WARM_UP` in ``shell`` (its output discarded), then empty the namespace again."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for code in WARM_UP:
            shell.run_cell(code, store_history=False)
    shell.user_ns.clear()
    shell.init_user_ns()
    import numpy

    # Every child starts from the same global NumPy random state (the warm-up drew from it): a
    # notebook that draws without a seed is graded alike in every worker and every run. (Python's
    # own `random` reseeds itself in every forked child.)
    numpy.random.seed(0)
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)  # heap pages the imports freed: not copied into every child
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _report_failure(sock: socket.socket, exc: BaseException) -> None:
    try:
        wire.send(sock, {"op": "failed", "reason": f"{type(exc).__name__}: {exc}"[:300]})
    except Exception:  # noqa: BLE001
        pass


def init_main(sock: socket.socket, config: dict, shell) -> None:
    """PID 1 of the child's namespace (root): confine this very process, then serve as the student's.

    One fork per notebook: the student's process is the namespace's init, so killing it (what
    :meth:`autograder.sandbox.Session.close` does) kills everything it started, and a second copy
    of the zygote's memory (a separate init that only waits) is never made. As an init, it is
    immune to signals it has no handler for from inside its own namespace; orphans of its children
    stay zombies (they count against its own process limit) until the namespace ends.
    """
    isolate.die_with_parent()
    host_pid = int(os.readlink("/proc/self"))  # the machine's /proc is still mounted here
    uid = config["uid_base"] + host_pid  # unique while this namespace lives (see README, Security)
    cgroups.join(config.get("cgroups") or [])
    isolate.unshare(isolate.CLONE_NEWNS | isolate.CLONE_NEWIPC)  # (the network namespace: see _spawn)
    isolate.build_root(config.get("hide", []), uid, config.get("tmp_bytes", 512 << 20))
    child_main(sock, config, shell, uid=uid, isolated=True)


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


_OFFLINE: list = []  # [True] once this zygote has left the machine's network namespace


def _spawn(ctrl: socket.socket, config: dict, shell, pidns: int | None) -> None:
    isolated = pidns is not None and bool(config.get("isolate"))
    ours, theirs = socket.socketpair()
    if isolated:
        isolate.allowlist(config.get("hide", []))  # computed once here (cached), inherited by every child
        if not _OFFLINE:
            # No network for this zygote and so for its children: one empty network namespace,
            # not one per child (making and tearing one down costs more than a child's start).
            # Children share it one after another only: a child's processes are all dead before
            # the next one runs student code, and nothing stays in a namespace without them
            # that a process without privileges could set (interfaces, routes and rules need
            # CAP_NET_ADMIN; every socket dies with its process).
            isolate.unshare(isolate.CLONE_NEWNET)
            _OFFLINE.append(True)
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


def _twin(ctrl: socket.socket, scratch: str) -> tuple[socket.socket, str] | None:
    """Fork a twin of this warm zygote for another grading worker; None in the parent, (control, scratch) in the twin.

    The twin starts warm (a fork costs milliseconds; a new zygote's imports about half a second)
    and then serves its own control socket, whose other end goes back over ``ctrl`` with the
    twin's pid; ``scratch`` is its own folder (made by the run). A fork that fails is answered
    with the pid None (and a socket all the same: every answer carries one, so that answers
    never run together on the stream).
    """
    ours, theirs = socket.socketpair()
    try:
        pid = os.fork()
    except OSError:
        pid = None
    if pid == 0:
        ctrl.close()
        ours.close()
        return theirs, scratch
    theirs.close()
    header = json.dumps({"op": "twin", "pid": pid}).encode()
    socket.send_fds(ctrl, [wire.HEADER.pack(len(header)) + header], [ours.fileno()])
    ours.close()
    return None


def main(fd: int, scratch: str, font_cache: str = "") -> None:
    ctrl = socket.socket(fileno=fd)
    parents: set = set()
    try:
        isolate.lift_memory_limit()
        os.environ["MPLCONFIGDIR"] = font_cache or os.path.join(scratch, "mpl")
        shell = preload()
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children (and twins) are reaped automatically
        pidns = None
        if os.geteuid() == 0:
            pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        while True:
            wire.send(ctrl, {"op": "ready", "pid": os.getpid()})
            twin = _serve(ctrl, shell, pidns, parents)
            if twin is None:
                return
            # This process is a twin now: its own control socket and scratch folder, its own cleanup.
            ctrl, scratch = twin
            parents = set()
    finally:  # also when the grading worker was killed: leave nothing behind
        cgroups.remove_tree(sorted(parents))
        shutil.rmtree(scratch, ignore_errors=True)


def _serve(ctrl: socket.socket, shell, pidns: int | None, parents: set) -> tuple[socket.socket, str] | None:
    """Answer the control socket until it closes (None), or return (control, scratch) in a twin just forked."""
    while True:
        try:
            message = wire.recv(ctrl, max_bytes=16 << 20)
        except wire.WireError:
            return None
        op = message.get("op")
        if op == "spawn":
            parents.update(message["config"].get("cgroup_parents") or [])
            _spawn(ctrl, message["config"], shell, pidns)
        elif op == "twin" and isinstance(message.get("scratch"), str):
            twin = _twin(ctrl, message["scratch"])
            if twin is not None:
                return twin
        else:
            return None


if __name__ == "__main__":
    status = 0
    try:
        main(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    except BaseException:  # noqa: BLE001 - for the grader's log (it shows why the sandbox did not start)
        import traceback

        traceback.print_exc()
        status = 1
    sys.stderr.flush()
    os._exit(status)  # its clean-up is done: skip the interpreter's teardown of everything preloaded (~0.2 s)
