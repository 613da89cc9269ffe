"""Checks of task sigmoid_mlp (backprop): gradients of a 3-4-1 sigmoid MLP under BCE.

The document (mlp-sigmoid-bce-gradients.pl.txt) is symbolic only: the answer
key holds our own verification point, confirmed by float64 finite differences
and torch autograd in tests/key/test_sigmoid_mlp.py. Every randomised check
below is refereed by float64 central differences of the reference loss.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import as_gradients, assert_close, assert_rel_error, check, expect
from autograder.grading.gradcheck import numerical_gradients
from autograder.tasks.answer_key import value

TASK = "sigmoid_mlp"
FN = "sigmoid_mlp_gradients"
KEYS = ("W", "b1", "U", "b2")


# -- reference ---------------------------------------------------------------------

def _sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -np.asarray(t, dtype=np.float64)))


def reference_loss(x, y, W, b1, U, b2) -> float:
    """Mean BCE over the rows of x (one row if x is 1-D), via softplus(theta) - y theta."""
    X = np.atleast_2d(np.asarray(x, dtype=np.float64))
    theta = _sigmoid(X @ W.T + b1) @ U[0] + b2[0]
    return float(np.mean(np.logaddexp(0.0, theta) - np.atleast_1d(y) * theta))


def reference_gradients(x, y, W, b1, U, b2) -> dict:
    X = np.atleast_2d(np.asarray(x, dtype=np.float64))
    Y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    n = X.shape[0]
    Hid = _sigmoid(X @ W.T + b1)
    d1 = (_sigmoid(Hid @ U[0] + b2[0]) - Y) / n
    d2 = d1[:, None] * U[0] * Hid * (1.0 - Hid)
    return {"W": d2.T @ X, "b1": d2.sum(0), "U": (d1 @ Hid)[None, :], "b2": np.array([d1.sum()])}


def fd_gradients(x, y, params: dict) -> dict:
    return numerical_gradients(lambda **p: reference_loss(x, y, **p), params)


def _random_params(rng, scale=1.0):
    return {"W": rng.normal(scale=scale, size=(4, 3)), "b1": rng.normal(scale=scale, size=4),
            "U": rng.normal(scale=scale, size=(1, 4)), "b2": rng.normal(scale=scale, size=1)}


def _shapes(params):
    return {k: np.shape(v) for k, v in params.items()}


def _grads(student, x, y, params, what):
    out = student.call(FN, x, y, params["W"], params["b1"], params["U"], params["b2"])
    return as_gradients(out, {k: np.shape(params[k]) for k in KEYS}, what)


def _point():
    p = {k: value(TASK, "point", k) for k in KEYS}
    return value(TASK, "point", "x"), float(value(TASK, "point", "y")), p


# -- checks ------------------------------------------------------------------------

@check
def test_single_example(student):
    x, y, p = _point()
    g = _grads(student, x, y, p, "sigmoid_mlp_gradients at the verification point")
    for k in KEYS:
        assert_close(g[k], value(TASK, f"grad_{k}"), f"gradient of {k} at the verification point",
                     rtol=1e-6, atol=1e-10)
    for _trial in range(5):
        params = _random_params(student.rng)
        x = student.rng.normal(scale=2.0, size=3)
        y = float(student.rng.integers(2))
        g = _grads(student, x, y, params, "sigmoid_mlp_gradients for one random example")
        fd = fd_gradients(x, y, params)
        for k in KEYS:
            assert_rel_error(g[k], fd[k], f"gradient of {k} for one random example", tol=1e-5)


@check
def test_batch_mean(student):
    _, _, p = _point()
    X, Y = value(TASK, "batch_point", "X"), value(TASK, "batch_point", "y")
    g = _grads(student, X, Y, p, "sigmoid_mlp_gradients on the verification batch")
    for k in KEYS:
        assert_close(g[k], value(TASK, f"batch_grad_{k}"),
                     f"batch gradient of {k} (mean loss) at the verification batch",
                     rtol=1e-6, atol=1e-10)
    for n in (1, 4, 9):
        params = _random_params(student.rng)
        X = student.rng.normal(scale=2.0, size=(n, 3))
        Y = student.rng.integers(2, size=n).astype(np.float64)
        g = _grads(student, X, Y, params, f"sigmoid_mlp_gradients on a random batch of {n}")
        fd = fd_gradients(X, Y, params)
        for k in KEYS:
            assert_rel_error(g[k], fd[k], f"gradient of {k} of the mean loss of a random batch of {n}", tol=1e-5)


@check
def test_shapes_and_inputs(student):
    for x, y in ((student.rng.normal(size=3), 1.0),
                 (student.rng.normal(size=(5, 3)), student.rng.integers(2, size=5).astype(np.float64)),
                 (np.zeros((5, 3)), np.zeros(5))):
        params = _random_params(student.rng)
        args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                for a in (x, y, params["W"], params["b1"], params["U"], params["b2"])]
        out, after = student.call_keep_args(FN, *args)
        what = "sigmoid_mlp_gradients(" + ("one example" if np.ndim(x) == 1 else "a batch") + ")"
        g = as_gradients(out, {k: np.shape(params[k]) for k in KEYS}, what, strict=True)
        ref = reference_gradients(x, y, **params)
        for k in KEYS:
            assert_close(g[k], ref[k], f"{what}: gradient of {k}", rtol=1e-6, atol=1e-10)
        names = ("x", "y", "W", "b1", "U", "b2")
        for name, before, now in zip(names, (x, y, params["W"], params["b1"], params["U"], params["b2"]), after):
            if isinstance(before, np.ndarray):
                expect(isinstance(now, np.ndarray) and np.array_equal(now, before),
                       f"{what} modified its argument {name}")


@check
def test_large_theta(student):
    x, _, p = _point()
    cases = [(x, 0.0, {**p, "U": 1000.0 * np.ones((1, 4))}),
             (x, 1.0, {**p, "U": -1000.0 * np.ones((1, 4))}),
             (x, 1.0, {**p, "b2": np.array([800.0])})]
    X = student.rng.normal(size=(6, 3))
    labels = student.rng.integers(2, size=6).astype(np.float64)
    cases.append((X, labels, {**_random_params(student.rng), "b2": np.array([-900.0])}))
    big = _random_params(student.rng, scale=300.0)
    cases.append((student.rng.normal(size=3), 0.0, big))
    for x, y, params in cases:
        g = _grads(student, x, y, params, "sigmoid_mlp_gradients with a saturated output (|theta| ~ 1000)")
        ref = reference_gradients(x, y, **params)
        for k in KEYS:
            expect(np.all(np.isfinite(g[k])),
                   f"gradient of {k} with |theta| ~ 1000: inf or NaN (use delta1 = y_hat - y and a stable sigmoid)")
            assert_close(g[k], ref[k], f"gradient of {k} with |theta| ~ 1000", rtol=1e-6, atol=1e-9)
