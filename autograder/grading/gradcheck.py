"""The one finite-difference referee every gradient check uses (CS231n style).

Central differences in float64, one element at a time. For a function ``f``
whose output is an array, :func:`numerical_gradient` returns the gradient of
``sum(f(x) * dout)`` with respect to ``x``: the vector-Jacobian product that a
backward pass must produce.
"""

from __future__ import annotations

import numpy as np


def numerical_gradient(f, x: np.ndarray, dout=None, h: float = 1e-5) -> np.ndarray:
    """d/dx of ``sum(f(x) * dout)`` (or of the scalar ``f(x)`` when ``dout`` is None).

    x: float array of any shape; it is perturbed in place and restored.
    Returns an array of x's shape.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.asarray(f(x), dtype=np.float64)
        x[i] = old - h
        minus = np.asarray(f(x), dtype=np.float64)
        x[i] = old
        diff = plus - minus
        grad[i] = (np.sum(diff * dout) if dout is not None else np.sum(diff)) / (2 * h)
        it.iternext()
    return grad


def numerical_gradients(f, params: dict, h: float = 1e-5) -> dict:
    """Gradients of the scalar ``f(**params)`` with respect to every entry of ``params``."""
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    out = {}
    for name in params:
        def g(value, name=name):
            return f(**{**params, name: value})
        out[name] = numerical_gradient(g, params[name].copy(), h=h)
    return out
