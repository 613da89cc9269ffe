"""One control group per sandboxed child: memory (tmpfs included), CPU share and process count.

Each zygote gets a :class:`Parent`; a :class:`Group` under it is made by the
grader for each child before it is spawned;
the child joins it (writes itself to ``cgroup.procs``) before it runs student
code, so everything the student starts is inside.
After the child's PID namespace is gone, :meth:`Group.remove` deletes it;
the zygote (at its end, whatever ends its grader) and the grader (at
:meth:`Parent.remove`) kill what is left and delete the parent.

cgroup v2 is used when the grader's own cgroup may delegate ``memory``,
``pids`` and ``cpu`` to a sub-tree; otherwise the cgroup v1 hierarchies of
those controllers, when mounted and writable; otherwise nothing (and
:func:`available` says why, for the run's log). Only root can use either.
"""

from __future__ import annotations

import itertools
import os
import queue
import signal
import threading
import time

ROOT = "/sys/fs/cgroup"
_CONTROLLERS = ("memory", "pids", "cpu")
_counter = itertools.count(1)
_STATE: dict = {}


def _own_path(hierarchy: str) -> str | None:
    """This process's cgroup in ``hierarchy`` ("" for v2, else a v1 controller name)."""
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, names, path = line.rstrip("\n").split(":", 2)
                if (hierarchy == "" and names == "") or hierarchy in names.split(","):
                    return path
    except OSError:
        return None
    return None


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _v2_base() -> str | None:
    """Where this process may make v2 groups with memory, pids and cpu: its own cgroup, else the root."""
    mount = ROOT if os.path.exists(os.path.join(ROOT, "cgroup.controllers")) else os.path.join(ROOT, "unified")
    own = _own_path("")
    if own is None or not os.path.exists(os.path.join(mount, "cgroup.controllers")):
        return None
    for base in dict.fromkeys([os.path.join(mount, own.lstrip("/")).rstrip("/"), mount]):
        # (a cgroup holding processes cannot delegate controllers; the root of the hierarchy can)
        try:
            with open(os.path.join(base, "cgroup.controllers")) as fh:
                if not set(_CONTROLLERS) <= set(fh.read().split()):
                    continue
            with open(os.path.join(base, "cgroup.subtree_control")) as fh:
                enabled = set(fh.read().split())
            if not set(_CONTROLLERS) <= enabled:
                _write(os.path.join(base, "cgroup.subtree_control"), " ".join("+" + c for c in _CONTROLLERS))
        except OSError:
            continue
        return base
    return None


def _v1_bases() -> dict | None:
    bases = {}
    for controller in _CONTROLLERS:
        own = _own_path(controller)
        mount = os.path.join(ROOT, controller)
        if own is None or not os.path.isdir(mount):
            return None
        bases[controller] = os.path.join(mount, own.lstrip("/"))
    return bases


def _probe() -> dict:
    """Which cgroups this process may make: {"version": 2|1|0, "bases": [...], "why": str} (cached)."""
    if _STATE:
        return _STATE
    _STATE.update(version=0, bases=[], why="")
    if os.geteuid() != 0:
        _STATE["why"] = "not root"
        return _STATE
    base = _v2_base()
    if base is not None:
        _STATE.update(version=2, bases=[base])
        return _STATE
    bases = _v1_bases()
    if bases is not None and all(os.access(b, os.W_OK) for b in bases.values()):
        _STATE.update(version=1, bases=list(bases.values()))
        return _STATE
    _STATE["why"] = "no writable cgroup (v2 with memory, pids and cpu delegated, or v1 hierarchies of them)"
    return _STATE


def available() -> tuple[bool, str]:
    """(usable, a line for the run's log) for this process."""
    state = _probe()
    if state["version"]:
        return True, f"per-child cgroup v{state['version']}: memory (tmpfs included), CPU share, process count"
    return False, f"no per-child cgroup ({state['why']}): only per-process limits (rlimits) apply"


