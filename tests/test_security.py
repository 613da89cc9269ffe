"""Hostile and broken submissions: no unearned points, no leaks, a report for everyone.

Every case is a submission built from the release notebooks, graded in one
official run (`autograder grade`, as root: confined children) with short time
limits. Each asserts the exact points its notebook must get. Attacks that
would only pay off if they succeeded (reading the solution or the answer key,
seeing the grader's environment) carry the correct solution behind the
success, so a breach would show up as points.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest

from autograder.commands import grade
from autograder.course import notebooks, submissions
from autograder.grading.pipeline import Limits
from autograder.sandbox import isolate
from autograder.tasks import answer_key

from .conftest import release_nb, source_nb
from .helpers import ROOT, source_notebooks

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="confinement needs root: run the suite as root (CI does; see README, Security)")

NB = "lstm_params"  # 5 points: 1 + 1 + 2 + 1
SECRET_PREFIX = "grader-secret-"
SECRET = SECRET_PREFIX + os.urandom(8).hex()  # only the prefix appears in any cheat
PKG = Path(__file__).resolve().parents[1] / "autograder"

SOLUTION = '''
def rnn_param_count(input_size, hidden_size):
    return hidden_size * (input_size + hidden_size + 1)
def lstm_param_count(input_size, hidden_size, num_layers=1, bias_vectors=1):
    t = 0
    for l in range(num_layers):
        i = input_size if l == 0 else hidden_size
        t += 4 * (hidden_size * i + hidden_size * hidden_size + bias_vectors * hidden_size)
    return t
exam_lstm_params = lstm_param_count(2, 3, num_layers=2)
'''


FORGE = """
import os, json, struct, stat
def _forge(message):
    fd = next(f for f in range(3, 1000) if _is_socket(f))
    data = json.dumps(message).encode()
    os.write(fd, struct.pack('!Q', len(data)) + data)
    os._exit(0)
def _is_socket(f):
    try:
        return stat.S_ISSOCK(os.fstat(f).st_mode)
    except OSError:
        return False
"""


def if_breached(condition: str) -> str:
    """Code that defines the correct solution only if ``condition`` (an attack) succeeded."""
    body = "\n".join("    " + l for l in SOLUTION.strip().splitlines())
    return f"try:\n    _ok = bool({condition})\nexcept BaseException:\n    _ok = False\nif _ok:\n{body}\n"


# name -> (base, code inserted as a new cell at the start (or end with "end:" prefix), expected points)
CASES = {
    # no unearned points: patching what a comparison could use
    "patch_numpy_comparisons": ("stub", """
import numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: np.True_
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.testing.assert_equal = lambda *a, **k: None
""", 0),
    "lying_objects": ("stub", """
import numpy as np
class Liar:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, *a, **k): return np.array(156.0)
    def __array_function__(self, *a, **k): return True
    def __float__(self): return 156.0
    def __int__(self): return 156
    def __index__(self): return 156
rnn_param_count = lambda *a, **k: Liar()
lstm_param_count = lambda *a, **k: Liar()
exam_lstm_params = Liar()
""", 0),
    "set_custom_exc": ("stub", "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)", 0),
    "showtraceback_disabled": ("stub", "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None", 0),
    "sys_excepthook": ("stub", "import sys\nsys.excepthook = lambda *a: None", 0),
    "input_transformer_rewrites_later_cells": ("stub", """
def _drop(lines):
    return [l for l in lines if 'raise NotImplementedError' not in l and 'assert' not in l]
get_ipython().input_transformers_post.append(_drop)
""", 0),
    "pre_run_cell_hook_prints_sources": ("stub", """
import os, sys
def _spy(info):
    src = getattr(info, 'raw_cell', '') or ''
    print(src); sys.stderr.write(src)
    os.write(1, src.encode()); os.write(2, src.encode())
    open('spy.txt', 'a').write(src)
