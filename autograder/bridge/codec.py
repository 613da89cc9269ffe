"""Safe, lossless transport of values between the grader and student code.

Values cross the process boundary as JSON. Only plain data survives:
``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``,
lists, tuples, dicts with string keys, NumPy arrays and scalars of a numeric
or boolean dtype. Anything else arrives as :class:`Unsupported`, carrying only
a name from the fixed list :data:`KNOWN_TYPES` (else "an unsupported object"),
so that a lying object (one whose ``__eq__`` or ``__array_function__``
misbehaves) can never reach a comparison in the grader, and no
student-controlled string (a class's name) comes back.

:func:`decode` trusts nothing: every malformed input raises
:class:`DecodeError` (never another exception), with a budget on the
number of values and array elements it builds.

This module imports only the standard library and NumPy: it runs inside the
sandboxed child as well as in the grader.
"""

from __future__ import annotations

import base64
import math

import numpy as np

#: dtype kinds that may cross: bool, signed, unsigned, float, complex
_KINDS = "biufc"
#: the exact (little-endian) dtypes that may cross
_DTYPES = {"|b1", "|i1", "|u1", "<i2", "<i4", "<i8", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8", "<f16",
           "<c8", "<c16", "<c32"}
MAX_DEPTH = 20
#: the most values (list items, dict entries, arrays) one decode builds
MAX_NODES = 1_000_000
#: the largest dimension an array may claim
_MAX_DIM = 1 << 40
UNSUPPORTED = "an unsupported object"

#: the only names an unsupported value may carry back (anything else: "an unsupported object")
KNOWN_TYPES = frozenset({
    "deeply nested value", "dict with non-string keys", "array of dtype object", "array of strings",
    "array of bytes", "array of a structured dtype", "array of dates or times", "array of another dtype",
    "builtins.set", "builtins.frozenset", "builtins.bytes", "builtins.bytearray", "builtins.memoryview",
    "builtins.complex", "builtins.range", "builtins.slice", "builtins.type", "builtins.object",
    "builtins.function", "builtins.builtin_function_or_method", "builtins.method", "builtins.generator",
    "builtins.module", "builtins.NotImplementedType", "builtins.ellipsis", "builtins.map", "builtins.filter",
    "builtins.zip", "builtins.enumerate", "builtins.list_iterator", "builtins.dict_keys", "builtins.dict_values",
    "builtins.dict_items", "builtins.property", "builtins.staticmethod", "builtins.classmethod",
    "builtins.int subclass", "builtins.float subclass", "builtins.str subclass", "builtins.list subclass",
    "builtins.tuple subclass", "builtins.dict subclass", "numpy.ndarray subclass",
    "numpy.matrix", "numpy.ma.MaskedArray", "numpy.ma.core.MaskedArray", "numpy.random.Generator",
    "numpy.random._generator.Generator", "numpy.dtype", "numpy.ufunc", "numpy.poly1d", "numpy.recarray",
    "numpy.memmap", "numpy.flatiter", "numpy.broadcast", "fractions.Fraction", "decimal.Decimal",
    "collections.OrderedDict", "collections.defaultdict", "collections.Counter", "collections.deque",
    "torch.Tensor", "torch.nn.parameter.Parameter", "torch.Size", "torch.dtype", "torch.device",
    "builtins.NoneType",
})


def known_type(name) -> str:
    """``name`` if it is one of :data:`KNOWN_TYPES`, else "an unsupported object"."""
    return name if isinstance(name, str) and name in KNOWN_TYPES else UNSUPPORTED


def _type_name(value) -> str:
    t = type(value)
    for base, label in ((int, "int"), (float, "float"), (str, "str"), (list, "list"), (tuple, "tuple"),
                        (dict, "dict")):
        if isinstance(value, base):
            return f"builtins.{label} subclass"
    if isinstance(value, np.ndarray) and f"{t.__module__}.{t.__qualname__}" not in KNOWN_TYPES:
        return "numpy.ndarray subclass"
    try:
        return known_type(f"{t.__module__}.{t.__qualname__}")
    except Exception:  # noqa: BLE001 - a hostile metaclass
        return UNSUPPORTED


def _dtype_name(dtype) -> str:
    kind = getattr(dtype, "kind", "")
    return {"O": "array of dtype object", "U": "array of strings", "S": "array of bytes",
            "V": "array of a structured dtype", "M": "array of dates or times",
            "m": "array of dates or times"}.get(kind, "array of another dtype")


