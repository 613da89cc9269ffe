"""Safe, lossless transport of values between the grader and student code.

Values cross the process boundary as JSON. Only plain data survives:
``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``,
lists, tuples, dicts with string keys, NumPy arrays and scalars of a numeric
or boolean dtype. Anything else arrives as :class:`Unsupported`, carrying only
its type name, so that a lying object (one whose ``__eq__`` or
``__array_function__`` misbehaves) can never reach a comparison in the grader.

This module imports only the standard library and NumPy: it runs inside the
sandboxed child as well as in the grader.
"""

from __future__ import annotations

import base64
import math

import numpy as np

#: dtype kinds that may cross: bool, signed, unsigned, float, complex
_KINDS = "biufc"
MAX_DEPTH = 20


class Unsupported:
    """Stands in for a value of a type that may not cross the boundary."""

    def __init__(self, type_name: str):
        self.type_name = str(type_name)[:80]

    def __repr__(self) -> str:
        return f"<unsupported {self.type_name}>"

    def __eq__(self, other):
        return isinstance(other, Unsupported) and other.type_name == self.type_name

    __hash__ = None


class DecodeError(ValueError):
    """The other side sent something that is not a well-formed encoding."""


def _float(x: float):
    if math.isnan(x):
        return {"__float__": "nan"}
    if math.isinf(x):
        return {"__float__": "inf" if x > 0 else "-inf"}
    return x


def encode(value, _depth: int = 0):
    """Turn ``value`` into JSON-compatible data (see the module docstring)."""
    if _depth > MAX_DEPTH:
        return {"__unsupported__": "deeply nested value"}
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if abs(value) < 2**63 else {"__bigint__": str(value)}
    if t is float:
        return _float(value)
    if t in (list, tuple):
        items = [encode(v, _depth + 1) for v in value]
        return items if t is list else {"__tuple__": items}
    if t is dict:
        if not all(type(k) is str for k in value):
            return {"__unsupported__": "dict with non-string keys"}
        return {"__dict__": {k: encode(v, _depth + 1) for k, v in value.items()}}
    if t is np.ndarray or isinstance(value, np.generic):
        arr = np.asarray(value)
        # ndarray subclasses (np.matrix, masked arrays) are refused above by `t is`
        if arr.dtype.kind not in _KINDS or arr.dtype.hasobject:
            return {"__unsupported__": f"array of dtype {arr.dtype}"}
        little = arr.dtype.newbyteorder("<")  # bytes travel little-endian
        arr = np.ascontiguousarray(arr.astype(little, copy=False)).reshape(arr.shape)  # (keeps 0-d arrays 0-d)
        payload = {"dtype": little.str, "shape": list(arr.shape),
                   "data": base64.b64encode(arr.tobytes()).decode("ascii")}
        return {"__npscalar__" if t is not np.ndarray else "__ndarray__": payload}
    return {"__unsupported__": f"{t.__module__}.{t.__qualname__}"}


def decode(data, _depth: int = 0, *, max_elements: int = 50_000_000):
    """Rebuild a value from :func:`encode`'s output; reject anything else."""
    if _depth > MAX_DEPTH + 1:
        raise DecodeError("nesting too deep")
    if data is None or type(data) in (bool, str, int):
        return data
    if type(data) is float:
        return data
    if type(data) is list:
        return [decode(v, _depth + 1) for v in data]
    if type(data) is not dict or len(data) != 1:
        raise DecodeError("malformed value")
    (tag, body), = data.items()
    if tag == "__float__":
        if body not in ("nan", "inf", "-inf"):
            raise DecodeError("malformed float")
        return float(body)
    if tag == "__bigint__":
        if type(body) is not str or len(body) > 400:
            raise DecodeError("malformed integer")
        return int(body)
    if tag == "__tuple__":
        if type(body) is not list:
            raise DecodeError("malformed tuple")
        return tuple(decode(v, _depth + 1) for v in body)
    if tag == "__dict__":
        if type(body) is not dict:
            raise DecodeError("malformed dict")
        return {str(k): decode(v, _depth + 1) for k, v in body.items()}
    if tag == "__unsupported__":
        return Unsupported(body if type(body) is str else "?")
    if tag in ("__ndarray__", "__npscalar__"):
        try:
            dtype = np.dtype(body["dtype"])
            shape = tuple(int(s) for s in body["shape"])
            raw = base64.b64decode(body["data"], validate=True)
        except Exception as exc:  # noqa: BLE001 - anything malformed is a DecodeError
            raise DecodeError("malformed array") from exc
        if dtype.kind not in _KINDS or dtype.hasobject or any(s < 0 for s in shape):
            raise DecodeError("array of a forbidden dtype")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count > max_elements or count * dtype.itemsize != len(raw):
            raise DecodeError("array size does not match its data")
        arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if arr.dtype.byteorder == "<" and not np.little_endian:  # pragma: no cover
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr[()] if tag == "__npscalar__" else arr
    raise DecodeError("unknown tag")