get_ipython().events.register('pre_run_cell', _spy)
get_ipython().events.register('post_run_cell', lambda r: os.write(2, repr(dict(os.environ)).encode()))
""", 0),
    # no leaks: reading what the grader holds (success would define the solution)
    "read_source_notebook": ("stub", if_breached("open('{root}/source/exam22/lstm_params.ipynb').read()"), 0),
    "read_answer_key": ("stub", if_breached(f"open('{PKG}/tasks/lstm_params/key.toml').read()"), 0),
    "import_the_grader_package": ("stub", if_breached("__import__('autograder.tasks.lstm_params.checks')"), 0),
    "read_the_gradebook": ("stub", if_breached("open('{root}/gradebook.db','rb').read(16) == b'SQLite format 3\\x00'"), 0),
    "read_other_submissions": ("stub", if_breached("open('{folder}/reference/exam22/lstm_params.ipynb').read()"), 0),
    "read_grader_environment": ("stub", if_breached(f"'{SECRET_PREFIX}' in str(dict(__import__('os').environ))"), 0),
    "read_parent_environment": ("stub", if_breached(f"b'{SECRET_PREFIX}' in open('/proc/%d/environ' % __import__('os').getppid(), 'rb').read()"), 0),
    "network": ("stub", if_breached("__import__('socket').create_connection(('127.0.0.1', 22), timeout=1)"), 0),
    "write_gradebook_and_outputs": ("stub", """
import sqlite3, json, os
for target in ['{root}/gradebook.db']:
    try:
        db = sqlite3.connect(target); db.execute('UPDATE grade SET manual_score = 100'); db.commit()
    except Exception:
        pass
for folder in ['{out}', '{out}/reports', '{root}/autograded']:
    try:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, 'write_gradebook_and_outputs--exam22.json'), 'w').write('{{"score": 100}}')
    except Exception:
        pass
""", 0),
    "kill_every_process": ("solved", "end:import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept Exception:\n    pass", 5),
    # no leak through the environment block (prctl makes /proc/self/environ readable again)
    "read_environ_after_prctl": ("stub", if_breached(
        f"__import__('ctypes').CDLL(None).prctl(4, 1, 0, 0, 0) == 0 and "
        f"b'{SECRET_PREFIX}' in open('/proc/self/environ', 'rb').read()"), 0),
    # no leak from another copy of the course on the machine (the view is an allowlist)
    "read_another_copy_of_the_course": ("stub", if_breached("open('{copy}').read()"), 0),
    # no student-controlled names come back (type and exception names are fixed ones)
    "type_name_channel": ("stub", """
class Leak_zz_type_0_25:
    pass
rnn_param_count = lambda *a, **k: Leak_zz_type_0_25()
lstm_param_count = lambda *a, **k: Leak_zz_type_0_25()
exam_lstm_params = Leak_zz_type_0_25()
""", 0),
    "exception_name_channel": ("stub", """
class Leak_zz_exc_0_25(ArithmeticError):
    pass
def rnn_param_count(*a, **k):
    raise Leak_zz_exc_0_25('0.25')
lstm_param_count = rnn_param_count
""", 0),
    # one student cannot outlive or starve the others (PID/IPC namespaces, cgroups)
    "cpu_hogs_in_new_sessions": ("solved", "end:import os\nfor _ in range(20):\n    if os.fork() == 0:\n"
                                 "        os.setsid()\n        while True:\n            pass", 5),
    "fork_and_setsid_escaper": ("solved", "end:import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n"
                                "    if os.fork() == 0:\n        while True:\n            time.sleep(1)\n"
                                "    os._exit(0)\nos.waitpid(pid, 0)", 5),
    "sysv_shared_memory": ("solved", "end:import ctypes\n_libc = ctypes.CDLL(None)\n"
                           "for _ in range(4):\n    _libc.shmget(0, 16 << 20, 0o1600)", 5),
    # the wire and the codec: forged, oversized or over-complex replies cost only that test
    "forged_reply_padded_with_junk": ("solved", "end:" + FORGE + """
_real = rnn_param_count
def rnn_param_count(*a, **k):
    _forge({'op': 'reply', 'reply': {'ok': True, 'value': _real(*a, **k), 'junk': 'x' * (8 << 20)}})
""", 4),
    "reply_with_crafted_array_shape": ("solved", """end:import sys
_codec = sys.modules['autograder.bridge.codec']  # the child's own encoder, patched
_encode = _codec.encode
_CRAFTED = object()
def _crafted(value, _depth=0):
    if value is _CRAFTED:
        return {'__ndarray__': {'dtype': '<f8', 'shape': [2**62, 2**62, 2**40], 'data': ''}}
    return _encode(value, _depth)
_codec.encode = _crafted
def rnn_param_count(*a, **k):
    return _CRAFTED
