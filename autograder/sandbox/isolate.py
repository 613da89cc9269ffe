"""Confining a forked child before it runs student code (Linux).

As root, each child is the first process (init) of a PID namespace of its
own, made by the zygote, and then gets:

* its own IPC namespace (SysV shared memory, semaphores and message queues
  die with it) and mount namespace, and no network (the zygote's own empty
  network namespace, made once: see :mod:`.zygote`);
* an *allowlisted* view of the filesystem (:func:`build_root`): a new
  read-only tmpfs root holding only read-only bind mounts of Python's
  installation (the interpreter, stdlib, site-packages), the system's
  programs and libraries (``/usr/bin``, ``/usr/lib*``, fonts, zoneinfo), a few
  files of ``/etc``, the devices ``null zero full random urandom``, a fresh
  ``/proc`` of its own PID namespace and private tmpfs ``/tmp``, ``/var/tmp``
  and ``/dev/shm``. Nothing else of the machine exists in it (no course, no
  home folders, no ``/srv``, no ``/sys``); paths the grader names are also
  covered when they lie inside an allowlisted folder;
* optionally a cgroup (see :mod:`.cgroups`);
* a uid of its own, no capabilities, ``no_new_privs``.

Everyone (root or not) gets resource limits, an allowlisted environment and
/dev/null for its standard streams. What holds where is summarised in the
README's Security section.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
_SYS_SETNS = {"x86_64": 308, "aarch64": 268, "riscv64": 268, "ppc64le": 350, "s390x": 339}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

#: what the zygote (and so every child) starts with: nothing of the grader's environment
ENV_ALLOWED = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONNOUSERSITE": "1"}

#: system folders a child may read (when they exist), besides Python's own (:func:`python_paths`)
SYSTEM_DIRS = ("/usr/bin", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libexec", "/usr/share/fonts",
               "/usr/share/zoneinfo", "/usr/share/matplotlib", "/etc/fonts", "/etc/ld.so.conf.d",
               "/etc/alternatives")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf")
TOP_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(
        None if source is None else os.fsencode(source), os.fsencode(target),
        None if fstype is None else os.fsencode(fstype), ctypes.c_ulong(flags),
        None if data is None else os.fsencode(data)), f"mount {target}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.syscall(_SYS_SETNS[platform.machine()], ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def minimal_environment(**extra: str) -> dict:
    """The zygote's whole environment: fixed values (PATH, locale, thread counts, ...) plus ``extra``."""
    bindir = os.path.dirname(sys.executable)
    env = dict(ENV_ALLOWED, PATH=f"{bindir}:/usr/local/bin:/usr/bin:/bin", HOME="/")
    env.update(extra)
    return env


def python_paths() -> list[str]:
    """Directories the child's Python must still read (interpreter, stdlib, site-packages)."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    paths = set(prefixes)
    for p in sys.path:  # only Python's own folders: never a project folder someone put on sys.path
        real = os.path.realpath(p) if p else ""
        if real and os.path.isdir(real) and (any(_within(real, q) for q in prefixes) or any(
                part in ("site-packages", "dist-packages") for part in real.split(os.sep))):
            paths.add(real)
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(p for p in paths if p.count(os.sep) >= 2)  # never "/" or a top-level directory


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _minimal(paths):
    out = []
    for p in sorted(set(paths)):
        if not any(_within(p, q) for q in out):
            out.append(p)
    return out


def allowlist(hide: list[str]) -> list[str]:
    """The folders bound (read-only) into a child's view: Python's and the system's, never a hidden one."""
    return list(_allowlist(tuple(hide)))


@functools.lru_cache(maxsize=8)
def _allowlist(hide: tuple) -> tuple:
    hidden = [os.path.realpath(h) for h in hide]
    wanted = [os.path.realpath(p) for p in list(python_paths()) + list(SYSTEM_DIRS) if os.path.isdir(p)]
    keep = [p for p in wanted if p.count(os.sep) >= 2 and not any(_within(p, h) for h in hidden)]
    return tuple(_minimal(keep))


