"""Running student code: a warm zygote forks one confined child per notebook.

>>> with Zygote(SandboxConfig(hide=[...])) as zygote:
...     session = zygote.spawn("task.ipynb", notebook_text)
...     ok, error = session.run_cell("x = 1", timeout=10)
...     reply = session.request({"kind": "get", "target": "x"}, timeout=10)
...     session.close()

Contract: the zygote starts from a fixed environment (nothing of the
grader's) and never sees a notebook's text; each child (as root) is one
process, the init of a PID namespace of its own, with IPC and mount namespaces
of its own, no network and an allowlisted view of the filesystem, in a
cgroup of its own where the machine allows one, under a uid of its own.
:meth:`Session.close` kills the namespace's init, which kills everything the
student started. Everything a child sends back is untrusted:
replies are capped in size and structure, checked for unknown keys, and read
within the call's deadline; names in them are mapped onto fixed lists.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from . import cgroups, isolate, wire

_log = logging.getLogger("autograder.sandbox")

#: the largest reply a child may send: a few arrays of a few MiB, base64-encoded
MAX_REPLY_BYTES = 48 << 20
#: the most JSON values (containers and commas) a reply may hold
MAX_REPLY_NODES = 2_000_000

_REPLY_KEYS = {"ready": {"op", "isolated"}, "failed": {"op", "reason"}, "stored": {"op", "ok"},
               "done": {"op", "ok", "error", "detail"}, "reply": {"op", "reply"}}
_ANSWER_KEYS = {"ok", "value", "error", "args", "kwargs"}


class SessionDead(Exception):
    """The child timed out, died, or broke the protocol; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass
class SandboxConfig:
    hide: list = dataclasses.field(default_factory=list)
    isolate: bool = True
    memory_bytes: int = 2 << 30
    file_bytes: int = 64 << 20
    tmp_bytes: int = 512 << 20
    processes: int = 64
    cpu_seconds: int = 600
    uid_base: int = 200_000
    cgroups: bool = True  # one cgroup per child where the machine allows (root only)
    prefork: bool = True  # confine the next child while the current one works (hides the spawn's cost)


def _well_formed(message: dict) -> bool:
    keys = _REPLY_KEYS.get(message.get("op"))
    if keys is None or not set(message) <= keys:
        return False
    if message["op"] == "reply":
        reply = message.get("reply")
        return isinstance(reply, dict) and set(reply) <= _ANSWER_KEYS
    return True


class Session:
    """One confined child holding one student's notebook namespace."""

    def __init__(self, sock: socket.socket, pid: int, isolated: bool, group: cgroups.Group | None = None,
                 scratch: str | None = None):
        self.sock, self.pid, self.isolated, self.group = sock, pid, isolated, group
        self.uid = None
        self.scratch = scratch
        self.alive = True
        self.last_detail = None
        try:
            self.pidfd = os.pidfd_open(pid)
        except OSError:
            self.pidfd = None

    def _receive(self, timeout: float | None, limit: int = MAX_REPLY_BYTES) -> dict:
        message = wire.recv(self.sock, timeout=timeout, max_bytes=limit, max_nodes=MAX_REPLY_NODES)
        if not _well_formed(message):
            raise wire.WireProtocolError("broke the grading protocol")
        return message

    def _roundtrip(self, message: dict, expect: str, timeout: float) -> dict:
        if not self.alive:
            raise SessionDead("the notebook's process is no longer running")
        try:
            wire.send(self.sock, message)
            reply = self._receive(timeout)
        except wire.WireTimeout:
            self.close()
            raise SessionDead(f"did not finish within {timeout:g} s") from None
        except wire.WireProtocolError:
            self.close()
            raise SessionDead("the notebook's process broke the grading protocol") from None
        except wire.WireError:
            self.close()
            raise SessionDead("the notebook's process died (crash, exit or memory limit)") from None
        if reply.get("op") != expect:
            self.close()
            raise SessionDead("the notebook's process broke the grading protocol")
        return reply

    def run_cell(self, code: str, timeout: float) -> tuple[bool, str | None]:
        """Run one cell; (it raised nothing, the name of what it raised from a fixed list, or None)."""
        reply = self._roundtrip({"op": "cell", "code": code}, "done", timeout)
        detail = reply.get("detail")
        self.last_detail = detail if _DEBUG and isinstance(detail, str) else None
        error = reply.get("error")
        from autograder.bridge import protocol  # here, not at the top: the package imports no NumPy (launch_early)

        return reply.get("ok") is True, protocol.known_error_name(error) if error is not None else None

    def request(self, request: dict, timeout: float) -> dict:
        """One :mod:`autograder.bridge.protocol` request; the reply's ``error`` is a fixed name."""
        reply = self._roundtrip({"op": "req", "request": request}, "reply", timeout)["reply"]
        if "error" in reply and reply["error"] != "undefined":
            from autograder.bridge import protocol

            reply["error"] = protocol.known_error_name(reply["error"]) or "an exception"
        return reply

    def close(self) -> None:
        """Kill the child and all it started; remove its cgroup and scratch folder."""
        if not self.alive:
            return
        self.alive = False
        try:
            self.sock.close()
        except OSError:
            pass
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
        if not self.isolated:  # no PID namespace: its process group is all we can reach
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], 5)  # readable once it (and so its namespace) is gone
            os.close(self.pidfd)
            self.pidfd = None
        if self.group is not None:
            self.group.remove()
        if self.scratch and not self.isolated:
            shutil.rmtree(os.path.join(self.scratch, f"work-{self.pid}"), ignore_errors=True)


