"""No check pays for a constant: an audit of every check of every task (issue 15 F).

A student can see the exam's inputs and every public test's inputs, so a
function that returns, whatever it is called with, what the solution returns
on the first input a check gives it earns nothing; nor does one that returns
zeros of the right shape (which also defeats a check that only compares the
student with themself, e.g. "the batch gradient equals the mean of the
per-example ones").

The stubs are built generically, in-process (no sandbox): the solution's
namespace answers the requests of :mod:`autograder.bridge.protocol`; the stub
transport replaces the *value* of every reply to a ``call`` (functions, and
methods of objects made by ``new``) by the recorded first value for that
function in that check, or by zeros of the value's structure. ``get`` (data the
student declares, e.g. weights or a number) is the student's answer itself:
the constant stub leaves it alone, the zeros stub zeroes it too.

A third stub is a lookup table of everything a student can know: a request
that is the same whatever the check's random generator draws (the exam's
inputs, a public test's, anything fixed in the check) is answered correctly,
every other one with zeros. So no check may pay for fixed inputs alone, however
many of them it uses.

Then hostile answers (odd types, crafted encodings the codec rejects or chokes
on, crafted exception names, arguments the child claims changed): every one
ends in the student's failure (``CheckFailed``, never an internal error) with
a message that echoes none of it; and the message helpers' exact wording.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.bridge import codec, protocol
from autograder.course import notebooks
from autograder.grading import checking
from autograder.grading.checking import CheckFailed, Student, checks_of, seed_for
from autograder.tasks import load

from .helpers import execute_cells, source_notebooks

TASKS = sorted(source_notebooks())

#: checks that read only declared data (``get``), never call the student's code: a constant
#: is the answer by nature there (the exam's parameter count is a number, the RNN's weights
#: are three arrays, judged by their behaviour on the exam's and random accounts, with the reference
#: recurrence, so that a mistake in rnn_forward costs rnn_forward's check only). The zeros stub still
#: covers them.
DATA_ONLY = {("lstm_params", "test_exam_answer"), ("bank_rnn", "test_weight_shapes"),
             ("bank_rnn", "test_exam_states"), ("bank_rnn", "test_bank_behaviour")}


def _where(task: str, name: str) -> str:
    """Where a check lives, for the messages below."""
    return f"task {task}, check {name} (autograder/tasks/{task}/checks.py)"


#: what to do when a check pays for something other than the student's own work
REAL_WORK = ("call the student's code on inputs drawn from student.rng and compare with the task's reference "
             "(or numerical_gradient) on them, inputs the student has not seen, never only with the student's "
             "own output")
#: where the students' failure messages are worded, and what to do when a wording test fails
WORDING = ("autograder/grading/checking.py: a message helper's wording changed; students read these messages, so "
           "keep them coarse (no expected value, no dimension, nothing of the student's answer) and update this "
           "test only on purpose")


def _data_only_missing(task: str, name: str) -> str:
    return (f"{_where(task, name)} calls none of the student's functions or methods: "
            f"call the student's functions, or, if reading data is the whole task, add ({task!r}, {name!r}) "
            "to DATA_ONLY in tests/test_checks_audit.py")


def _data_only_stale(task: str, name: str) -> str:
    return (f"{_where(task, name)} calls the student's code, yet ({task!r}, {name!r}) is in DATA_ONLY: remove it "
            "from DATA_ONLY in tests/test_checks_audit.py so that the constant and lookup stubs audit it")


def _solution_namespace(task: str) -> dict:
    return execute_cells(notebooks.read(source_notebooks()[task]), tolerate_errors=False)


def _zeros(value):
    """Zeros of ``value``'s structure: arrays keep shape and dtype, numbers become 0."""
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    if isinstance(value, np.generic):
        return value.dtype.type(0)
    if type(value) in (bool, int, float):
        return type(value)(0)
    if isinstance(value, list):
        return [_zeros(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_zeros(v) for v in value)
    if isinstance(value, dict):
        return {k: _zeros(v) for k, v in value.items()}
    return value


class _Transport:
    """The solution's answers, with ``mode``: "record", "constant", "zeros" or "lookup".

    Every ``call`` request's fingerprint goes to ``seen``; "lookup" answers the
    fingerprints in ``known`` truly and every other call with zeros.
    """

    def __init__(self, ns: dict, mode: str, recorded: dict | None = None, known: frozenset = frozenset()):
        self.ns, self.mode, self.known = ns, mode, known
        self.recorded = {} if recorded is None else recorded
        self.classes: dict[int, str] = {}   # handle -> the class it was made from
        self.calls = 0
        self.seen: set[str] = set()

    def __call__(self, request: dict) -> dict:
        reply = protocol.serve(self.ns, request)
        kind, target = request["kind"], request.get("target")
        if kind == "new":
            if reply.get("ok"):
                self.classes[codec.decode(reply["value"])] = target
            return reply
        if kind == "get":
            if self.mode == "zeros" and reply.get("ok"):
                return {**reply, "value": codec.encode(_zeros(codec.decode(reply["value"])))}
            return reply
        self.calls += 1
        key = (self.classes.get(target, target) if isinstance(target, int) else target, request.get("attr"))
        fingerprint = json.dumps([key, request.get("args"), request.get("kwargs")], sort_keys=True)
        self.seen.add(fingerprint)
        if self.mode == "lookup" and fingerprint in self.known:
            return reply
        if self.mode == "record":
            self.recorded.setdefault(key, reply)
            return reply
        if self.mode == "constant":
            fixed = self.recorded.get(key, reply)
            reply = {k: v for k, v in fixed.items() if k not in ("args", "kwargs")}
            if request.get("return_args") and reply.get("ok"):
                reply["args"], reply["kwargs"] = request["args"], request["kwargs"]   # arguments left untouched
            return reply
        if self.mode in ("zeros", "lookup") and reply.get("ok"):
            return {**reply, "value": codec.encode(_zeros(codec.decode(reply["value"])))}
        return reply


def _run(task: str, name: str, transport: _Transport, seed: int | None = None) -> str | None:
    fn = checks_of(load(task))[name]
    protocol.reset()
    try:
        fn(Student(transport, seed=seed_for(task, name) if seed is None else seed))
        return None
    except CheckFailed as exc:
        return str(exc) or "failed"
    finally:
        protocol.reset()


CASES = [(task, name) for task in TASKS for name in checks_of(load(task))]


@pytest.fixture(scope="module")
def namespaces():
    return {task: _solution_namespace(task) for task in TASKS}


@pytest.mark.parametrize("task,name", CASES)
def test_constant_stub_earns_nothing(namespaces, task, name):
    recorder = _Transport(namespaces[task], "record")
    failure = _run(task, name, recorder)
    assert failure is None, (
        f"{_where(task, name)} fails the solution of the source notebook ({failure}): fix the check, or the "
        "solution if it is the one that is wrong")
    if recorder.calls == 0:
        assert (task, name) in DATA_ONLY, _data_only_missing(task, name)
        return
    assert (task, name) not in DATA_ONLY, _data_only_stale(task, name)
    stub = _Transport(namespaces[task], "constant", recorder.recorded)
    assert _run(task, name, stub) is not None, (
        f"{_where(task, name)} pays a function that returns a constant (what the solution returns on the "
        f"check's first input, whatever it is called with): {REAL_WORK}")


@pytest.mark.parametrize("task,name", CASES)
def test_zeros_stub_earns_nothing(namespaces, task, name):
    assert _run(task, name, _Transport(namespaces[task], "zeros")) is not None, (
        f"{_where(task, name)} pays answers of zeros of the right shape (zeros agree with themselves, e.g. a "
        f"batch gradient with the mean of per-example ones): {REAL_WORK}")


@pytest.mark.parametrize("task,name", CASES)
def test_lookup_of_fixed_inputs_earns_nothing(namespaces, task, name):
    first, second = _Transport(namespaces[task], "record"), _Transport(namespaces[task], "record")
    failure = _run(task, name, first)
    assert failure is None, (
        f"{_where(task, name)} fails the solution of the source notebook ({failure}): fix the check, or the "
        "solution if it is the one that is wrong")
    failure = _run(task, name, second, seed=seed_for(task, name, "another draw"))
    assert failure is None, (
        f"{_where(task, name)} fails the solution when student.rng draws other inputs ({failure}): make the "
        "check pass the solution on any draw (e.g. tolerances fit for every input it can draw)")
    if first.calls == 0:
        assert (task, name) in DATA_ONLY, _data_only_missing(task, name)
        return
    known = frozenset(first.seen & second.seen)
    lookup = _Transport(namespaces[task], "lookup", known=known)
    assert _run(task, name, lookup) is not None, (
        f"{_where(task, name)} pays correct answers to fixed inputs only (the exam's, the public tests', anything "
        f"the check does not draw from student.rng), however many: {REAL_WORK}")


def test_the_stubs_are_not_vacuous(namespaces):
    """The constant stub really answers the recorded value: the first call of a check still matches."""
    task, name = "conv1d_backward", "test_conv1d"
    recorder = _Transport(namespaces[task], "record")
    _run(task, name, recorder)
    fixed = codec.decode(recorder.recorded[("conv1d", None)]["value"])
    stub = _Transport(namespaces[task], "constant", recorder.recorded)
    got = stub({"kind": "call", "target": "conv1d", "attr": None, "args": codec.encode([np.zeros(9), np.ones((1, 2))]),
                "kwargs": codec.encode({}), "return_args": False})
    assert np.array_equal(codec.decode(got["value"]), fixed), (
        f"tests/test_checks_audit.py: the constant stub no longer answers the recorded first value of "
        f"{_where(task, name)}, so every constant-stub test above proves nothing: fix _Transport's 'constant' mode")
    assert _zeros({"a": (np.ones(3), 2.5, True)}) == {"a": (pytest.approx(np.zeros(3)), 0.0, False)}, (
        "tests/test_checks_audit.py: _zeros must keep a value's structure, shapes and types and zero every number; "
        "fix _zeros, else the zeros stub proves nothing")


# -- hostile answers: every one is the student's failure, with a message that echoes nothing --------------------

MARK = 12345   # a number a hostile answer tries to get echoed back (a hidden input, encoded)

WEIRD_VALUES = {
    "None": None,
    "string": "Secret12345",
    "bool": True,
    "empty list": [],
    "nested lists": [[[1.0]], [[2.0, MARK]]],
    "tuple of strings": ("a", "b"),
    "empty dict": {},
    "dict of strings": {"W1": "x", "b1": "y", "W2": "z", "b2": "w", "w1": "u", "w2": "v"},
    "big int": MARK ** 20,
    "NaN": float("nan"),
    "empty array carrying a number": {"__ndarray__": {"dtype": "<f8", "shape": [0, MARK], "data": ""}},
    "wide array": np.zeros((1, MARK)),
    "complex array": np.full(3, 1 + 2j),
    "bool array": np.ones(4, dtype=bool),
    "unsupported object": {"__unsupported__": f"evil.Secret{MARK}"},
    # malformed encodings: the codec must not let ValueError/OverflowError escape as a grader error
    "negative dimension": {"__ndarray__": {"dtype": "<f8", "shape": [-1], "data": ""}},
    "overflowing shape": {"__ndarray__": {"dtype": "<f8", "shape": [2 ** 40, 2 ** 40, 2 ** 40], "data": ""}},
    "huge dimension": {"__ndarray__": {"dtype": "<f8", "shape": [10 ** 30], "data": ""}},
    "bad dtype": {"__ndarray__": {"dtype": "<U5", "shape": [1], "data": ""}},
    "bad base64": {"__ndarray__": {"dtype": "<f8", "shape": [1], "data": "!!"}},
    "unknown tag": {"__what__": 1},
    "bad bigint": {"__bigint__": "12x"},
    "deep nesting": json.loads("[" * 200 + "]" * 200),
}
#: the entries above that are already (crafted) encodings, sent as they are
RAW = {"empty array carrying a number", "unsupported object", "negative dimension", "overflowing shape",
       "huge dimension", "bad dtype", "bad base64", "unknown tag", "bad bigint", "deep nesting"}


def _encoded(label):
    return WEIRD_VALUES[label] if label in RAW else codec.encode(WEIRD_VALUES[label])


class _Weird(_Transport):
    """Every ``call`` and ``get`` answers ``raw`` (a value, a crafted encoding, or a whole reply)."""

    def __init__(self, ns, raw, where="value"):
        super().__init__(ns, "real")
        self.raw, self.where = raw, where

    def __call__(self, request):
        reply = super().__call__(request)
        if request["kind"] == "new":
            return reply
        if self.where == "reply":
            return self.raw
        if self.where == "args":
            return {**reply, "args": self.raw} if "args" in reply else reply
        if self.where == "each arg":         # a list of the right length, every argument replaced by raw
            if "args" not in reply:
                return reply
            return {**reply, "args": codec.encode([self.raw] * len(codec.decode(request["args"])))}
        return {"ok": True, "value": self.raw, **({"args": request["args"], "kwargs": request["kwargs"]}
                                                  if request.get("return_args") else {})}


WEIRD_REPLIES = {
    "not a dict": ["ok"],
    "no ok": {"value": 1},
    "exception with a crafted name": {"ok": False, "error": f"Secret{MARK}"},
    "exception named like a number": {"ok": False, "error": str(MARK)},
}


def _assert_student_failure(task, name, transport, label):
    message = _run(task, name, transport)      # any exception but CheckFailed fails this test
    assert message is not None, (
        f"{_where(task, name)} passed a hostile answer ({label}): read every answer of the student's code through "
        "the helpers of autograder/grading/checking.py (as_array, as_number, as_gradients, assert_close) before "
        "using it, so that an odd type, shape or value fails the check")
    assert str(MARK) not in message and "Secret" not in message, (
        f"{_where(task, name)} echoes a hostile answer ({label}) in its message {message!r}: state what is wrong "
        "with the helpers of autograder/grading/checking.py, never with the student's value or text")
    return message


@pytest.mark.parametrize("task,name", CASES)
def test_hostile_answers_are_the_students_failure(namespaces, task, name):
    messages = {}
    for label in WEIRD_VALUES:
        messages[label] = _assert_student_failure(task, name, _Weird(namespaces[task], _encoded(label)), label)
    for label, reply in WEIRD_REPLIES.items():
        messages[label] = _assert_student_failure(task, name, _Weird(namespaces[task], reply, where="reply"), label)
    for label in ("negative dimension", "overflowing shape", "huge dimension", "deep nesting"):
        assert messages[label].endswith("your function returned something that could not be read"), (
            f"{_where(task, name)} turns an unreadable answer ({label}) into {messages[label]!r}: let the "
            "CheckFailed that student.call raises reach the grader unchanged (do not catch it)")
    assert messages["exception with a crafted name"].endswith("raised an exception"), (
        f"{_where(task, name)} turns an exception with a crafted name into "
        f"{messages['exception with a crafted name']!r}: let the StudentError that student.call raises reach the "
        "grader unchanged (do not catch it)")


@pytest.mark.parametrize("task,name", [("conv1d_backward", "test_model_exam"),
                                       ("relu_softmax_mlp", "test_shapes_and_inputs"),
                                       ("softplus_layer", "test_forward_values")])
@pytest.mark.parametrize("label", ["overflowing shape", "negative dimension", "unknown tag", "deep nesting"])
def test_unreadable_arguments_are_the_students_failure(namespaces, task, name, label):
    """The arguments as the student's code left them (``call_keep_args``) are decoded the same way."""
    message = _assert_student_failure(task, name, _Weird(namespaces[task], WEIRD_VALUES[label], where="args"), label)
    assert message.endswith("your function returned something that could not be read"), (
        f"{_where(task, name)} turns unreadable arguments after the call ({label}) into {message!r}: let the "
        "CheckFailed that student.call_keep_args raises reach the grader unchanged (do not catch it)")


# -- the messages themselves: coarse, and nothing of the expected value or of the student's text ------------------

def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_an_all_zero_answer_learns_nothing_of_the_expected_size():
    for expected in ([0.25, -0.1], [2.5e7, 3.0], [1e-7, 0.0]):
        message = _message(checking.assert_close, np.zeros(2), expected, "x")
        assert message == "x: wrong values (relative error about 10^0)", WORDING
    assert _message(checking.assert_rel_error, np.zeros(2), [0.25, -0.1], "dx") == \
        "dx: relative error about 10^0 against a numerical gradient (tolerance 10^-6)", WORDING


def test_error_sizes_are_orders_of_magnitude():
    expected = np.array([0.123456, -7.654321])
    assert _message(checking.assert_close, expected * (1 + 2e-3), expected, "x") == \
        "x: wrong values (relative error about 10^-3)", WORDING
    assert _message(checking.assert_rel_error, expected * (1 + 2e-4), expected, "x", tol=1e-6) == \
        "x: relative error about 10^-4 against a numerical gradient (tolerance 10^-6)", WORDING
    assert [checking.magnitude(x) for x in (0.0, 3e-5, 0.7, 1e-300, float("inf"), float("nan"))] == \
        ["0", "10^-5", "10^0", "10^-16", "infinity", "NaN"], WORDING


def test_a_wrong_shape_echoes_no_dimension():
    assert _message(checking.as_array, np.zeros((0, MARK)), "x", shape=(3,)) == \
        "x: expected shape (3,), got an empty array", WORDING
    assert _message(checking.as_array, np.zeros(MARK), "x", shape=(3, 4)) == \
        "x: expected shape (3, 4), got an array with a different number of dimensions", WORDING
    assert _message(checking.as_array, np.zeros((MARK, 4)), "x", shape=(3, 4)) == \
        "x: expected shape (3, 4), got an array of a different shape", WORDING
    assert _message(checking.assert_close, np.zeros((0, MARK)), np.zeros((2, 2)), "x", shape_check=False) == \
        "x: expected shape (2, 2), got an empty array", WORDING


def test_types_and_exceptions_have_fixed_names():
    assert _message(checking.as_array, codec.Unsupported(f"evil.Secret{MARK}"), "x") == \
        "x: expected a NumPy array, got an unsupported object", WORDING
    assert _message(checking.as_number, "Secret", "n") == "n: expected a number, got a string", WORDING
    assert _message(checking.as_array, np.zeros(2, dtype=complex), "x") == \
        "x: expected a real numeric array, got dtype complex128", WORDING
    assert str(checking.StudentError("f(...)", f"Secret{MARK}")) == "f(...) raised an exception", WORDING
    assert str(checking.StudentError("f(...)", "ZeroDivisionError")) == "f(...) raised ZeroDivisionError", WORDING
    assert str(checking.StudentError("f(...)", "NotImplementedError")) == \
        "f(...) raised NotImplementedError (not implemented yet?)", WORDING
    assert str(checking.StudentError("f(...)", ["ValueError"])) == "f(...) raised an exception", WORDING


@pytest.mark.parametrize("label", sorted(RAW - {"empty array carrying a number", "unsupported object"}))
def test_every_decode_failure_is_the_students(label):
    """Whatever the codec raises on what the child sent (DecodeError, ValueError, OverflowError, ...)."""
    student = Student(lambda request: {"ok": True, "value": WEIRD_VALUES[label]})
    assert _message(student.call, "f", 1) == f"f(...): {checking.UNREADABLE}", (
        f"autograder/grading/checking.py: Student.call must turn every failure to decode the student's answer "
        f"({label}) into CheckFailed(UNREADABLE): catch it in _decode")


@pytest.mark.parametrize("task,name", CASES)
def test_hostile_arguments_after_the_call_are_the_students_failure(namespaces, task, name):
    """What the child says the arguments became (``call_keep_args``) is as hostile as its answers."""
    for label in ("wide array", "nested lists", "dict of strings", "None", "unsupported object", "NaN", "big int"):
        for where, raw in (("args", codec.encode([_decoded(label)] * 6)), ("each arg", _decoded(label))):
            message = _run(task, name, _Weird(namespaces[task], raw, where=where))   # only CheckFailed may escape
            assert message is None or (str(MARK) not in message and "Secret" not in message), (
                f"{_where(task, name)} echoes hostile arguments after the call ({label}, {where}) in its message "
                f"{message!r}: state what is wrong with the helpers of autograder/grading/checking.py, never with "
                "the student's value or text")


def _decoded(label):
    return codec.decode(_encoded(label)) if label in RAW else WEIRD_VALUES[label]
