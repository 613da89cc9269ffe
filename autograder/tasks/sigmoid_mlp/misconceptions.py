"""Misconceptions of task sigmoid_mlp: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hints import Misconception, function_probe, modifies_argument, overflows_like

FN = "sigmoid_mlp_gradients"
SINGLE = "test_single_example"
BATCH = "test_batch_mean"
SHAPES = "test_shapes_and_inputs"
LARGE = "test_large_theta"
KEYS = ("W", "b1", "U", "b2")


def _sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -np.asarray(t, dtype=np.float64)))


def _grads(x, y, W, b1, U, b2, *, d2_form="right", norm="mean", gw="right", sign=1.0, chain=False):
    X = np.atleast_2d(np.asarray(x, dtype=np.float64))
    Y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    n = X.shape[0]
    Hid = _sigmoid(X @ W.T + b1)
    yh = _sigmoid(Hid @ U[0] + b2[0])
    if chain:
        d1 = (-Y / yh + (1 - Y) / (1 - yh)) * yh * (1 - yh)
    else:
        d1 = sign * (yh - Y)
    d1 = d1 / (n if norm == "mean" else 1.0)
    local = {"right": Hid * (1 - Hid), "first": Hid[:, :1] * (1 - Hid[:, :1]), "none": 1.0}[d2_form]
    d2 = d1[:, None] * U[0] * local
    return {"W": d2.T @ X if gw == "right" else X.T @ d2, "b1": d2.sum(0), "U": (d1 @ Hid)[None, :],
            "b2": np.array([d1.sum()])}


def _params(rng, scale=1.0):
    return (rng.normal(scale=scale, size=(4, 3)), rng.normal(scale=scale, size=4),
            rng.normal(scale=scale, size=(1, 4)), rng.normal(scale=scale, size=1))


def _single(rng):
    return (rng.normal(scale=2.0, size=3), float(rng.integers(2)), *_params(rng))


def _batch(rng):
    n = int(rng.integers(3, 7))
    return (rng.normal(scale=2.0, size=(n, 3)), (np.arange(n) % 2).astype(np.float64), *_params(rng))


def _saturated(rng):
    x, y, W, b1, U, b2 = _single(rng)
    return x, 1.0, W, b1, U, np.array([-900.0])


def _probe(inputs, compare=None, **wrong):
    return function_probe(FN, inputs, right=_grads, wrong=lambda *a: _grads(*a, **wrong), rtol=1e-6,
                          pick=lambda out: {k: out[k] for k in KEYS}, compare=compare)


EVERY = (SINGLE, BATCH, SHAPES, LARGE)

MISCONCEPTIONS = [
    Misconception(
        id="sigma_prime_of_z1",
        text="delta2 uses the derivative of the first hidden unit for every hidden unit (the notes' "
             "equation slip); each hidden unit j needs its own factor sigma'(z_j).",
        checks=EVERY, probe=_probe(_single, d2_form="first"), mutants=("sigma_prime_of_z1",), group="d2"),
    Misconception(
        id="missing_sigma_prime",
        text="delta2 lacks the derivative of the hidden sigmoid; back through a sigmoid unit the gradient is "
             "multiplied by sigma'(z) = sigma(z)(one minus sigma(z)).",
        checks=EVERY, probe=_probe(_single, d2_form="none"), mutants=("missing_sigma_prime",), group="d2"),
    Misconception(
        id="batch_sum",
        text="On a batch the gradient is that of the summed loss; the loss is the mean over the examples, so "
             "divide by the batch size.",
        checks=(BATCH, SHAPES, LARGE), probe=_probe(_batch, norm="sum"), mutants=("batch_sum",), group="d2"),
    Misconception(
        id="transposed_dW",
        text="The gradient of W is transposed: it must have W's shape (hidden by input), the outer product "
             "delta2 x-transposed, not x delta2-transposed.",
        checks=EVERY, probe=_probe(_single, gw="transposed"), mutants=("transposed_dW",), group="d2"),
    Misconception(
        id="unsimplified_delta1",
        text="dL/dtheta is computed as dL/dy_hat times dy_hat/dtheta, which divides by zero once the output "
             "saturates; simplify it first: for the sigmoid with cross-entropy it is y_hat - y.",
        checks=(LARGE,), probe=_probe(_saturated, overflows_like, chain=True), mutants=("unsimplified_delta1",)),
    Misconception(
        id="sign_error",
        text="The output error has the wrong sign; dL/dtheta of the cross-entropy is y_hat - y.",
        checks=EVERY, probe=_probe(_single, sign=-1.0), group="d2"),
    Misconception(
        id="modifies_inputs",
        text="sigmoid_mlp_gradients changes its arguments in place; compute new arrays instead.",
        checks=(SHAPES,), probe=modifies_argument(FN, _batch)),
]
