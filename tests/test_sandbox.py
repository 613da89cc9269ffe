"""The sandbox on its own: environment, memory, filesystem view, namespaces, cgroups, wire and codec.

The confinement cases need root (as the security suite does); the wire and
codec cases run anywhere. Each hostile case asserts its exact outcome and
that nothing is left behind (process, segment, cgroup, file).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from autograder.bridge import codec, protocol
from autograder.sandbox import MAX_REPLY_BYTES, SandboxConfig, SessionDead, Zygote, cgroups, isolate, wire

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="confinement needs root (see README, Security)")


@pytest.fixture(scope="module")
def zygote():
    with Zygote(SandboxConfig(memory_bytes=512 << 20, processes=32, tmp_bytes=64 << 20)) as z:
        yield z


def _get(session, code: str):
    ok, error = session.run_cell("import os, sys, ctypes, socket, json, struct\n" + code, 20)
    assert ok, (code, error)
    reply = session.request({"kind": "get", "target": "x", "attr": None}, 20)
    assert reply["ok"], reply
    return codec.decode(reply["value"])


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as fh:
                    status = fh.read()
            except OSError:
                continue
            if re.search(rf"^Uid:\s+{uid}\s", status, re.M) and not re.search(r"^State:\s+Z", status, re.M):
                found.append(int(entry))
    return found


def _shm_segments_of(uid: int) -> int:
    with open("/proc/sysvipc/shm") as fh:
        rows = [line.split() for line in fh.readlines()[1:]]
    return sum(1 for r in rows if int(r[7]) == uid)  # columns: key shmid perms size cpid lpid nattch uid


def _memory_holds(pid: int, marker: bytes) -> bool:
    """Whether ``marker`` is anywhere in the readable memory of process ``pid`` (as root)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if "r" not in perms or line.rstrip().endswith(("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(v, 16) for v in span.split("-"))
            try:
                mem.seek(start)
                if marker in mem.read(end - start):
                    return True
            except (OSError, ValueError, OverflowError):
                continue
    return False


# -- 1. environment ---------------------------------------------------------------------

@root_only
def test_zygote_and_children_start_from_an_allowlisted_environment(monkeypatch):
    secret = "agA-fake-secret-" + os.urandom(6).hex()
    monkeypatch.setenv("AUTOGRADER_FAKE_TOKEN", secret)
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    with Zygote() as z:
        with open(f"/proc/{z.proc.pid}/environ", "rb") as fh:
            zygote_env = dict(kv.split(b"=", 1) for kv in fh.read().split(b"\0") if kv)
        session = z.spawn()
        # the prctl trick: become dumpable again, then read the process's original environment block
        block = _get(session, "ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)\n"
                              "x = open('/proc/self/environ', 'rb').read().decode('utf-8', 'replace')")
        now = _get(session, "x = dict(os.environ)")
        session.close()
    allowed = set(isolate.minimal_environment()) | {"PYTHONPATH"}  # (the package's own folder)
    assert {k.decode() for k in zygote_env} == allowed
    assert secret.encode() not in b"".join(zygote_env.values())
    child_env = dict(kv.split("=", 1) for kv in block.split("\0") if kv)
    assert set(child_env) == allowed
    assert secret not in block and secret not in json.dumps(now)
    assert set(now) == set(isolate.minimal_environment()) | {"MPLCONFIGDIR", "IPYTHONDIR"}


# -- 2. no other student's code in the zygote ----------------------------------------------

@root_only
def test_a_notebooks_text_reaches_only_its_own_child(zygote):
    marker = ("agA-marker-" + os.urandom(8).hex()).encode()
    session = zygote.spawn("task.ipynb", '{"cells": ["' + marker.decode() + '"]}')
    assert _get(session, "x = open('task.ipynb').read()") == '{"cells": ["' + marker.decode() + '"]}'
    assert not open(f"/proc/{session.pid}/task/{session.pid}/children").read().split()  # one process
    assert _memory_holds(session.pid, marker)  # the check can see it where it is
    session.close()
    later = zygote.spawn("task.ipynb", "{}")
    assert not _memory_holds(zygote.proc.pid, marker)
    assert not _memory_holds(later.pid, marker)
    assert _get(later, "x = open('task.ipynb').read()") == "{}"
    later.close()


# -- 3. the allowlisted filesystem view -------------------------------------------------------

@pytest.fixture
def course_copy():
    """A world-readable second copy of a course, outside every folder the grader names."""
    base = "/srv" if os.path.isdir("/srv") else "/opt"
    folder = tempfile.mkdtemp(prefix="autograder-test-copy-", dir=base)
    os.chmod(folder, 0o755)
    nb = os.path.join(folder, "source", "exam22", "lstm_params.ipynb")
    os.makedirs(os.path.dirname(nb), mode=0o755)
    with open(nb, "w") as fh:
        fh.write("the solution")
    os.chmod(nb, 0o644)
    yield nb
    shutil.rmtree(folder)


@root_only
def test_a_second_copy_of_the_course_is_not_in_the_childs_view(zygote, course_copy):
    assert open(course_copy).read() == "the solution"  # readable to anyone on the machine
    session = zygote.spawn()
    seen = _get(session, f"""
def probe(path):
    try:
        return open(path).read()
    except OSError as exc:
        return type(exc).__name__
x = [probe({course_copy!r}), sorted(os.listdir('/')), probe('/etc/shadow'), probe('/etc/hostname'),
     sorted(os.listdir('/dev')), sorted(p for p in os.listdir('/proc') if p.isdigit()), probe('/sys/kernel/notes'),
     probe('/root/.bashrc'), os.access('/usr/lib', os.W_OK), os.access('/tmp', os.W_OK)]
""")
    session.close()
    assert seen[0] == "FileNotFoundError"
    tops = set(seen[1])
    assert tops <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp", "var"} | {
        p.split(os.sep)[1] for p in isolate.allowlist([])}
    assert not tops & {"srv", "opt", "home", "mnt", "media", "sys", "boot"} - {
        p.split(os.sep)[1] for p in isolate.allowlist([])}
    assert seen[2:4] == ["FileNotFoundError", "FileNotFoundError"]
    assert seen[4] == ["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "urandom", "zero"]
    assert seen[5] == ["1"]  # a /proc of its own PID namespace, whose init is the student's process itself
    assert seen[6] == "FileNotFoundError"
    assert seen[7] in ("FileNotFoundError", "PermissionError")
    assert seen[8:] == [False, True]


def test_the_allowlist_never_holds_a_hidden_folder():
    hidden = os.path.realpath(sys.prefix)  # the virtual environment

    def covered(paths):
        return any(hidden == p or hidden.startswith(p + os.sep) or p.startswith(hidden + os.sep) for p in paths)

    assert covered(isolate.allowlist([]))
    assert not covered(isolate.allowlist([hidden]))


# -- 4. PID and IPC namespaces, uids, cgroups ----------------------------------------------------

ESCAPER = """
def escape():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            import time
            while True:
                time.sleep(1)
        os._exit(0)
    os.waitpid(pid, 0)
for _ in range(3):
    escape()
libc = ctypes.CDLL(None)
shmid = libc.shmget(0, 1 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
x = [os.getuid(), shmid]
"""


@root_only
def test_killing_a_child_kills_everything_it_started_and_its_shared_memory(zygote):
    session = zygote.spawn()
    uid, shmid = _get(session, ESCAPER)
    assert shmid >= 0
    assert len(_processes_of(uid)) == 4  # the student's process and three escapers in sessions of their own
    assert _shm_segments_of(uid) == 0  # its segment lives in its own IPC namespace, not the machine's
    other = zygote.spawn()
    assert _get(other, "x = os.getuid()") != uid  # no uid shared by two children
    other.close()
    session.close()
    assert _processes_of(uid) == []
    assert not os.path.exists(f"/proc/{session.pid}")


@root_only
def test_uids_come_from_the_namespace_init_whose_pid_is_held_while_anything_lives(zygote):
    session = zygote.spawn()
    uid = _get(session, "x = os.getuid()")
    assert uid == SandboxConfig().uid_base + session.pid
    session.close()


@root_only
def test_the_student_process_is_its_namespace_init_and_signals_from_inside_do_not_reach_it(zygote):
    session = zygote.spawn()
    assert _get(session, "x = [os.getpid(), os.getppid()]") == [1, 0]  # one process: no separate init
    ok, _ = session.run_cell("import signal\nos.kill(os.getpid(), signal.SIGKILL)\nos.kill(1, signal.SIGTERM)", 10)
    assert ok and session.alive  # an init ignores signals from its own namespace it has no handler for
    assert _get(session, "x = 'still here'") == "still here"
    session.close()
    assert not os.path.exists(f"/proc/{session.pid}")


@root_only
def test_children_have_no_network_and_a_child_leaves_nothing_in_it_for_the_next(zygote):
    first = zygote.spawn()
    net = _get(first, "x = [os.readlink('/proc/self/ns/net'), socket.if_nameindex()]")
    ok, _ = first.run_cell("import socket\nleft = socket.socket(socket.AF_UNIX)\nleft.bind('\\0agA-left-behind')\n"
                           "left.listen()", 10)
    assert ok
    first.close()
    second = zygote.spawn()
    seen = _get(second, """
def probe(address, family):
    s = socket.socket(family)
    s.settimeout(2)
    try:
        s.connect(address)
        return 'reached'
    except OSError as exc:
        return type(exc).__name__
x = [os.readlink('/proc/self/ns/net'), probe('\\0agA-left-behind', socket.AF_UNIX),
     probe(('127.0.0.1', 22), socket.AF_INET), probe(('1.1.1.1', 53), socket.AF_INET)]
""")
    second.close()
    assert net[1] == [(1, "lo")]  # the loopback interface only (and it is down)
    assert net[0] == seen[0] != os.readlink("/proc/self/ns/net")  # the zygote's own empty namespace
    assert seen[1] == "ConnectionRefusedError"  # the first child's socket died with it
    assert seen[2:] == ["OSError", "OSError"]  # no interface is up: nothing is reachable
    with Zygote(SandboxConfig()) as other:  # a second worker's zygote: a namespace of its own
        third = other.spawn()
        assert _get(third, "x = os.readlink('/proc/self/ns/net')") not in (seen[0], os.readlink("/proc/self/ns/net"))
        third.close()


needs_cgroups = pytest.mark.skipif(os.geteuid() != 0 or not cgroups.available()[0],
                                   reason="no writable cgroup on this machine")


@needs_cgroups
def test_a_cgroup_limits_tmpfs_memory_and_process_count():
    with Zygote(SandboxConfig(memory_bytes=256 << 20, processes=16, tmp_bytes=1 << 30)) as z:
        session = z.spawn()
        dirs = list(session.group.dirs)
        assert dirs and all(os.path.isdir(d) for d in dirs)
        count = _get(session, """
n = 0
for _ in range(40):
    try:
        if os.fork() == 0:
            import time; time.sleep(60); os._exit(0)
        n += 1
    except OSError:
        break
x = n
""")
        assert count < 16
        with pytest.raises(SessionDead) as dead:  # 400 MiB (in files under the 64 MiB file limit) into /dev/shm
            session.run_cell("for i in range(8):\n    with open(f'/dev/shm/big{i}', 'wb') as f:\n"
                             "        for _ in range(50):\n            f.write(b'x' * (1 << 20))", 30)
        assert "died" in dead.value.reason
        parents = list(z.cgroups.dirs)
        assert parents
    assert not any(os.path.exists(p) for p in dirs + parents)


@needs_cgroups
def test_a_zygote_whose_grader_died_removes_its_cgroups_and_children():
    z = Zygote(SandboxConfig())
    session = z.spawn()
    uid = _get(session, "x = os.getuid()")
    parents = list(z.cgroups.dirs)
    assert _processes_of(uid) and all(os.path.isdir(p) for p in parents)
    z.cgroups.stop()  # a killed worker's threads die with it: no spare group is made after this
    z.ctrl.close()  # what the zygote sees when its grading worker is killed
    z.proc.wait(timeout=30)
    assert _processes_of(uid) == []
    assert not any(os.path.exists(p) for p in parents)
    assert not os.path.exists(z.scratch)
    z.ctrl = None
    z.close()


def test_cgroups_available_says_why_not_when_not():
    usable, note = cgroups.available()
    assert note.startswith("per-child cgroup v") if usable else note.startswith("no per-child cgroup (")


# -- 5. the wire and the codec ------------------------------------------------------------------

def _pair_with(payload: bytes, length: int | None = None):
    a, b = socket.socketpair()
    a.sendall(wire.HEADER.pack(len(payload) if length is None else length) + payload)
    a.close()
    return b


@pytest.mark.parametrize("payload,length,error", [
    (b"[]" * 10, None, wire.WireProtocolError),  # not a dict
    (b"{" + b'"a":' + b"[]," * 100 + b"1}", None, wire.WireProtocolError),  # malformed JSON
    (b'{"a":[' + b"[]," * 5000 + b"[]]}", None, wire.WireProtocolError),  # over the node budget
    (b"{}", 1 << 40, wire.WireProtocolError),  # claims to be 1 TiB long
    (b'{"a":1', None, wire.WireProtocolError),
    (b'{"a":' + b"1" * 5000 + b"}", None, wire.WireProtocolError),  # an integer too long to parse
])
def test_wire_refuses_oversized_complex_or_malformed_messages(payload, length, error):
    sock = _pair_with(payload, length)
    with pytest.raises(error):
        wire.recv(sock, timeout=5, max_bytes=1 << 20, max_nodes=1000)
    sock.close()


def test_wire_counts_a_slow_message_against_its_deadline():
    a, b = socket.socketpair()
    a.sendall(wire.HEADER.pack(100) + b"{")  # the rest never comes
    with pytest.raises(wire.WireTimeout):
        wire.recv(b, timeout=0.2)
    a.close()
    b.close()


BAD_VALUES = [
    {"__ndarray__": {"dtype": "<f8", "shape": [-1], "data": ""}},
    {"__ndarray__": {"dtype": "<f8", "shape": [2**62, 2**62], "data": ""}},
    {"__ndarray__": {"dtype": "<f8", "shape": [2**70], "data": ""}},
    {"__ndarray__": {"dtype": "<f8", "shape": [1.5], "data": "AAAAAAAAAAA="}},
    {"__ndarray__": {"dtype": "<f8", "shape": [True], "data": "AAAAAAAAAAA="}},
    {"__ndarray__": {"dtype": "<f8", "shape": "12", "data": ""}},
    {"__ndarray__": {"dtype": "(2,)<f8", "shape": [1], "data": "A" * 24}},
    {"__ndarray__": {"dtype": "O", "shape": [1], "data": "AAAAAAAAAAA="}},
    {"__ndarray__": {"dtype": "<f8", "shape": [2], "data": "AAAAAAAAAAA="}},
    {"__ndarray__": {"dtype": "<f8", "shape": [1], "data": "!!!!"}},
    {"__ndarray__": {"dtype": "<f8", "shape": [1]}},
    {"__ndarray__": [1, 2]},
    {"__npscalar__": {"dtype": "<f8", "shape": [1], "data": "AAAAAAAAAAA="}},
    {"__bigint__": "12x"},
    {"__bigint__": "--5"},
    {"__bigint__": "9" * 401},
    {"__float__": "1e999"},
    {"__tuple__": {"a": 1}},
    {"__dict__": [1]},
    {"__what__": 1},
    {"a": 1, "b": 2},
    2**64,
    -(2**63) - 1,
    [[]] * 2_000_000,
    json.loads("[" * 30 + "1" + "]" * 30),
]


@pytest.mark.parametrize("index", range(len(BAD_VALUES)))
def test_codec_raises_only_decode_error_on_crafted_input(index):
    with pytest.raises(codec.DecodeError):
        codec.decode(BAD_VALUES[index])


def test_codec_budget_counts_every_value():
    codec.decode([0] * 1000, max_nodes=1001)
    with pytest.raises(codec.DecodeError):
        codec.decode([0] * 1000, max_nodes=1000)
    big = codec.encode(np.zeros(1 << 20))  # 8 MiB: a legitimate large answer
    assert codec.decode(big).shape == (1 << 20,)
    assert len(json.dumps(big)) < MAX_REPLY_BYTES


def test_codec_round_trips_what_it_did_before():
    values = [None, True, 3, -(2**63), 2**80, 1.5, math.inf, "s\ud800", [1, (2, 3)], {"a": {"b": []}},
              np.arange(6, dtype=np.int16).reshape(2, 3), np.float32(2.5), np.array(3.0), np.zeros((0, 3)),
              np.array([1 + 2j]), np.array([True, False])]
    for v in values:
        got = codec.decode(json.loads(json.dumps(codec.encode(v))))
        if isinstance(v, np.ndarray):
            assert got.dtype == v.dtype and got.shape == v.shape and (got == v).all()
        else:
            assert got == v and type(got) is type(v)


class Secret_abc123:  # noqa: N801 - a student-chosen name that must not come back
    pass


def test_unsupported_values_carry_only_fixed_names():
    assert codec.encode({1, 2}) == {"__unsupported__": "builtins.set"}
    assert codec.encode(Secret_abc123()) == {"__unsupported__": "an unsupported object"}
    assert codec.encode(np.zeros(2, dtype=[("secret_field", "f8")])) == {
        "__unsupported__": "array of a structured dtype"}
    assert codec.encode(np.array(["secret"])) == {"__unsupported__": "array of strings"}
    assert codec.decode({"__unsupported__": "Secret_abc123"}).type_name == "an unsupported object"
    assert codec.decode({"__unsupported__": "builtins.set"}).type_name == "builtins.set"
    assert codec.Unsupported("x" * 50).type_name == "an unsupported object"


def test_exception_names_come_from_a_fixed_list():
    class Leak_0_25(ValueError):  # noqa: N801
        pass

    class Meta(type):
        def mro(cls):
            return [cls, object]

    class Odd(Exception, metaclass=Meta):
        pass

    assert protocol.error_name(Leak_0_25()) == "ValueError"
    assert protocol.error_name(np.linalg.LinAlgError()) == "LinAlgError"
    assert protocol.error_name(Odd()) in protocol.KNOWN_ERRORS
    assert protocol.known_error_name("Leak_0_25") is None
    assert protocol.known_error_name("ZeroDivisionError") == "ZeroDivisionError"
    reply = protocol.serve({"f": lambda: (_ for _ in ()).throw(Leak_0_25())}, {"kind": "call", "target": "f"})
    assert reply == {"ok": False, "error": "ValueError"}


FORGE = """
import os, json, struct, stat
def _is_socket(f):
    try:
        return stat.S_ISSOCK(os.fstat(f).st_mode)
    except OSError:
        return False
fd = next(f for f in range(3, 1000) if _is_socket(f))
def forge(message, raw=None):
    data = raw if raw is not None else json.dumps(message).encode()
    os.write(fd, struct.pack('!Q', len(data)) + data)
"""


@root_only
@pytest.mark.parametrize("forged,outcome", [
    ('forge({"op": "done", "ok": False, "error": "Leak_0_25"})', (False, None)),
    ('forge({"op": "done", "ok": True, "error": None, "junk": "x" * 1000})', "broke the grading protocol"),
    ('forge(None, b"[" + b"[],"* 3_000_000 + b"[]]")', "broke the grading protocol"),
    ('forge(None, b"{}" + b" " * (64 << 20))', "broke the grading protocol"),
    ('forge({"op": "reply", "reply": {"ok": True, "value": 1}})', "broke the grading protocol"),
])
def test_forged_replies_from_a_child_are_refused_or_reduced_to_fixed_names(zygote, forged, outcome):
    session = zygote.spawn()
    if isinstance(outcome, tuple):
        assert session.run_cell(FORGE + forged, 20) == outcome
    else:
        with pytest.raises(SessionDead) as dead:
            session.run_cell(FORGE + forged, 20)
        assert outcome in dead.value.reason
        assert not session.alive
    session.close()


@root_only
def test_a_forged_error_name_in_a_reply_becomes_an_exception(zygote):
    session = zygote.spawn()
    ok, _ = session.run_cell(FORGE + "def f():\n    forge({'op': 'reply', 'reply': {'ok': False, "
                                      "'error': 'Leak_0_25'}})\n    import time; time.sleep(60)", 20)
    assert ok
    reply = session.request({"kind": "call", "target": "f", "args": [], "kwargs": {"__dict__": {}}}, 20)
    assert reply == {"ok": False, "error": "an exception"}
    session.close()


# -- 7. nothing left in /tmp ------------------------------------------------------------------

def test_a_zygote_leaves_nothing_in_its_temporary_folder(monkeypatch, tmp_path):
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with Zygote(SandboxConfig(isolate=False)) as z:
        session = z.spawn("task.ipynb", "{}")
        assert session.run_cell("import matplotlib.pyplot as plt\nplt.plot([1]); plt.savefig('a.png')", 20)[0]
        assert len(os.listdir(private)) == 1  # the zygote's scratch folder, while it runs
        session.close()
    assert os.listdir(private) == []


def test_a_zygote_started_early_is_adopted_replaced_when_it_dies_and_reaped_by_its_starter(monkeypatch, tmp_path):
    import signal

    from autograder import sandbox

    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", None)
    launch = sandbox.Launch()  # as the run starts it for its first worker (here adopted in the same process)
    early = launch.proc.pid
    with Zygote(SandboxConfig(isolate=False), launch=launch) as z:
        assert z.proc.pid == early and z.scratch == launch.scratch
        session = z.spawn()
        assert _get(session, "x = 6 * 7") == 42
        session.close()
        os.kill(early, signal.SIGKILL)  # it dies: the next spawn starts a zygote of the adopter's own
        z.proc.wait(timeout=30)
        session = z.spawn()
        assert z.proc.pid != early and isinstance(z.proc, subprocess.Popen)
        assert _get(session, "x = 6 * 7") == 42
        session.close()
    launch.reap()
    assert launch.proc.returncode == -signal.SIGKILL
    assert os.listdir(private) == []


#: a fresh, single-threaded interpreter (forking pytest's process, which may hold threads, could deadlock the child):
#: the run's side of twins, a forked worker that adopts one, and the others still serving; prints what it saw
TWINS_RUN = r"""
import json, os
from autograder import sandbox
from autograder.bridge import codec
from autograder.sandbox import SandboxConfig, Zygote


def parent_of(pid):
    with open(f"/proc/{pid}/status") as fh:
        return int(next(line.split()[1] for line in fh if line.startswith("PPid:")))


def sockets_of(pid):
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def answer(z):
    session = z.spawn()
    ok, _ = session.run_cell("x = 6 * 7", 20)
    reply = session.request({"kind": "get", "target": "x", "attr": None}, 20)
    session.close()
    return codec.decode(reply["value"]) if ok and reply.get("ok") else None


launch = sandbox.Launch()
twins = launch.twins(2)  # waits until the zygote is warm, as the run does before forking its workers
facts = {"twins": len(twins), "ready": launch.ready.get("op"), "zygote": launch.proc.pid,
         "pids": [t.proc.pid for t in twins], "parents": [parent_of(t.proc.pid) for t in twins],
         "scratches": len({launch.scratch, *(t.scratch for t in twins)})}
sockets = {f"socket:[{os.fstat(held.ctrl.fileno()).st_ino}]" for held in (launch, *twins)}
worker = os.fork()
if worker == 0:  # a grading worker: adopts the second twin
    status = 3
    try:
        with Zygote(SandboxConfig(isolate=False), launch=twins[1]) as z:
            got = answer(z)
            kept = sockets_of(os.getpid()) & (sockets - {f"socket:[{os.fstat(z.ctrl.fileno()).st_ino}]"})
            status = 0 if got == 42 and z.proc.pid == twins[1].proc.pid and not kept else 2
    finally:
        os._exit(status)
twins[1].handed_over()
facts["worker"] = os.waitpid(worker, 0)[1]
twins[1].reap(timeout=30)  # its worker closed it: it ended (and its zygote collected it)
facts["its_scratch_left"] = os.path.exists(twins[1].scratch)
facts["others"] = []
for held in (twins[0], launch):  # the others still serve (here adopted in this process)
    with Zygote(SandboxConfig(isolate=False), launch=held) as z:
        facts["others"].append([z.proc.pid == held.proc.pid, answer(z)])
    held.reap(timeout=30)
facts["held"] = len(sandbox._HELD)
print(json.dumps(facts))
"""


def test_twins_of_an_early_zygote_are_forks_of_it_each_serving_only_the_worker_that_adopted_it(tmp_path):
    private = tmp_path / "tmp"
    private.mkdir()
    proc = subprocess.run([sys.executable, "-c", TWINS_RUN], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TMPDIR": str(private)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout.splitlines()[-1])
    assert facts["twins"] == 2 and facts["ready"] == "ready"
    assert len({facts["zygote"], *facts["pids"]}) == 3
    assert facts["parents"] == [facts["zygote"]] * 2  # forked from the warm zygote, not started anew
    assert facts["scratches"] == 3  # a scratch folder each
    assert facts["worker"] == 0  # it got its answer from its twin, and holds no socket of the other zygotes
    assert facts["its_scratch_left"] is False
    assert facts["others"] == [[True, 42], [True, 42]]
    assert facts["held"] == 0
    assert os.listdir(private) == []
    assert not any(os.path.exists(f"/proc/{pid}") for pid in [facts["zygote"], *facts["pids"]])


def test_a_twin_whose_fork_failed_is_answered_with_a_socket_and_skipped_and_the_next_one_is_taken(monkeypatch,
                                                                                                  tmp_path):
    import json
    import threading

    from autograder import sandbox
    from autograder.sandbox import zygote

    # the zygote's side: a failed fork is answered (pid None), with a socket all the same
    ours, theirs = socket.socketpair()

    def no_fork():
        raise OSError("no memory")

    monkeypatch.setattr(os, "fork", no_fork)
    assert zygote._twin(theirs, str(tmp_path / "s")) is None
    data, fds, _, _ = socket.recv_fds(ours, 4096, 1)
    assert json.loads(data[wire.HEADER.size:]) == {"op": "twin", "pid": None} and len(fds) == 1
    os.close(fds[0])
    monkeypatch.undo()
    ours.close()
    theirs.close()
    # the run's side: a zygote answers two twin requests, the first one failed, the second one a process
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    run_end, zygote_end = socket.socketpair()
    stand_in = subprocess.Popen(["sleep", "60"])  # stands for the twin process
    twin_end, twin_theirs = socket.socketpair()

    def fake_zygote():
        requests = [wire.recv(zygote_end, timeout=30) for _ in range(2)]
        assert [r["op"] for r in requests] == ["twin", "twin"]
        wire.send(zygote_end, {"op": "ready", "pid": os.getpid()})
        spare, _ = socket.socketpair()
        for pid, end in ((None, spare), (stand_in.pid, twin_theirs)):
            header = json.dumps({"op": "twin", "pid": pid}).encode()
            socket.send_fds(zygote_end, [wire.HEADER.pack(len(header)) + header], [end.fileno()])
        wire.send(twin_end, {"op": "ready", "pid": stand_in.pid})

    helper = threading.Thread(target=fake_zygote)
    helper.start()
    first = subprocess.Popen(["sleep", "60"])  # stands for the zygote the twins are forks of
    launch = sandbox.Launch(sandbox._Adopted(first.pid), run_end, str(tmp_path / "first"), tempfile.TemporaryFile())
    try:
        [twin] = launch.twins(2, timeout=30)
        helper.join(30)
        assert twin.proc.pid == stand_in.pid and twin.ready == {"op": "ready", "pid": stand_in.pid}
        assert launch.ready["op"] == "ready" and os.path.isdir(twin.scratch)
        assert os.listdir(tmp_path) == [os.path.basename(twin.scratch)]  # the failed twin's folder is removed
        twin.discard()  # kills the stand-in through its pidfd
        assert stand_in.wait(timeout=30) == -9 and os.listdir(tmp_path) == []
        assert first.poll() is None  # the zygote itself stays, for the first worker
    finally:
        launch.handed_over()
        for process in (stand_in, first):
            process.kill()
            process.wait()


def test_an_early_zygote_nobody_took_is_discarded_at_exit(tmp_path):
    script = ("import os, sys\nfrom autograder import sandbox\nsandbox.launch_early()\n"
              "print(sandbox._EARLY[0].proc.pid, sandbox._EARLY[0].scratch, flush=True)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    pid, scratch = proc.stdout.split()
    assert scratch.startswith(str(tmp_path)) and os.listdir(tmp_path) == []
    assert not os.path.exists(f"/proc/{pid}")  # stopped and reaped (not left running, nor a zombie)


def test_zygotes_keep_the_font_list_in_the_users_cache_and_children_never_see_it(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with Zygote(SandboxConfig()) as z:
        session = z.spawn()
        seen = _get(session, f"x = os.path.exists({str(tmp_path / 'cache')!r})")
        session.close()
    [kept] = (tmp_path / "cache" / "autograder" / "matplotlib").glob("fontlist-*.json")
    stamp = kept.stat().st_mtime_ns
    with Zygote(SandboxConfig(isolate=False)):
        pass
    assert kept.stat().st_mtime_ns == stamp  # read, not built again
    assert seen is (os.geteuid() != 0)  # confined children: not in their view
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # no cache possible: the zygote still starts
    with Zygote(SandboxConfig(isolate=False)) as z:
        session = z.spawn()
        assert _get(session, "import matplotlib.pyplot as plt\nx = len(plt.figure().get_axes())") == 0
        session.close()


def test_a_zygote_that_cannot_start_says_why_in_its_log(tmp_path):
    from autograder.sandbox import _PACKAGE_PARENT

    proc = subprocess.run([sys.executable, "-m", "autograder.sandbox.zygote", "987", str(tmp_path / "scratch")],
                          capture_output=True, text=True, timeout=60,
                          env=isolate.minimal_environment(PYTHONPATH=_PACKAGE_PARENT))
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "OSError" in proc.stderr  # fd 987 is no socket


@needs_cgroups
def test_a_machine_that_refuses_a_cgroup_join_is_graded_without_cgroups_and_says_so(caplog):
    with Zygote(SandboxConfig()) as z:
        parents = list(z.cgroups.dirs)
        real = z.cgroups.group

        def refused(memory_bytes, processes):
            group = real(memory_bytes, processes)
            group.dirs = [os.path.join(d, "missing") for d in group.dirs]
            return group

        z.cgroups.group = refused
        with caplog.at_level("WARNING", logger="autograder.sandbox"):
            session = z.spawn("task.ipynb", "{}")
        assert z.cgroups is None and session.group is None
        assert _get(session, "x = open('task.ipynb').read()") == "{}"
        assert any("going on without per-child cgroups" in r.getMessage() for r in caplog.records)
        session.close()
        assert not any(os.path.exists(p) for p in parents)


@root_only
# the forked child makes a few system calls and _exits, never touching a lock another thread may hold
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_an_allowlisted_folder_under_tmp_stays_readable_in_the_view(tmp_path):
    """A virtual environment in a clone under /tmp (where CI may clone) must not vanish under the private /tmp."""
    folder = tmp_path / "venv-like" / "site-packages"
    folder.mkdir(parents=True)
    (folder / "marker.py").write_text("X = 1\n")
    assert str(folder).startswith("/tmp/")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a view built as a sandbox child builds it, then look
        answer = b"?"
        try:
            os.close(r)
            isolate.unshare(isolate.CLONE_NEWNS)
            real = isolate.python_paths
            isolate.python_paths = lambda: [*real(), str(folder)]
            isolate._allowlist.cache_clear()
            isolate.build_root([], uid=os.getuid())
            readable = (folder / "marker.py").read_text() == "X = 1\n"
            private_tmp = not (tmp_path / "venv-like" / "other").exists() and os.path.isdir("/tmp/work")
            answer = b"ok" if readable and private_tmp else b"missing"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            answer = type(exc).__name__.encode() + b": " + str(exc).encode()[:200]
        finally:
            os.write(w, answer)
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as fh:
        assert fh.read() == b"ok"


WORKER_LIMIT = """
import resource, sys
from autograder.sandbox import isolate
isolate.limit_worker_memory(256 << 20)
try:
    blob = bytearray(1 << 30)
except MemoryError:
    print("refused")
else:
    print("allocated")
isolate.lift_memory_limit()
blob = bytearray(1 << 30)
print("lifted", len(blob) == 1 << 30)
"""


def test_a_grading_worker_cannot_be_made_to_allocate_past_its_own_limit():
    """A worker under limit_worker_memory is refused an allocation past its size + extra; its zygote can lift it."""
    proc = subprocess.run([sys.executable, "-c", WORKER_LIMIT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["refused", "lifted", "True"]


def _mounts() -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return sorted(line.split()[4] for line in fh)


@root_only
def test_children_leave_no_mount_behind_in_the_graders_namespace():
    """Each child's view (tmpfs root, ~35 bind mounts, its /tmp) lives in its own mount namespace only."""
    before = _mounts()
    with Zygote(SandboxConfig(memory_bytes=512 << 20, processes=32, tmp_bytes=64 << 20)) as z:
        sessions = [z.spawn() for _ in range(3)]
        assert _get(sessions[0], "open('/tmp/x', 'w').write('1'); x = len(open('/proc/self/mountinfo').read()) > 0")
        assert _mounts() == before  # nothing of the children's views shows in the grader's namespace
        for s in sessions:
            s.close()
    assert _mounts() == before


# -- 8. the zygote's shortcut through IPython's token pass ----------------------------------------

TOKEN_PASS_CASES = [
    "%time x = 1", "!ls", "!!ls", "x = %pwd", "y = !ls", "y = \\\n    !ls", "obj?", "?obj", "obj??",
    "%%timeit\nx = 1\n",
    ",f a b", "/f a", ";f a", "a = 1\n  %time b", "s = '''\n%not a magic\n'''", "a != b", "a %= 3", "x = 7 % 3",
    "print('what?')", "  x = 1\n  y = 2", "\n\nx = 1", ">>> x = 1\n... y = 2", "In [1]: x = 1\n   ...: y = 2",
    "f'{x!r}'", "x = 1 \\\n  + 2", "def f():\n  return 1\n    x", "if x:\n y\n  z", "x = (1,\n", "'unterminated",
    "x = 1\n# a comment: what?\n", "\tx = 1", "d = {'a': 1}; d['a']", "", "\n", "pass", "x = [i for i in range(3)]\n",
]


def _repo_cells() -> list:
    from autograder.course import notebooks
    from tests.helpers import ROOT, mutants_of, source_notebooks

    cells = []
    for task, source in source_notebooks().items():
        for path in (source, ROOT / "release" / source.parent.name / source.name):
            cells += [c.source for c in notebooks.read(path).cells if c.cell_type == "code"]
        for mutant in mutants_of(task).values():
            cells += list(mutant["cells"].values())
    return cells


def _outcome(manager, text):
    try:
        return manager.transform_cell(text)
    except Exception as exc:  # noqa: BLE001 - the two must fail alike too
        return type(exc).__name__


def test_the_token_pass_is_skipped_only_where_it_changes_nothing():
    from types import SimpleNamespace

    from IPython.core.inputtransformer2 import TransformerManager

    from autograder.sandbox import zygote as zygote_mod

    fast = SimpleNamespace(input_transformer_manager=TransformerManager())
    zygote_mod.skip_idle_token_pass(fast)
    cells = _repo_cells()
    assert len(cells) > 200
    skipped = [c for c in cells if not zygote_mod.special_syntax_possible(c)]
    assert len(skipped) > 0.9 * len(cells)  # the shortcut is taken for almost every cell of the course
    for text in cells + TOKEN_PASS_CASES:
        assert _outcome(fast.input_transformer_manager, text) == _outcome(TransformerManager(), text), text
    for text in TOKEN_PASS_CASES[:10]:  # special syntax: rewritten by the full pass, as before
        assert zygote_mod.special_syntax_possible(text)
        assert _outcome(fast.input_transformer_manager, text) != text + "\n" * (not text.endswith("\n")), text

    class Shout:  # a notebook's own token transformer: the full pass runs
        priority = 0

        def __init__(self, start):
            self.start_line, self.start_col = start

        @classmethod
        def find(cls, tokens_by_line):
            for line in tokens_by_line:
                for token in line:
                    if token.string == "quiet":
                        return cls(token.start)

        def transform(self, lines):
            return [line.replace("quiet", "LOUD") for line in lines]

    fast.input_transformer_manager.token_transformers.append(Shout)
    assert fast.input_transformer_manager.transform_cell("x = quiet") == "x = LOUD\n"


@root_only
def test_magics_still_work_in_a_child(zygote):
    session = zygote.spawn()
    assert _get(session, "y = %pwd\nz = !echo hello\nx = [y, list(z), 7 % 3 != 2]") == ["/tmp/work", ["hello"], True]
    session.close()


def test_every_child_starts_from_the_same_random_state():
    draw = "import numpy as np\nx = [float(np.random.rand()), float(np.random.randn()), np.random.randint(1 << 30)]"
    draws = []
    for _ in range(2):  # two zygotes, as two grading workers have
        with Zygote(SandboxConfig(isolate=False)) as z:
            for _ in range(2):
                session = z.spawn()
                draws.append(_get(session, draw))
                session.close()
    assert draws[0] == draws[1] == draws[2] == draws[3]
