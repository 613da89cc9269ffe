"""What a task's checks are written with.

A check is a function in ``autograder/tasks/<task>/checks.py`` named exactly as the
``grade_id`` of its test cell in ``source/<assignment>/<task>.ipynb`` and
marked with :func:`check`. It receives a :class:`Student`, a proxy for the
student's notebook namespace, calls the student's code through it, and raises
:class:`CheckFailed` with a message that is safe to show the student (no
expected value, no hidden input) when something is wrong. Points come from
the notebook's cell metadata, never from the check.

The same check runs in two places:

* official grading (``autograder grade``): the check runs in the grader; every
  ``student.call`` is a round trip to a sandboxed child process that holds the
  student's namespace. Expected values never leave the grader.
* stock ``nbgrader autograde`` and the in-notebook hidden cell: the check runs
  inside the kernel through :mod:`autograder.incell` (weaker: see README).

Both go through :func:`autograder.protocol.serve`, so results are identical.

Every message is safe to show: it never contains an expected value, a hidden
input or anything the student's code controls beyond a few fixed words. Type
and exception names come from fixed lists, a wrong shape is described without
its dimensions, and an error size is stated only as an order of magnitude of the
*relative* error (an absolute error against an all-zero answer would be the
expected value itself). Anything of the student's answer that cannot be decoded
is the student's failure ("your function returned something that could not be
read"), never an internal error of the grader.
"""

from __future__ import annotations

import builtins
import hashlib
import math
from collections.abc import Callable

import numpy as np

from autograder.bridge import codec


class CheckFailed(AssertionError):
    """A check's verdict: its message is shown to the student."""


#: exception names a message may show: Python's built-in exceptions and a few of NumPy's.
#: Any other name (a student can name a class anything) is shown as "an exception".
KNOWN_ERRORS = frozenset(
    name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)
) | {"LinAlgError", "AxisError", "ComplexWarning", "TooHardError", "DTypePromotionError"}

UNREADABLE = "your function returned something that could not be read"


def error_name(error) -> str:
    """The name to show for an exception name received from the student's side.

    Args:
        error: what the child sent (untrusted).

    Returns:
        ``error`` itself if it is one of :data:`KNOWN_ERRORS`, else "an exception".
    """
    return error if isinstance(error, str) and error in KNOWN_ERRORS else "an exception"


class StudentError(CheckFailed):
    """The student's code raised; only the exception type (from a fixed list) is reported."""

    def __init__(self, label: str, error: str):
        error = error_name(error)
        hint = " (not implemented yet?)" if error == "NotImplementedError" else ""
        super().__init__(f"{label} raised {error}{hint}")
        self.error = error


class GradingAborted(Exception):
    """The child process died or timed out; raised by the remote transport."""


def check(fn: Callable) -> Callable:
    """Mark ``fn`` as a check; its name must be its test cell's grade_id."""
    fn.is_check = True
    return fn


def checks_of(module) -> dict[str, Callable]:
    return {name: fn for name, fn in vars(module).items() if callable(fn) and getattr(fn, "is_check", False)}


def seed_for(*parts: str) -> int:
    """A deterministic seed, the same in every run and every mode."""
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "little")


class Student:
    """A proxy for the names the student's notebook defines.

    ``transport(request) -> reply`` carries one request of
    :mod:`autograder.protocol` to the student's side and back.
    """

    def __init__(self, transport: Callable[[dict], dict], seed: int = 0):
        self._transport = transport
        #: the check's own random generator (deterministic per check)
        self.rng = np.random.default_rng(seed)

    # -- requests ---------------------------------------------------------
    def _ask(self, request: dict, label: str):
        reply = self._transport(request)
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise CheckFailed(f"{label}: {UNREADABLE}")
        if not reply["ok"]:
            error = reply.get("error")
            if error == "undefined":
                raise CheckFailed(f"`{request['target']}` is not defined in the notebook")
            raise StudentError(label, error)
        return reply, _decode(reply.get("value"), label)

    def _request(self, kind, target, attr, args, kwargs, return_args=False):
        return {"kind": kind, "target": target, "attr": attr,
                "args": codec.encode(list(args)), "kwargs": codec.encode(dict(kwargs)),
                "return_args": return_args}

    def call(self, target: str, *args, **kwargs):
        """Call the student's global ``target`` and return its (decoded) result."""
        _, value = self._ask(self._request("call", target, None, args, kwargs), f"{target}(...)")
        return value

    def call_keep_args(self, target: str, *args, **kwargs):
        """Like :meth:`call`, also returning the arguments as they are after the call."""
        reply, value = self._ask(self._request("call", target, None, args, kwargs, True), f"{target}(...)")
        return value, self._decode_args(reply, f"{target}(...)", len(args))

    def new(self, target: str, *args, **kwargs) -> Handle:
        """Construct ``target(*args, **kwargs)`` on the student's side; keep it there."""
        label = f"{target}()"
        _, handle = self._ask(self._request("new", target, None, args, kwargs), label)
        if type(handle) is not int:
            raise CheckFailed(f"{label}: {UNREADABLE}")
        return Handle(self, handle, label)

    def get(self, name: str):
        """The value of the student's global ``name``."""
        _, value = self._ask({"kind": "get", "target": name, "attr": None}, name)
        return value

    def has(self, name: str) -> bool:
        try:
            self.get(name)
        except StudentError:
            return True
        except CheckFailed:
            return False
        return True

    def _decode_args(self, reply, label, count: int) -> list:
        """The arguments as the call left them: a list of ``count`` values, else the student's failure."""
        args = _decode(reply.get("args"), label)
        if not isinstance(args, list) or len(args) != count:
            raise CheckFailed(f"{label}: {UNREADABLE}")
        return args


