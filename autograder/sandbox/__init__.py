"""Running student code: a warm zygote forks one confined child per notebook.

>>> with Zygote(SandboxConfig(hide=[...])) as zygote:
...     session = zygote.spawn()
...     ok, error = session.run_cell("x = 1", timeout=10)
...     reply = session.request({"kind": "get", "target": "x"}, timeout=10)
...     session.close()
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile

from . import isolate, wire


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
    processes: int = 64
    cpu_seconds: int = 600
    uid_base: int = 200_000


class Session:
    """One confined child holding one student's notebook namespace."""

    def __init__(self, sock: socket.socket, pid: int, uid: int, isolated: bool):
        self.sock, self.pid, self.uid, self.isolated = sock, pid, uid, isolated
        self.alive = True

    def _roundtrip(self, message: dict, expect: str, timeout: float) -> dict:
        if not self.alive:
            raise SessionDead("the notebook's process is no longer running")
        try:
            wire.send(self.sock, message)
            reply = wire.recv(self.sock, timeout=timeout)
        except wire.WireTimeout:
            self.close()
            raise SessionDead(f"did not finish within {timeout:g} s") from None
        except wire.WireError:
            self.close()
            raise SessionDead("the notebook's process died (crash, exit or memory limit)") from None
        if reply.get("op") != expect:
            self.close()
            raise SessionDead("the notebook's process broke the grading protocol")
        return reply

    def run_cell(self, code: str, timeout: float) -> tuple[bool, str | None]:
        reply = self._roundtrip({"op": "cell", "code": code}, "done", timeout)
        self.last_detail = reply.get("detail")
        error = reply.get("error")
        return reply.get("ok") is True, error if isinstance(error, str) and error.isidentifier() else None

    def request(self, request: dict, timeout: float) -> dict:
        return self._roundtrip({"op": "req", "request": request}, "reply", timeout).get("reply")

    def close(self) -> None:
        if not self.alive:
            return
        self.alive = False
        try:
            self.sock.close()
        except OSError:
            pass
        for kill in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                kill()
            except OSError:
                pass
        if self.isolated:
            isolate.kill_uid(self.uid)


class Zygote:
    """A warm process that forks confined children; one per grading worker."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self.proc = None
        self.ctrl = None
        self.log = tempfile.TemporaryFile()
        self.start()

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ACTIONS_", "RUNNER_"))}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
                   MPLCONFIGDIR=tempfile.mkdtemp(prefix="autograder-mpl-"), PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.sandbox.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.log, env=env, cwd="/")
        theirs.close()
        self.ctrl = ours
        try:
            ready = wire.recv(self.ctrl, timeout=120)
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
        if self.proc.poll() is not None:
            self.start()
        config = {"uid_base": self.config.uid_base, "isolate": self.config.isolate,
                  "hide": [str(p) for p in self.config.hide],
                  "memory_bytes": self.config.memory_bytes, "file_bytes": self.config.file_bytes,
                  "processes": self.config.processes, "cpu_seconds": self.config.cpu_seconds,
                  "notebook_name": notebook_name, "notebook_text": notebook_text}
        wire.send(self.ctrl, {"op": "spawn", "config": config})
        data, fds, _, _ = socket.recv_fds(self.ctrl, 4096, 1)
        if not fds:
            raise RuntimeError("the grading sandbox did not hand over a child")
        header = json.loads(data[wire.HEADER.size:])
        sock = socket.socket(fileno=fds[0])
        pid = int(header["pid"])
        session = Session(sock, pid, self.config.uid_base + pid, self.isolated)
        try:
            ready = wire.recv(sock, timeout=timeout)
        except wire.WireError:
            session.close()
            raise RuntimeError("a grading child did not start") from None
        if ready.get("op") != "ready":
            session.close()
            raise RuntimeError(f"a grading child could not be confined: {ready.get('reason', '?')}")
        session.isolated = bool(ready.get("isolated"))
        return session

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                wire.send(self.ctrl, {"op": "exit"})
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        if self.ctrl:
            self.ctrl.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