""", 4),
    "reply_of_many_empty_lists": ("solved", "end:def rnn_param_count(*a, **k):\n    return [[]] * 2_100_000", 4),
    # a report for everyone, bounded in time; honest code is not punished
    "crash_in_a_cell": ("solved", "end:raise RuntimeError('boom')", 5),
    "sys_exit": ("solved", "end:import sys\nsys.exit(3)", 5),
    "os_exit": ("solved", "end:import os\nos._exit(1)", 5),
    "sigkill_self": ("solved", "end:import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", 5),
    "infinite_loop": ("solved", "end:while True:\n    pass", 5),
    "infinite_loop_ignoring_sigint": ("solved", "end:import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass", 5),
    "sleep_forever_in_a_child_process": ("solved", "end:import subprocess\nsubprocess.Popen(['sleep', '1000'])\nimport time\ntime.sleep(1000)", 5),
    "huge_output": ("solved", "end:import sys, os\nfor _ in range(300):\n    sys.stdout.write('x' * 1_000_000)\n    os.write(2, b'y' * 1_000_000)", 5),
    "memory_blow_up": ("solved", "end:import numpy as np\nbig = np.ones((200_000, 200_000))", 5),
    "memory_blow_up_gradually": ("solved", "end:big = []\nwhile True:\n    big.append(bytearray(2**28))", 5),
    "fork_bomb": ("solved", "end:import os\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n            import time; time.sleep(30); os._exit(0)\n    except OSError:\n        break", 5),
    "hang_inside_a_tested_function": ("solved", "end:_real = lstm_param_count\ndef lstm_param_count(*a, **k):\n    if k.get('num_layers', 1) > 1:\n        while True: pass\n    return _real(*a, **k)", 3),
    "die_inside_a_tested_function": ("solved", "end:_real = rnn_param_count\ndef rnn_param_count(*a, **k):\n    import os; os._exit(0)", 4),
    "honest_prints_and_warnings": ("solved", "end:import warnings, sys\nwarnings.warn('just a warning')\nprint('hello'); print('to stderr', file=sys.stderr)\n_real = lstm_param_count\ndef lstm_param_count(*a, **k):\n    warnings.warn('deprecated'); print('called'); sys.stderr.write('noise')\n    return _real(*a, **k)", 5),
}

# name -> how the notebook file is broken, expected points for NB, expected status
MALFORMED = {
    "invalid_json": (lambda text: text[:300], 0, "malformed"),
    "wrong_nbformat": (lambda text: text.replace('"nbformat": 4', '"nbformat": 99'), 0, "malformed"),
    "binary_junk": (lambda text: os.urandom(5000), 0, "malformed"),
    "not_a_notebook_json": (lambda text: '{"hello": "world"}', 0, "malformed"),
    "huge_notebook": (None, 0, "malformed"),
}


def _insert(nb, code: str):
    nb = notebooks.read_copy(nb)
    if code.startswith("end:"):
        nb.cells.append(notebooks.code(code[4:]))
    else:
        nb.cells.insert(0, notebooks.code(code))
    return nb


def _edited_tests(nb):
    """Test cells emptied, points inflated, checksums and grade_ids changed, cells renamed and duplicated."""
    nb = notebooks.read_copy(nb)
    for cell in nb.cells:
        meta = notebooks.nbgrader_meta(cell)
        if meta.get("grade") and cell.cell_type == "code":
            cell.source = "pass"
            meta["points"] = 100
            meta["checksum"] = "0" * 32
            meta["grade_id"] = "renamed_" + meta["grade_id"]
        elif meta.get("solution"):
            meta["grade_id"] = "renamed_" + meta["grade_id"]
    nb.cells[0].metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 50,
                                          "grade_id": "bonus", "schema_version": 3}
    nb.cells.extend(notebooks.read_copy(nb).cells)
    return nb


@pytest.fixture(scope="module")
def hostile(course, tmp_path_factory):
    root = course
    folder = tmp_path_factory.mktemp("hostile")
    out = tmp_path_factory.mktemp("hostile-out")
    rel = release_nb(course, "exam22", NB)
    solved = submissions.solved(rel, source_nb(course, "exam22", NB))
    bases = {"stub": rel, "solved": solved}
    expected = {}
    copy = _course_copy(root)
    for name, (base, code, points) in CASES.items():
        code = code.replace("{root}", str(root)).replace("{out}", str(out)).replace("{folder}", str(folder))
        code = code.replace("{copy}", str(copy))
        submissions.write(_insert(bases[base], code), folder / name / "exam22" / f"{NB}.ipynb")
        expected[name] = (points, "graded")
    text = notebooks.dumps(solved)
    for name, (breaker, points, status) in MALFORMED.items():
        path = folder / name / "exam22" / f"{NB}.ipynb"
        path.parent.mkdir(parents=True)
        if breaker is None:
            with path.open("w") as fh:  # ~300 MB
                fh.write(text[:-3] + ', "padding": "' + " " * (300 << 20) + '"}\n')
        else:
            data = breaker(text)
            path.write_bytes(data if isinstance(data, bytes) else data.encode())
        expected[name] = (points, status)
    submissions.write(_edited_tests(rel), folder / "edited_tests_stub" / "exam22" / f"{NB}.ipynb")
    expected["edited_tests_stub"] = (0, "graded")
    submissions.write(_edited_tests(solved), folder / "edited_tests_solved" / "exam22" / f"{NB}.ipynb")
    expected["edited_tests_solved"] = (5, "graded")
    stripped = notebooks.read_copy(solved)
    stripped.cells = [c for c in stripped.cells if not notebooks.nbgrader_meta(c).get("locked")]
    submissions.write(stripped, folder / "deleted_locked_and_test_cells" / "exam22" / f"{NB}.ipynb")
    expected["deleted_locked_and_test_cells"] = (5, "graded")
    submissions.write(solved, folder / "extra_notebooks" / "exam22" / f"{NB}.ipynb")
    submissions.write(solved, folder / "extra_notebooks" / "exam22" / "unexpected.ipynb")
    expected["extra_notebooks"] = (5, "graded")
    (folder / "missing_notebook" / "exam22").mkdir(parents=True)
    (folder / "missing_notebook" / "exam22" / "something_else.ipynb").write_text("{}")
    expected["missing_notebook"] = (0, "missing")
    submissions.write(solved, folder / "reference" / "exam22" / f"{NB}.ipynb")
    expected["reference"] = (5, "graded")

    os.environ["AUTOGRADER_TEST_SECRET"] = SECRET
    before = _gradebook_rows(root)
    log = []
    limits = Limits(cell_seconds=3, notebook_seconds=40)
    tmp = tmp_path_factory.mktemp("hostile-tmp")  # the run's TMPDIR: must be empty afterwards
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(tmp), None
    isolate.become_subreaper()  # whatever of this run outlives it is re-parented here (see the survival test)
    try:
        reports = grade.run(folder, "exam22", out, jobs=2, root=root, limits=limits, echo=log.append)
    finally:
        tempfile.tempdir = saved[1]
        if saved[0] is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = saved[0]
        shutil.rmtree(copy.parents[2])
    yield {"reports": {r["student"]: r for r in reports}, "expected": expected, "out": out, "log": log,
           "root": root, "before": before, "folder": folder, "tmp": tmp}
    isolate.unset_subreaper()


def _course_copy(root: Path) -> Path:
    """A world-readable copy of the solution notebook elsewhere on the machine (outside all the grader names)."""
    base = Path("/srv") if Path("/srv").is_dir() else Path("/opt")
    folder = Path(tempfile.mkdtemp(prefix="autograder-test-copy-", dir=base))
    folder.chmod(0o755)
    nb = folder / "source" / "exam22" / f"{NB}.ipynb"
    nb.parent.mkdir(parents=True)
    for p in (nb.parent.parent, nb.parent):
        p.chmod(0o755)
    text = notebooks.dumps(submissions.solved(release_nb(root, "exam22", NB), source_nb(root, "exam22", NB)))
    nb.write_text(text)
    nb.chmod(0o644)
    return nb


def _gradebook_rows(root):
    db = sqlite3.connect(root / "gradebook.db")
    try:
        return db.execute("SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL").fetchone()[0]
    finally:
        db.close()


def _nb(rep, name=NB):
    return next(r for r in rep["notebooks"] if r["notebook"] == name)


def test_grader_runs_as_root_so_children_are_confined(hostile):
    assert os.geteuid() == 0, "the security suite must run as root (CI does: `make test` as root)"
    assert all(r["isolation"].startswith("confined") for r in hostile["reports"].values())


ALL_CASES = sorted(list(CASES) + list(MALFORMED) + ["edited_tests_stub", "edited_tests_solved",
                                                    "deleted_locked_and_test_cells", "extra_notebooks",
                                                    "missing_notebook", "reference"])


@pytest.mark.parametrize("case", ALL_CASES)
def test_case_gets_exactly_its_points(hostile, case):
    points, status = hostile["expected"][case]
    result = _nb(hostile["reports"][case])
    assert (result["score"], result["status"]) == (points, status), result
    assert result["max_score"] == 5  # points come from the gradebook, never from the submission


@pytest.mark.parametrize("case", ALL_CASES)
def test_every_case_has_a_report_with_a_readable_reason(hostile, case):
    path = hostile["out"] / "reports" / f"{case}--exam22.json"
    rep = json.loads(path.read_text())
    result = _nb(rep)
    for test in result["tests"]:
        if test["status"] != "passed":
            assert test["message"] and len(test["message"]) < 600
    assert (hostile["out"] / "feedback" / case / "exam22" / f"{NB}.html").is_file()


def test_timeouts_and_deaths_are_named_in_the_report(hostile):
    notes = {c: " ".join(_nb(hostile["reports"][c]).get("cells", [])) for c in
             ("infinite_loop", "infinite_loop_ignoring_sigint", "os_exit", "memory_blow_up")}
    assert "did not finish within" in notes["infinite_loop"]
    assert "did not finish within" in notes["infinite_loop_ignoring_sigint"]
    assert "died" in notes["os_exit"]
    assert "MemoryError" in notes["memory_blow_up"]
    hang = _nb(hostile["reports"]["hang_inside_a_tested_function"])
    assert any("did not finish within" in t["message"] for t in hang["tests"])


def test_malformed_notebooks_say_what_is_wrong(hostile):
    assert "invalid JSON" in _nb(hostile["reports"]["invalid_json"])["problem"]
    assert "too large" in _nb(hostile["reports"]["huge_notebook"])["problem"]
    assert "not UTF-8" in _nb(hostile["reports"]["binary_junk"])["problem"]
    assert "not submitted" in _nb(hostile["reports"]["missing_notebook"])["problem"]


def test_writes_to_the_gradebook_and_outputs_do_not_land(hostile):
    assert _gradebook_rows(hostile["root"]) == hostile["before"]
    rep = json.loads((hostile["out"] / "reports" / "write_gradebook_and_outputs--exam22.json").read_text())
    assert rep["score"] == 0 and rep["notebooks"]
    assert not (hostile["root"] / "autograded" / "write_gradebook_and_outputs--exam22.json").exists()


def _status(pid: str) -> dict:
    with open(f"/proc/{pid}/status") as fh:
        return dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)


def _descends_from_us(pid: str) -> bool:
    me, seen = os.getpid(), 0
    while pid not in ("0", "1") and seen < 100:
        if int(pid) == me:
            return True
        try:
            pid = _status(pid)["PPid"].strip()
        except (OSError, KeyError):
            return False
        seen += 1
    return False


def test_no_sandbox_process_survives(hostile):
    """Only this run's processes: the fixture made this process the subreaper of everything it started."""
    leftovers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = _status(entry)
                uid = int(status["Uid"].split()[0])
            except (OSError, KeyError, ValueError):
                continue
            if uid >= 200_000 and not status["State"].startswith("Z") and _descends_from_us(entry):
                leftovers.append(entry)
    assert leftovers == []