def _decode(data, label: str):
    """Decode what the student's side sent; any failure at all is the student's."""
    try:
        return codec.decode(data)
    except Exception:  # noqa: BLE001 - DecodeError, ValueError, OverflowError, RecursionError, MemoryError...
        raise CheckFailed(f"{label}: {UNREADABLE}") from None


class Handle:
    """An object that lives on the student's side (e.g. a layer instance)."""

    def __init__(self, student: Student, handle: int, label: str):
        self._student, self._handle, self.label = student, handle, label

    def call(self, method: str, *args, **kwargs):
        req = self._student._request("call", self._handle, method, args, kwargs)
        _, value = self._student._ask(req, f"{self.label}.{method}(...)")
        return value

    def call_keep_args(self, method: str, *args, **kwargs):
        label = f"{self.label}.{method}(...)"
        req = self._student._request("call", self._handle, method, args, kwargs, True)
        reply, value = self._student._ask(req, label)
        return value, self._student._decode_args(reply, label, len(args))

    def get(self, attr: str):
        _, value = self._student._ask({"kind": "get", "target": self._handle, "attr": attr}, f"{self.label}.{attr}")
        return value


# -- verdict helpers ----------------------------------------------------------

def fail(message: str):
    raise CheckFailed(message)


def expect(condition, message: str):
    if not condition:
        raise CheckFailed(message)


def describe(value) -> str:
    """A fixed description of a decoded value's type, safe to show (nothing of the value itself).

    Args:
        value: anything :func:`codec.decode` returned.

    Returns:
        e.g. "a list", "an empty array", "an unsupported object".
    """
    if isinstance(value, np.ndarray):
        return "an empty array" if value.size == 0 else "an array"
    if isinstance(value, np.generic):
        return "a NumPy scalar"
    names = {type(None): "None", bool: "a bool", int: "an int", float: "a float", str: "a string",
             list: "a list", tuple: "a tuple", dict: "a dict"}
    return names.get(type(value), "an unsupported object")


def dtype_name(arr) -> str:
    """The dtype of a decoded array or NumPy scalar, by a fixed name (e.g. "int64")."""
    return arr.dtype.name if arr.dtype.kind in "biufc" and arr.dtype.fields is None else "another dtype"


def shape_mismatch(value, shape) -> str:
    """Why ``value`` (an array) does not have ``shape``, without its dimensions.

    A dimension can carry any number the student's code chooses (a zero-size
    array of shape (0, 12345) costs nothing to send), so none is echoed.
    """
    shape = tuple(shape)
    if value.size == 0:
        got = "an empty array"
    elif value.ndim != len(shape):
        got = "an array with a different number of dimensions"
    else:
        got = "an array of a different shape"
    return f"expected shape {shape}, got {got}"


