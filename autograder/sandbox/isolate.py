"""Confining a forked child before it runs student code (Linux).

As root the child gets, before it drops to a unique unprivileged uid:

* a private mount namespace in which every path the grader names (the course
  directory's contents, the grading package, the gradebook, the output and
  submission folders) is covered by an empty read-only tmpfs, and /tmp,
  /var/tmp and /dev/shm are fresh private tmpfs;
* a private network namespace (no network at all);
* a uid of its own (so it can neither signal, trace nor write the grader's
  processes and files), no capabilities, ``no_new_privs``.

Everyone (root or not) gets resource limits, an empty environment and
/dev/null for its standard streams. What holds where is summarised in the
README's Security section.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import stat
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(
        None if source is None else os.fsencode(source), os.fsencode(target),
        None if fstype is None else os.fsencode(fstype), ctypes.c_ulong(flags),
        None if data is None else os.fsencode(data)), f"mount {target}")


def python_paths() -> list[str]:
    """Directories the child's Python must still read (interpreter, stdlib, site-packages)."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    paths |= {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(p for p in paths if p.count(os.sep) >= 2)  # never "/" or a top-level directory


def _closed_ancestor(path: str) -> str | None:
    """The highest ancestor of ``path`` that others may not traverse (mode o-x)."""
    parts = os.path.realpath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        ancestor = os.sep.join(parts[:i]) or os.sep
        try:
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                return ancestor
        except OSError:
            return None
    return None


def _minimal(paths):
    out = []
    for p in sorted(set(paths)):
        if not any(p == q or p.startswith(q.rstrip(os.sep) + os.sep) for q in out):
            out.append(p)
    return out


def confine_root(hide: list[str], needed: list[str]) -> None:
    """Namespaces and mounts (must run as root, before dropping privileges).

    ``needed`` directories (Python's own) stay readable whatever covers them:
    a directory others cannot traverse (e.g. /root holding pyenv), or the
    private /tmp when the virtual environment lives there.
    """
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = _minimal(p for p in needed if os.path.isdir(p))
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in keep}
    inodes = {p: (os.stat(p).st_dev, os.stat(p).st_ino) for p in keep}
    closed = sorted({top for p in keep if (top := _closed_ancestor(p))})
    for top in _minimal(closed):
        _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
    for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(tmp):
            _mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "size=512m,mode=1777")
    for path in hide:
        if not os.path.lexists(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
        else:
            _mount("/dev/null", path, None, MS_BIND)
    for p, fd in fds.items():
        try:
            same = (os.stat(p).st_dev, os.stat(p).st_ino) == inodes[p]
        except OSError:
            same = False
        if not same:
            os.makedirs(p, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", p, None, MS_BIND | MS_REC)
        os.close(fd)
    for top in _minimal(closed):
        _mount(None, top, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=64k,mode=0755")


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def limit_resources(memory_bytes: int, file_bytes: int, processes: int | None, cpu_seconds: int) -> None:
    with open("/proc/self/statm") as fh:
        vsz = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vsz + memory_bytes, vsz + memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def quiet_std_streams() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def clean_environment(home: str) -> None:
    bindir = os.path.dirname(sys.executable)
    os.environ.clear()
    os.environ.update({
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "MPLCONFIGDIR": os.path.join(home, ".matplotlib"), "IPYTHONDIR": os.path.join(home, ".ipython"),
    })


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (a sandbox uid: only student code)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            os.kill(int(entry), 9)
                        break
        except (OSError, ValueError):
            continue