def test_no_shared_memory_segment_survives(hostile):
    with open("/proc/sysvipc/shm") as fh:
        owners = [int(line.split()[7]) for line in fh.readlines()[1:]]
    assert not [uid for uid in owners if uid >= 200_000]


def test_the_run_leaves_nothing_in_its_temporary_folder(hostile):
    for _ in range(100):  # a zygote removes its scratch folder as it exits, just after the run returns
        if not os.listdir(hostile["tmp"]):
            break
        time.sleep(0.05)
    assert os.listdir(hostile["tmp"]) == []


@pytest.mark.parametrize("case", ["type_name_channel", "exception_name_channel"])
def test_student_chosen_names_never_come_back(hostile, case):
    result = _nb(hostile["reports"][case])
    said = json.dumps([result.get("cells", []), [t["message"] for t in result["tests"]]])
    assert "Leak_zz" not in said
    assert "0.25" not in said


def test_forged_and_oversized_replies_cost_only_their_test(hostile):
    for case, reason in (("forged_reply_padded_with_junk", "broke the grading protocol"),
                         ("reply_with_crafted_array_shape", "could not be read")):
        failed = [t for t in _nb(hostile["reports"][case])["tests"] if t["status"] != "passed"]
        assert len(failed) == 1 and reason in failed[0]["message"], failed
    failed = [t for t in _nb(hostile["reports"]["reply_of_many_empty_lists"])["tests"] if t["status"] != "passed"]
    assert len(failed) == 1 and "stopped during this test" in failed[0]["message"], failed