def magnitude(x: float) -> str:
    """An error size as an order of magnitude only, e.g. "10^-3" (one significant figure at most)."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if x <= 0.0:
        return "0"
    if math.isinf(x):
        return "infinity"
    return f"10^{max(-16, min(16, round(math.log10(x))))}"


def as_array(value, what: str, *, shape=None, allow_scalar=False) -> np.ndarray:
    """Check that ``value`` is a real numeric ndarray (of ``shape``) and return it as float64.

    Args:
        value: the student's decoded answer.
        what: what it is, for the message (the check's own words).
        shape: the required shape, or None.
        allow_scalar: accept a Python or NumPy number too (as a 0-d array).

    Returns:
        ``value`` as a float64 array; raises :class:`CheckFailed` otherwise.
    """
    if allow_scalar and (type(value) in (int, float) or isinstance(value, np.generic)):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        kind = "a NumPy array" + (" or a number" if allow_scalar else "")
        fail(f"{what}: expected {kind}, got {describe(value)}")
    if value.dtype.kind not in "biuf":
        fail(f"{what}: expected a real numeric array, got dtype {dtype_name(value)}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        fail(f"{what}: {shape_mismatch(value, shape)}")
    return value.astype(np.float64)


def as_float_array(value, what: str, shape=None) -> np.ndarray:
    """Like :func:`as_array`, and the student's array must have a floating-point dtype.

    Args:
        value: the student's decoded answer.
        what: what it is, for the message.
        shape: the required shape, or None.

    Returns:
        ``value`` as a float64 array; raises :class:`CheckFailed` otherwise (shape before dtype).
    """
    arr = as_array(value, what, shape=shape)
    if value.dtype.kind != "f":
        fail(f"{what}: expected a float array, got dtype {dtype_name(value)}")
    return arr


def as_gradients(value, shapes: dict, what: str, *, strict: bool = False) -> dict:
    """A dict with exactly the keys of ``shapes``, each an array of its shape; returned as float64.

    ``strict`` also requires a floating-point dtype and finite entries.
    """
    if not isinstance(value, dict) or set(value) != set(shapes):
        fail(f"{what}: expected a dict with exactly the keys {', '.join(shapes)}")
    out = {}
    for k, shape in shapes.items():
        out[k] = as_array(value[k], f"{what}: gradient of {k}", shape=shape)
        if strict:
            expect(value[k].dtype.kind == "f", f"{what}: the gradient of {k} must be a float array")
            expect(np.all(np.isfinite(out[k])), f"{what}: the gradient of {k} contains inf or NaN")
    return out


def as_number(value, what: str) -> float:
    """``value`` as a float if it is a real number (or a 1-element real array), else :class:`CheckFailed`."""
    if type(value) in (int, float) or (isinstance(value, np.generic) and np.dtype(value.dtype).kind in "biuf"):
        return float(value)
    if isinstance(value, np.ndarray) and value.shape in ((), (1,)) and value.dtype.kind in "biuf":
        return float(value.reshape(()))
    fail(f"{what}: expected a number, got {describe(value)}")


def rel_error(actual, expected) -> float:
    """CS231n's relative error: max |a-b| / max(1e-8, |a|+|b|)."""
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def assert_close(actual, expected, what: str, *, rtol: float = 1e-6, atol: float = 1e-9,
                 shape_check: bool = True) -> None:
    """``actual`` (the student's) must match ``expected`` elementwise.

    The message names what was compared and the order of magnitude of the
    relative error (at most 10^0: an all-zero answer learns nothing of the
    expected size), never the expected value or an absolute error.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = as_array(actual, what, shape=expected.shape if shape_check else None, allow_scalar=expected.ndim == 0)
    if actual.shape != expected.shape:
        fail(f"{what}: {shape_mismatch(actual, expected.shape)}")
    finite = np.isfinite(expected)
    if not np.array_equal(np.isfinite(actual), finite):
        fail(f"{what}: contains inf or NaN where the correct result is finite (or the reverse)")
    if not np.array_equal(actual[~finite], expected[~finite], equal_nan=True):
        fail(f"{what}: wrong non-finite values")
    diff = np.abs(actual[finite] - expected[finite])
    bound = atol + rtol * np.abs(expected[finite])
    if diff.size and np.any(diff > bound):
        fail(f"{what}: wrong values (relative error about {magnitude(rel_error(actual[finite], expected[finite]))})")


def assert_rel_error(actual, expected, what: str, *, tol: float = 1e-6, floor: float = 0.0) -> None:
    """CS231n-style gradient comparison: relative error below ``tol``.

    ``floor`` is an absolute error every entry may have: an exactly-zero
    gradient (a dead ReLU unit) comes out of central differences as round-off
    of ~1e-11, which a pure relative error would call a 100% error. The
    message states the relative error as an order of magnitude only.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = as_array(actual, what, shape=expected.shape, allow_scalar=expected.ndim == 0)
    if not np.all(np.isfinite(actual)):
        fail(f"{what}: contains inf or NaN")
    diff = np.abs(actual - expected)
    bad = diff > np.maximum(tol * np.maximum(1e-8, np.abs(actual) + np.abs(expected)), floor)
    if np.any(bad):
        err = rel_error(actual[bad], expected[bad])
        fail(f"{what}: relative error about {magnitude(err)} against a numerical gradient "
             f"(tolerance {magnitude(tol)})")