#: where this very package lives: the zygote imports the same one (its environment has nothing else)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_DEBUG = os.environ.get("AUTOGRADER_SANDBOX_DEBUG") == "1"  # developers only: the grader never sets it
_NOTED: set = set()


def _font_cache() -> str:
    """A folder of the grader's user where the zygotes keep Matplotlib's font list ("" if none can be made).

    Without it every zygote would rebuild the list from the system's fonts (about 0.15 s). It is
    outside every child's view, and children never read it (the zygote loaded the fonts already).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "autograder", "matplotlib")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return ""
    return path if os.path.isdir(path) and os.access(path, os.W_OK) else ""


def _start_zygote(log) -> tuple[subprocess.Popen, socket.socket, str]:
    """Start a zygote process (its imports and warm-up then run on their own): (process, control socket, scratch)."""
    scratch = tempfile.mkdtemp(prefix="autograder-")
    os.chmod(scratch, 0o700)
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.sandbox.zygote", str(theirs.fileno()), scratch, _font_cache()],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log, env=isolate.minimal_environment(PYTHONPATH=_PACKAGE_PARENT), cwd="/")
    except BaseException:
        ours.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        theirs.close()
    return proc, ours, scratch


class _Adopted:
    """The part of :class:`subprocess.Popen` a :class:`Zygote` uses, for a zygote another process started.

    Through a pidfd: :meth:`poll` and :meth:`wait` see the process end (its exit status is its
    parent's to collect), :meth:`kill` reaches it without the risk of a reused pid.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.returncode = None

    def poll(self):
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self.returncode = -1  # ended; how is for the parent to know
        return self.returncode

    def wait(self, timeout: float | None = None):
        if self.returncode is None and not select.select([self.pidfd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(f"zygote {self.pid}", timeout)
        self.returncode = -1
        self.forget()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass

    def forget(self) -> None:
        """Close the pidfd (once it ended; or, without waiting, a forked worker's copy of another worker's zygote)."""
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


@contextlib.contextmanager
def sigint_ignored():
    """Ignore Ctrl-C (in the main thread) while a process is started: it inherits the ignoring, the run handles
    Ctrl-C itself and stops what it started (no traceback from them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class Launch:
    """A zygote started before any :class:`Zygote` needs it (see :func:`launch_early`), or a twin of one.

    Made in the grading run's process; the first grading worker forked from it adopts it
    (``Zygote(config, launch=...)``), so that the zygote's imports and warm-up (about half a
    second) run while the run imports its own modules and reads the course. Further workers
    adopt its twins (:meth:`twins`): forks of it, made warm in milliseconds. The run keeps each
    process only to collect its end (:meth:`reap`); nothing else of it.
    """

    def __init__(self, proc=None, ctrl: socket.socket | None = None, scratch: str | None = None, log=None,
                 ready: dict | None = None):
        self.owner = os.getpid()
        self.ready = ready  # its "ready" message, when the run read it already (a twin's, or after twins())
        if proc is not None:  # a twin (see twins())
            self.proc, self.ctrl, self.scratch, self.log = proc, ctrl, scratch, log
        else:
            self.log = tempfile.TemporaryFile()
            try:
                with sigint_ignored():  # like a worker's zygote (the run handles Ctrl-C and stops every worker)
                    self.proc, self.ctrl, self.scratch = _start_zygote(self.log)
            except BaseException:
                self.log.close()
                raise
        _HELD.append(self)

    def twins(self, count: int, timeout: float = 120) -> list[Launch]:
        """In the run, before a worker holds it: ``count`` forks of this zygote once it is warm, one per further worker.

        Waits for the zygote to be warm (the first worker could not start before that either).
        Fewer (none) when it did not start or a fork failed; the workers without one start their
        own zygote, as before.
        """
        made: list[Launch] = []
        if count <= 0 or self.ready is not None:
            return made
        folders = []
        try:
            for _ in range(count):
                folders.append(tempfile.mkdtemp(prefix="autograder-"))
                os.chmod(folders[-1], 0o700)
                wire.send(self.ctrl, {"op": "twin", "scratch": folders[-1]})
            ready = wire.recv(self.ctrl, timeout=timeout)
            if ready.get("op") != "ready":
                return made
            self.ready = ready
            self.ctrl.settimeout(timeout)
            for folder in folders:  # every request is answered, in order, each answer with one socket
                data, fds, _, _ = socket.recv_fds(self.ctrl, 4096, 1)
                if not fds:
                    raise OSError("the zygote answered a twin request without a socket")
                ctrl = socket.socket(fileno=fds[0])
                try:
                    proc = _Adopted(int(json.loads(data[wire.HEADER.size:])["pid"]))
                except (OSError, ValueError, KeyError, TypeError):  # (pid None: its fork failed)
                    ctrl.close()
                    continue
                try:
                    said = wire.recv(ctrl, timeout=timeout)
                except wire.WireError:
                    said = {}
                if said.get("op") != "ready":
                    proc.kill()
                    ctrl.close()
                    continue
                made.append(Launch(proc, ctrl, folder, _shared(self.log), said))
        except (OSError, wire.WireError):  # (socket.timeout is an OSError)
            self.proc.kill()  # not warm in time, or broke the protocol: no worker may read what is still queued
        finally:
            if self.ctrl.fileno() >= 0:
                self.ctrl.settimeout(None)
            taken = {twin.scratch for twin in made}
            for folder in folders:
                if folder not in taken:
                    shutil.rmtree(folder, ignore_errors=True)
        return made

    def adopt(self) -> tuple[_Adopted, socket.socket, str] | None:
        """In the forked worker: (process handle, control socket, scratch folder), or None if it is gone.

        The worker closes its copies of every other zygote the run still holds, so that each
        zygote sees its own worker's end alone.
        """
        if os.getpid() != self.owner:
            for other in list(_HELD):
                if other is not self and other.owner == self.owner:
                    other.handed_over()
                    if isinstance(other.proc, _Adopted):
                        other.proc.forget()
        try:
            return _Adopted(self.proc.pid), self.ctrl, self.scratch
        except OSError:
            self.ctrl.close()
            return None

    def handed_over(self) -> None:
        """In the run, once a worker holds it: close the run's copies, so the zygote sees the worker's end alone."""
        for held in (self.ctrl, self.log):
            try:
                held.close()
            except OSError:
                pass
        if self in _HELD:
            _HELD.remove(self)

    def reap(self, timeout: float = 10) -> None:
        """In the run: collect the zygote's exit (killing it after ``timeout`` s) and remove what it left."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)  # gone already unless it was killed
        if self in _HELD:
            _HELD.remove(self)

    def discard(self) -> None:
        """In the run, when no worker took it: stop it (it has no child yet) and remove its scratch folder."""
        self.handed_over()
        self.proc.kill()
        self.reap()


def _shared(log):
    """Another file object on the same open log (a twin writes where its zygote writes)."""
    return os.fdopen(os.dup(log.fileno()), "w+b")


_HELD: list = []  # the Launches this process holds and has not handed over (a forked worker closes the others')


_EARLY: list = []  # at most one Launch, made by launch_early() in this process


def launch_early() -> None:
    """Start the first grading worker's zygote now, before the grader's own modules load.

    The grading run takes it (:func:`take_early`) for its first worker; a run that grades
    nothing, or cannot fork its workers, never takes it, and it is discarded when the process
    exits. Without ``os.pidfd_open`` (Linux before 5.3) nothing is started.
    """
    if _EARLY or not hasattr(os, "pidfd_open"):
        return
    try:
        _EARLY.append(Launch())
    except OSError:
        return  # the worker starts its own, and says why if it cannot
    atexit.register(discard_held)


def take_early() -> Launch | None:
    """The zygote :func:`launch_early` started in this process, for one worker only (then None)."""
    if _EARLY and _EARLY[0].owner == os.getpid():
        return _EARLY.pop()
    return None


def discard_held() -> None:
    """Stop every zygote this process started early (or twinned) that no worker took; at exit, and when a run fails."""
    for launch in [held for held in _HELD if held.owner == os.getpid()]:
        launch.discard()
    _EARLY[:] = [held for held in _EARLY if held.owner != os.getpid()]


class Zygote:
    """A warm process that forks confined children; one per grading worker."""

    def __init__(self, config: SandboxConfig | None = None, launch: Launch | None = None):
        """Start a zygote (wait until it is warm), or adopt ``launch``'s, started earlier by the run."""
        self.config = config or SandboxConfig()
        self.proc = None
        self.ctrl = None
        self.scratch = None
        self.log = launch.log if launch is not None else tempfile.TemporaryFile()
        self.cgroups = None
        self._pending = None  # a child requested in advance: its cgroup, or False
        self._closing = False
        if self.isolated and self.config.cgroups:
            usable, note = cgroups.available()
            if note not in _NOTED:  # once per process, for the run's log
                _NOTED.add(note)
                (_log.info if usable else _log.warning)(note)
            if usable:
                self.cgroups = cgroups.Parent()
        self.start(launch)

    def start(self, launch: Launch | None = None) -> None:
        self._stop()
        adopted = launch.adopt() if launch is not None else None
        self.proc, self.ctrl, self.scratch = adopted or _start_zygote(self.log)
        try:
            ready = (launch.ready if adopted else None) or wire.recv(self.ctrl, timeout=120)
        except wire.WireError:
            self.log.seek(0)
            detail = self.log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the grading sandbox did not start:\n{detail}") from None
        if ready.get("op") != "ready":
            raise RuntimeError("the grading sandbox did not start")

    @property
    def isolated(self) -> bool:
        return self.config.isolate and os.geteuid() == 0

    def spawn(self, notebook_name: str | None = None, notebook_text: str | None = None,
              timeout: float = 30) -> Session:
        """A new confined child; ``notebook_text`` is sent to it alone, after it is confined.

        Args:
            notebook_name: the file name the text is stored under in the child's folder (a fixed name).
            notebook_text: the notebook's text, or None.
            timeout: seconds the child may take to start.

        Returns:
            a :class:`Session`.
        """
        if self.proc.poll() is not None:
            self.start()
        if self._pending is None:
            self._request_child()
        group, self._pending = self._pending, None
        group = group or None
        try:
            data, fds, _, _ = socket.recv_fds(self.ctrl, 4096, 1)
        except OSError:
            data, fds = b"", []
        if not fds:
            if group:
                group.remove()
            raise RuntimeError("the grading sandbox did not hand over a child")
        header = json.loads(data[wire.HEADER.size:])
        sock = socket.socket(fileno=fds[0])
        session = Session(sock, int(header["pid"]), self.isolated, group, self.scratch)
        try:
            ready = session._receive(timeout, limit=1 << 16)
        except wire.WireError:
            session.close()
            raise RuntimeError("a grading child did not start") from None
        if ready.get("op") != "ready":
            session.close()
            reason = ready.get("reason") if isinstance(ready.get("reason"), str) else "?"
            if group is not None and reason.startswith("CgroupError"):  # the machine refuses: go on without
                _log.warning(f"a child could not join its cgroup ({reason}); going on without per-child cgroups")
                self.cgroups.remove()
                self.cgroups = None
                return self.spawn(notebook_name, notebook_text, timeout)
            raise RuntimeError(f"a grading child could not be confined: {reason}")
        if self.config.prefork and not self._closing:
            self._request_child()  # the next child gets confined while this one works
        session.isolated = ready.get("isolated") is True
        if notebook_name is not None and notebook_text is not None:
            try:
                session._roundtrip({"op": "file", "name": os.path.basename(notebook_name), "text": notebook_text},
                                   "stored", timeout)
            except SessionDead:
                raise RuntimeError("a grading child did not take its notebook") from None
        return session

    def _request_child(self) -> None:
        """Ask the zygote for a child now; :meth:`spawn` takes it (with its cgroup) when needed."""
        group = self.cgroups.group(self.config.memory_bytes, self.config.processes) if self.cgroups else None
        config = {"uid_base": self.config.uid_base, "isolate": self.config.isolate,
                  "hide": [str(p) for p in self.config.hide], "tmp_bytes": self.config.tmp_bytes,
                  "memory_bytes": self.config.memory_bytes, "file_bytes": self.config.file_bytes,
                  "processes": self.config.processes, "cpu_seconds": self.config.cpu_seconds,
                  "cgroups": group.dirs if group else [], "cgroup_parents": self.cgroups.dirs if self.cgroups else [],
                  "scratch": self.scratch, "debug": _DEBUG}
        try:
            wire.send(self.ctrl, {"op": "spawn", "config": config})
        except wire.WireError:
            pass  # noticed when the child is taken
        self._pending = group or False  # (False: requested, without a cgroup)

    def _stop(self) -> None:
        self._closing = True
        try:
            if self._pending is not None and self.proc and self.proc.poll() is None:
                try:  # the child made in advance: end it like any other
                    self.spawn(timeout=10).close()
                except RuntimeError:
                    pass
        finally:
            self._closing = False
        if isinstance(self._pending, cgroups.Group):
            self._pending.remove()
        self._pending = None
        if self.proc and self.proc.poll() is None:
            try:
                wire.send(self.ctrl, {"op": "exit"})
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        if self.ctrl:
            self.ctrl.close()
            self.ctrl = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def close(self) -> None:
        if self.cgroups:
            self.cgroups.stop()  # no spare group made while the zygote sweeps its groups
        self._stop()
        self.log.close()
        if self.cgroups:
            self.cgroups.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