# -- leaks ------------------------------------------------------------------------------

def _hidden_material() -> list[str]:
    """Hidden-test lines (source notebooks' hidden regions, check modules) and expected values.

    Leaves out what students see anyway: the release notebooks (public tests)
    and the solution cells (a student's own code is shown back to them).
    """
    visible = "\n".join(p.read_text() for p in (ROOT / "release").rglob("*.ipynb"))
    visible += "\n".join(json.dumps(c.source) + c.source for p in source_notebooks().values()
                         for c in notebooks.read(p).cells if notebooks.nbgrader_meta(c).get("solution"))
    lines = set()
    for path in source_notebooks().values():
        lines |= notebooks.hidden_lines(notebooks.read(path))
    for path in (ROOT / "autograder" / "tasks").glob("*/checks.py"):
        for line in path.read_text().splitlines():
            s = line.strip()
            if len(s) >= 30 and not s.startswith(("#", "import ", "from ", '"""')) and s not in visible:
                lines.add(s)
    values = set()
    for task in answer_key.tasks():
        for entry in answer_key.raw(task).values():
            for v in _numbers(entry):
                for text in (repr(v), f"{v:.6g}", f"{v:.4f}"):
                    if len(re.sub(r"[^0-9]", "", text).strip("0")) >= 4 and text not in visible:
                        values.add(text)
    return sorted(lines) + sorted(values)