def _bind(fd_or_path, target: str, is_dir: bool, flags: int = MS_NOSUID | MS_NODEV) -> None:
    if is_dir:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            with open(target, "w"):
                pass
    source = f"/proc/self/fd/{fd_or_path}" if isinstance(fd_or_path, int) else fd_or_path
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def build_root(hide: list[str], uid: int, tmp_bytes: int = 512 << 20) -> None:
    """Replace this process's filesystem view by the allowlisted one (as root, after unshare(NEWNS)).

    Args:
        hide: paths the grader names (course, package, outputs); covered if inside an allowlisted folder.
        uid: the child's uid (owns ``/tmp/work``).
        tmp_bytes: size of each private tmpfs (``/tmp``, ``/dev/shm``).
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    dirs = allowlist(hide)
    # open everything first: the new root is mounted over /tmp, which may hold some of it
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in dirs}
    files = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in SYSTEM_FILES if os.path.isfile(p)}
    links = {p: os.readlink(p) for p in TOP_LINKS if os.path.islink(p)}
    new = "/tmp"  # any directory will do as the mount point of the new root
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    # the private temporary folders first, the binds after: an allowlisted folder may live under /tmp
    # (a virtual environment in a clone under /tmp) and must not be covered by the private /tmp
    for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
        os.makedirs(new + tmp, mode=0o755, exist_ok=True)
        _mount("tmpfs", new + tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_bytes},mode=1777")
    try:
        for p, fd in fds.items():
            _bind(fd, new + p, True)
        for p, fd in files.items():
            _bind(fd, new + p, False)
    finally:
        for fd in list(fds.values()) + list(files.values()):
            os.close(fd)
    for p, target in links.items():
        if not os.path.lexists(new + p):
            os.symlink(target, new + p)
    for p in hide:
        real = os.path.realpath(p)
        if any(_within(real, d) for d in dirs) and os.path.exists(new + real):
            if os.path.isdir(new + real):
                _mount("tmpfs", new + real, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
            else:
                _mount("/dev/null", new + real, None, MS_BIND)
    os.makedirs(new + "/etc", mode=0o755, exist_ok=True)
    with open(new + "/etc/passwd", "w") as fh:
        fh.write(f"root:x:0:0:root:/:/usr/sbin/nologin\nstudent:x:{uid}:{uid}:student:/tmp/work:/usr/sbin/nologin\n")
    with open(new + "/etc/group", "w") as fh:
        fh.write(f"root:x:0:\nstudent:x:{uid}:\n")
    os.makedirs(new + "/dev", mode=0o755, exist_ok=True)  # /dev/shm is mounted already
    for name in DEVICES:
        _bind(f"/dev/{name}", f"{new}/dev/{name}", False, MS_NOSUID | MS_NOEXEC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{new}/dev/{name}")
    os.makedirs(new + "/proc", mode=0o555)
    _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(new)
    _check(_libc.syscall(_SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    os.makedirs("/tmp/work", mode=0o700)
    os.chown("/tmp/work", uid, uid)


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def become_subreaper() -> None:
    """Orphans below this process are re-parented to it (and reaped by it), not to the machine's init."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def unset_subreaper() -> None:
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def limit_resources(memory_bytes: int, file_bytes: int, processes: int | None, cpu_seconds: int) -> None:
    with open("/proc/self/statm") as fh:
        vsz = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vsz + memory_bytes, vsz + memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def limit_worker_memory(extra_bytes: int = 6 << 30) -> None:
    """Put the calling grading worker under a memory limit of its own (its size now + ``extra_bytes``).

    Only the soft limit is lowered, so the zygote it starts can lift it again.

    Args:
        extra_bytes: address space the worker may still add (checks, replies, reports).
    """
    with open("/proc/self/statm") as fh:
        vsz = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = vsz + extra_bytes
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def lift_memory_limit() -> None:
    """Undo an inherited soft address-space limit (the zygote, started by a limited worker)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def quiet_std_streams() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def clean_environment(home: str) -> None:
    os.environ.clear()
    os.environ.update(minimal_environment(
        HOME=home, MPLCONFIGDIR=os.path.join(home, ".matplotlib"), IPYTHONDIR=os.path.join(home, ".ipython")))