class Parent:
    """The group(s) holding one zygote's children; ``dirs`` is empty when none can be made.

    Making and deleting a cgroup costs milliseconds (v1 memory groups most), so a
    background thread makes the next child's group and deletes finished ones
    while the grader waits for student code.
    """

    def __init__(self):
        state = _probe()
        self.version, self.dirs = state["version"], []
        self._tasks: queue.Queue = queue.Queue()
        self._spares: queue.Queue = queue.Queue()
        self._thread = None
        if not self.version:
            return
        name = f"autograder-{os.getpid()}-{next(_counter)}"
        try:
            for base in state["bases"]:
                parent = os.path.join(base, name)
                os.mkdir(parent)
                self.dirs.append(parent)
                if self.version == 2:
                    _write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in _CONTROLLERS))
        except OSError:
            self.remove()

    def group(self, memory_bytes: int, processes: int) -> Group:
        """A child group under this parent, with these limits (no limits if the parent could not be made)."""
        limits = (memory_bytes, processes)
        group = None
        while group is None:
            try:
                spare = self._spares.get_nowait()
            except queue.Empty:
                group = Group(self, *limits)
                break
            if spare.limits == limits and spare.dirs:
                group = spare
            else:
                spare.remove()
        self._submit(("make", limits))
        return group

    def _submit(self, task) -> None:
        if not self.dirs:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="cgroups", daemon=True)
            self._thread.start()
        self._tasks.put(task)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            kind, arg = task
            try:
                if kind == "make":
                    self._spares.put(Group(self, *arg))
                else:
                    arg.remove_now()
            except Exception:  # noqa: BLE001 - best effort; remove() sweeps what is left
                pass

    def discard(self, group: Group) -> None:
        """Delete ``group`` in the background (its processes are being killed)."""
        if self._thread is None:
            group.remove_now()
        else:
            self._tasks.put(("remove", group))

    def stop(self) -> None:
        """Finish the background work (no new spare group after this)."""
        if self._thread is not None:
            self._tasks.put(None)
            self._thread.join(timeout=60)
            self._thread = None

    def remove(self) -> None:
        """Kill whatever is left in the children's groups, then delete them and the parent."""
        self.stop()
        remove_tree(self.dirs)
        self.dirs = []


def remove_tree(parents: list) -> None:
    """Kill every process left in ``parents``' child groups, then delete the groups (best effort)."""
    for parent in parents:
        try:
            children = [os.path.join(parent, e) for e in os.listdir(parent) if e.startswith("child-")]
        except OSError:
            continue
        for child in children:
            kill_all(child)
            _rmdir(child)
        _rmdir(parent, tries=20)


def kill_all(path: str) -> None:
    """SIGKILL every process in the group ``path`` (they are all sandboxed student processes)."""
    if os.path.exists(os.path.join(path, "cgroup.kill")):
        try:
            _write(os.path.join(path, "cgroup.kill"), "1")
            return
        except OSError:
            pass
    try:
        with open(os.path.join(path, "cgroup.procs")) as fh:
            pids = [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            with open(os.path.join(path, "cgroup.procs")) as fh:  # still that process (no pid reuse)
                if str(pid) in fh.read().split():
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)


def _rmdir(path: str, tries: int = 50) -> bool:
    for i in range(tries):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.002 * (i + 1))  # its last processes are still exiting
    return False


class Group:
    """A child's cgroup(s) under a :class:`Parent`; ``dirs`` is empty when none can be made."""

    def __init__(self, parent: Parent, memory_bytes: int, processes: int, cpu_weight: int = 100):
        self.parent, self.limits, self.dirs = parent, (memory_bytes, processes), []
        name = f"child-{next(_counter)}"
        try:
            for parent_dir in parent.dirs:
                path = os.path.join(parent_dir, name)
                os.mkdir(path)
                self.dirs.append(path)
                if parent.version == 2:
                    _write(os.path.join(path, "memory.max"), str(memory_bytes))
                    if os.path.exists(os.path.join(path, "memory.swap.max")):
                        _write(os.path.join(path, "memory.swap.max"), "0")
                    _write(os.path.join(path, "pids.max"), str(processes))
                    _write(os.path.join(path, "cpu.weight"), str(cpu_weight))
                    continue
                if os.path.exists(os.path.join(path, "memory.limit_in_bytes")):
                    _write(os.path.join(path, "memory.limit_in_bytes"), str(memory_bytes))
                    if os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes")):
                        _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(memory_bytes))
                if os.path.exists(os.path.join(path, "pids.max")):
                    _write(os.path.join(path, "pids.max"), str(processes))
                if os.path.exists(os.path.join(path, "cpu.shares")):
                    _write(os.path.join(path, "cpu.shares"), str(cpu_weight * 1024 // 100))
        except OSError:
            self.remove_now()

    def remove(self) -> None:
        """Delete the group(s) once their processes are gone (in the parent's background thread)."""
        self.parent.discard(self)

    def remove_now(self) -> bool:
        """Delete the group(s) now, waiting briefly for exiting processes; False if one is still busy."""
        ok = all([_rmdir(path) for path in self.dirs])
        self.dirs = []
        return ok


class CgroupError(Exception):
    """A child could not join its cgroup (the grader then goes on without cgroups, and logs it)."""


def join(dirs: list) -> None:
    """Move the calling process into ``dirs`` (called in the child, as root, before it is confined)."""
    for path in dirs:
        try:
            _write(os.path.join(path, "cgroup.procs"), "0")
        except OSError as exc:
            raise CgroupError(f"{os.path.basename(os.path.dirname(path))}: {exc.strerror}") from None
