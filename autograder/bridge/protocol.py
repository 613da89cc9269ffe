"""The student side of a check: run one request against the student's namespace.

A check in the grader asks for one of three things (``kind``):

* ``call``: call ``target`` (a global name, or a handle made by ``new``),
  optionally its attribute ``attr``, with decoded ``args``/``kwargs``;
* ``new``: the same as ``call``, but keep the result in the kernel and answer
  with a handle (an integer) instead of the value;
* ``get``: read a global name, or an attribute of a handle.

The answer is ``{"ok": True, "value": ...}`` or ``{"ok": False, "error":
"<exception type name>"}``. Only the exception's *type name* travels back,
and only as one of the fixed names :data:`KNOWN_ERRORS` (the nearest known
class in its MRO, else "an exception"): its message, and the name of a class
the student defined, are student-controlled text that could carry a hidden
input out. The grader maps what it receives through :func:`known_error_name`
again (the child is hostile).

Imports only the standard library, NumPy and :mod:`autograder.codec`, so it runs
inside the sandboxed child.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from . import codec

_HANDLES: dict[int, object] = {}


class Undefined(LookupError):
    """The target name is not defined in the student's namespace."""


def _is_name(text) -> bool:
    return isinstance(text, str) and text.isidentifier() and not text.startswith("__")


def _resolve(namespace: dict, target):
    if isinstance(target, int) and not isinstance(target, bool):
        if target not in _HANDLES:
            raise LookupError("unknown handle")
        return _HANDLES[target]
    if not _is_name(target):
        raise LookupError("bad target")
    if target not in namespace:
        raise Undefined(target)
    return namespace[target]


def _known_errors() -> dict:
    import builtins

    known = {v: v.__name__ for v in vars(builtins).values() if isinstance(v, type) and issubclass(v, BaseException)}
    for name in ("AxisError", "ComplexWarning", "DTypePromotionError", "TooHardError"):
        cls = getattr(getattr(np, "exceptions", None), name, None)
        if isinstance(cls, type):
            known[cls] = name
    known[np.linalg.LinAlgError] = "LinAlgError"
    known[Undefined] = "LookupError"
    return known


_KNOWN = _known_errors()
#: the only exception names that travel (anything else: the nearest of them in the class's MRO)
KNOWN_ERRORS = frozenset(_KNOWN.values())


def known_error_name(name) -> str | None:
    """``name`` if it is one of :data:`KNOWN_ERRORS`, else None (for names received from a child).

    Args:
        name: what a child sent as an exception name (untrusted).

    Returns:
        the same name, or None.
    """
    return name if isinstance(name, str) and name in KNOWN_ERRORS else None


def error_name(exc: BaseException) -> str:
    """The name of ``exc``'s nearest known exception class (never a student-chosen string)."""
    try:
        for cls in type.__dict__["__mro__"].__get__(type(exc)):
            if cls in _KNOWN:
                return _KNOWN[cls]
    except Exception:  # noqa: BLE001 - a hostile metaclass
        pass
    return "BaseException"


_error_name = error_name  # the old name


def serve(namespace: dict, request: dict) -> dict:
    """Answer one request; never raises for anything the student's code does."""
    try:
        kind = request["kind"]
        obj = _resolve(namespace, request.get("target"))
        attr = request.get("attr")
        if attr is not None:
            if not _is_name(attr):
                raise LookupError("bad attribute")
            obj = getattr(obj, attr)
        if kind == "get":
            value = obj
        elif kind in ("call", "new"):
            args = codec.decode(request.get("args", []))
            kwargs = codec.decode(request.get("kwargs", {"__dict__": {}}))
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise LookupError("bad arguments")
            with quiet():
                value = obj(*args, **kwargs)
            if kind == "new":
                handle = len(_HANDLES) + 1
                _HANDLES[handle] = value
                return {"ok": True, "value": handle}
            if request.get("return_args"):
                return {"ok": True, "value": codec.encode(value),
                        "args": codec.encode(list(args)), "kwargs": codec.encode(kwargs)}
        else:
            raise LookupError("bad kind")
        return {"ok": True, "value": codec.encode(value)}
    except Undefined:
        return {"ok": False, "error": "undefined"}
    except BaseException as exc:  # noqa: BLE001 - student code may raise anything
        return {"ok": False, "error": error_name(exc)}


@contextlib.contextmanager
def quiet():
    """Silence prints and warnings of honest code: they never cost points."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield


def reset() -> None:
    _HANDLES.clear()