class Unsupported:
    """Stands in for a value of a type that may not cross the boundary."""

    def __init__(self, type_name: str):
        self.type_name = known_type(type_name)

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
        if arr.dtype.kind not in _KINDS or arr.dtype.hasobject or arr.dtype.fields is not None \
                or arr.dtype.subdtype is not None:
            return {"__unsupported__": _dtype_name(arr.dtype)}
        little = arr.dtype.newbyteorder("<")  # bytes travel little-endian
        if little.str not in _DTYPES:
            return {"__unsupported__": "array of another dtype"}
        arr = np.ascontiguousarray(arr.astype(little, copy=False)).reshape(arr.shape)  # (keeps 0-d arrays 0-d)
        payload = {"dtype": little.str, "shape": list(arr.shape),
                   "data": base64.b64encode(arr.tobytes()).decode("ascii")}
        return {"__npscalar__" if t is not np.ndarray else "__ndarray__": payload}
    return {"__unsupported__": _type_name(value)}


def decode(data, _depth: int = 0, *, max_elements: int = 50_000_000, max_nodes: int = MAX_NODES):
    """Rebuild a value from :func:`encode`'s output; raise :class:`DecodeError` on anything else.

    Args:
        data: JSON data (as parsed), untrusted.
        max_elements: the most array elements in total.
        max_nodes: the most values (items, entries, arrays) in total.

    Returns:
        the value.
    """
    budget = {"nodes": max_nodes, "elements": max_elements}
    try:
        return _decode(data, _depth, budget)
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError, RecursionError,
            MemoryError) as exc:
        raise DecodeError("malformed value") from exc


def _spend(budget: dict, key: str, n: int) -> None:
    budget[key] -= n
    if budget[key] < 0:
        raise DecodeError("value too large")


def _decode(data, _depth: int, budget: dict):
    if _depth > MAX_DEPTH + 1:
        raise DecodeError("nesting too deep")
    _spend(budget, "nodes", 1)
    if data is None or type(data) in (bool, str):
        return data
    if type(data) is int:
        if not -(2**63) <= data < 2**63:
            raise DecodeError("malformed integer")
        return data
    if type(data) is float:
        return data
    if type(data) is list:
        return [_decode(v, _depth + 1, budget) for v in data]
    if type(data) is not dict or len(data) != 1:
        raise DecodeError("malformed value")
    (tag, body), = data.items()
    if tag == "__float__":
        if body not in ("nan", "inf", "-inf"):
            raise DecodeError("malformed float")
        return float(body)
    if tag == "__bigint__":
        if type(body) is not str or not 0 < len(body) <= 400 or not body.lstrip("-").isascii() \
                or not body.lstrip("-").isdigit():
            raise DecodeError("malformed integer")
        return int(body)
    if tag == "__tuple__":
        if type(body) is not list:
            raise DecodeError("malformed tuple")
        return tuple(_decode(v, _depth + 1, budget) for v in body)
    if tag == "__dict__":
        if type(body) is not dict:
            raise DecodeError("malformed dict")
        return {str(k): _decode(v, _depth + 1, budget) for k, v in body.items()}
    if tag == "__unsupported__":
        return Unsupported(body)
    if tag in ("__ndarray__", "__npscalar__"):
        if type(body) is not dict or set(body) != {"dtype", "shape", "data"}:
            raise DecodeError("malformed array")
        dtype, shape, data64 = body["dtype"], body["shape"], body["data"]
        if type(dtype) is not str or dtype not in _DTYPES:
            raise DecodeError("array of a forbidden dtype")
        if type(shape) is not list or len(shape) > 32 or any(type(s) is not int or not 0 <= s <= _MAX_DIM
                                                             for s in shape):
            raise DecodeError("malformed array shape")
        if tag == "__npscalar__" and shape:
            raise DecodeError("malformed scalar")
        if type(data64) is not str:
            raise DecodeError("malformed array")
        dtype = np.dtype(dtype)
        count = math.prod(shape)
        if count > budget["elements"] or count * dtype.itemsize != len(data64) // 4 * 3 - data64[-2:].count("="):
            raise DecodeError("array size does not match its data")
        _spend(budget, "elements", count)
        try:
            raw = base64.b64decode(data64, validate=True)
        except (ValueError, TypeError) as exc:
            raise DecodeError("malformed array") from exc
        if count * dtype.itemsize != len(raw):
            raise DecodeError("array size does not match its data")
        arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if not np.little_endian:  # pragma: no cover
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr[()] if tag == "__npscalar__" else arr
    raise DecodeError("unknown tag")