def _numbers(obj):
    if isinstance(obj, float) and obj == obj and abs(obj) not in (float("inf"),):
        yield obj
    elif isinstance(obj, list):
        for x in obj:
            yield from _numbers(x)
    elif isinstance(obj, dict):
        for k, x in obj.items():
            if k not in ("document", "problem", "equation", "verified", "note", "erratum"):
                yield from _numbers(x)


@pytest.mark.filterwarnings("ignore::UserWarning")
def _submitted_text(hostile, official) -> str:
    """Everything the students themselves wrote (their code is shown back to them)."""
    folders = [hostile["folder"]] + [official[a]["__out__"].parent for a in official]
    parts = []
    for folder in {hostile["folder"], hostile["root"] / "submitted"}:
        for path in folder.rglob("*.ipynb"):
            if path.stat().st_size < 5_000_000:
                parts.append(path.read_text(errors="replace"))
                try:
                    parts += [c.source for c in notebooks.read(path).cells]
                except Exception:  # noqa: BLE001 - malformed on purpose
                    pass
    del folders
    return "\n".join(parts)


#: a time the grader writes (graded_at, submitted_at, seen_at): its digits come from a clock, and the
#: fraction of a second once matched an answer-key value by chance ("...:20.632037Z" holds "0.632037")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?(Z| UTC|[+-]\d\d:?\d\d)?")


def _student_visible(hostile, official) -> dict[str, str]:
    """Every file students may see, and the console, with the grader's own timestamps masked."""
    texts = {}
    outs = [hostile["out"]] + [official[a]["__out__"] for a in official]
    for out in outs:
        for path in out.rglob("*"):
            if path.is_file() and path.suffix in (".json", ".html", ".md", ".csv"):
                text = path.read_text(errors="replace")
                texts[str(path)] = TIMESTAMP.sub("<time>", html.unescape(text) if path.suffix == ".html" else text)
    texts["console"] = TIMESTAMP.sub("<time>", "\n".join(hostile["log"]))
    return texts


@pytest.mark.filterwarnings("ignore")  # nbformat repairing the duplicated cells of a case
def test_no_hidden_test_line_or_expected_value_reaches_anything_students_see(hostile, official):
    own = _submitted_text(hostile, official)
    material = [m for m in _hidden_material() if m not in own]
    assert len(material) > 50
    texts = _student_visible(hostile, official)
    leaks = [(where, m) for where, text in texts.items() for m in material if m in text]
    assert leaks == []
    assert not any(SECRET in t for t in texts.values())


def test_grader_console_output_holds_nothing_the_student_printed(hostile, capfd):
    console = "\n".join(hostile["log"])
    assert "xxxxxxxxxx" not in console and "yyyyyyyyyy" not in console
    assert "raise NotImplementedError" not in console and SECRET not in console
