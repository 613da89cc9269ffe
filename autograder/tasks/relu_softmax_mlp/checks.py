"""Checks of task relu_softmax_mlp (backprop): batch gradients of a ReLU + softmax MLP.

Layout: hidden = ReLU(X @ W1 + b1), scores = hidden @ W2 + b2, mean cross-entropy
over the rows, ReLU'(0) = 0. The document (relu-softmax-mlp-gradients.md) is
symbolic; the key holds the task author's verification points (confirmed by
finite differences and torch in tests/key/test_relu_softmax_mlp.py). Random
checks are refereed by float64 central differences of the reference loss.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import as_gradients, assert_close, assert_rel_error, check, expect
from autograder.grading.gradcheck import numerical_gradients
from autograder.tasks.answer_key import value

TASK = "relu_softmax_mlp"
FN = "two_layer_gradients"
KEYS = ("W1", "b1", "W2", "b2")


# -- reference ---------------------------------------------------------------------

def reference_loss(X, Y, W1, b1, W2, b2) -> float:
    Z2 = np.maximum(X @ W1 + b1, 0.0) @ W2 + b2
    m = Z2.max(axis=1, keepdims=True)
    log_p = Z2 - m - np.log(np.exp(Z2 - m).sum(axis=1, keepdims=True))
    return float(-np.mean(np.sum(Y * log_p, axis=1)))


def reference_gradients(X, Y, W1, b1, W2, b2) -> dict:
    n = X.shape[0]
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    dZ2 = (E / E.sum(axis=1, keepdims=True) - Y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(0), "W2": A1.T @ dZ2, "b2": dZ2.sum(0)}


def _random_problem(rng, N, D, H, C, scale=1.0):
    X = rng.normal(size=(N, D))
    Y = np.eye(C)[rng.integers(C, size=N)]
    params = {"W1": rng.normal(size=(D, H)), "b1": rng.normal(size=H),
              "W2": rng.normal(scale=scale, size=(H, C)), "b2": rng.normal(size=C)}
    return X, Y, params


def _grads(student, X, Y, params, what):
    out = student.call(FN, X, Y, params["W1"], params["b1"], params["W2"], params["b2"])
    return as_gradients(out, {k: np.shape(params[k]) for k in KEYS}, what)


def assert_fd_close(actual, fd, what, tol=1e-5, floor=1e-9):
    """Against finite differences, with an absolute floor for exactly-zero (dead ReLU) entries."""
    assert_rel_error(actual, fd, what, tol=tol, floor=floor)


def _key_point(name):
    e = {k: value(TASK, name, k) for k in ("X", "Y") + KEYS}
    return e["X"], e["Y"], {k: e[k] for k in KEYS}


def _assert_reference(g, X, Y, params, what):
    ref = reference_gradients(X, Y, **params)
    for k in KEYS:
        assert_close(g[k], ref[k], f"gradient of {k} for {what}", rtol=1e-6, atol=1e-10)


def _safe_from_kinks(X, params, margin=1e-3) -> bool:
    return bool(np.min(np.abs(X @ params["W1"] + params["b1"])) > margin)


# -- checks ------------------------------------------------------------------------

@check
def test_random_batches(student):
    sizes = [(5, 4, 6, 3), (1, 3, 5, 2), (8, 2, 7, 4), (6, 5, 3, 5)]
    for N, D, H, C in sizes:
        while True:
            X, Y, params = _random_problem(student.rng, N, D, H, C)
            if _safe_from_kinks(X, params):
                break
        g = _grads(student, X, Y, params, f"two_layer_gradients on a random batch (N={N}, D={D}, H={H}, C={C})")
        fd = numerical_gradients(lambda **p: reference_loss(X, Y, **p), params)
        for k in KEYS:
            assert_fd_close(g[k], fd[k], f"gradient of {k} for a random batch (N={N}, D={D}, H={H}, C={C})")


@check
def test_verification_point(student):
    X, Y, params = _key_point("point")
    g = _grads(student, X, Y, params, "two_layer_gradients at the fixed verification batch")
    expect(abs(float(g["b2"].sum())) < 1e-9, "the entries of dL/db2 must sum to zero (rows of P - Y sum to zero)")
    for k in KEYS:
        assert_close(g[k], value(TASK, f"grad_{k}"), f"gradient of {k} at the fixed verification batch",
                     rtol=1e-6, atol=1e-10)
    # the same sizes with values the student has not seen
    for _ in range(3):
        X, Y, params = _random_problem(student.rng, *X.shape, params["W1"].shape[1], Y.shape[1])
        _assert_reference(_grads(student, X, Y, params, "two_layer_gradients on a batch like the verification batch"),
                          X, Y, params, "a batch like the verification batch")


@check
def test_relu_at_zero(student):
    # the cell's public case: one example, hidden unit 0 has z = 0 exactly
    X0, Y0 = np.array([[1.0, 1.0]]), np.array([[1.0, 0.0]])
    p0 = {"W1": np.array([[1.0, 2.0], [-1.0, 1.0]]), "b1": np.array([0.0, -1.0]),
          "W2": np.array([[1.0, -1.0], [0.5, 0.5]]), "b2": np.zeros(2)}
    cases = [(X0, Y0, p0), _key_point("zero_point")]
    for _ in range(3):   # integer data, so that X @ W1 + b1 is exact; zero a few pre-activations
        N, D, H, C = 4, 3, 5, 3
        X = student.rng.integers(-3, 4, size=(N, D)).astype(np.float64)
        W1 = student.rng.integers(-2, 3, size=(D, H)).astype(np.float64)
        b1 = student.rng.integers(-2, 3, size=H).astype(np.float64)
        rows = student.rng.integers(N, size=H)
        cols = student.rng.permutation(H)[:3]
        for c in cols:
            b1[c] = -float(X[rows[c]] @ W1[:, c])
        params = {"W1": W1, "b1": b1, "W2": student.rng.normal(size=(H, C)), "b2": student.rng.normal(size=C)}
        cases.append((X, np.eye(C)[student.rng.integers(C, size=N)], params))
    for X, Y, params in cases:
        Z1 = X @ params["W1"] + params["b1"]
        assert np.any(Z1 == 0.0)
        g = _grads(student, X, Y, params, "two_layer_gradients with pre-activations exactly 0")
        ref = reference_gradients(X, Y, **params)
        for k in KEYS:
            assert_close(g[k], ref[k], f"gradient of {k} when some pre-activations are exactly 0 (ReLU'(0) must be 0)",
                         rtol=1e-7, atol=1e-12)


@check
def test_batch_mean(student):
    for N in (3, 7):
        X, Y, params = _random_problem(student.rng, N, 4, 5, 3)
        g = _grads(student, X, Y, params, f"two_layer_gradients on a batch of {N}")
        _assert_reference(g, X, Y, params, f"a random batch of {N}")
        g2 = _grads(student, np.vstack([X, X, X]), np.vstack([Y, Y, Y]), params,
                    "two_layer_gradients on the same batch repeated three times")
        for k in KEYS:
            assert_close(g2[k], g[k], f"gradient of {k}: repeating the batch must not change it (use the mean loss)",
                         rtol=1e-7, atol=1e-12)
        singles = [_grads(student, X[i:i + 1], Y[i:i + 1], params, "two_layer_gradients on one example")
                   for i in range(N)]
        for k in KEYS:
            assert_close(g[k], np.mean([s[k] for s in singles], axis=0),
                         f"gradient of {k}: the batch gradient must be the mean of the per-example gradients",
                         rtol=1e-6, atol=1e-12)


@check
def test_shapes_and_inputs(student):
    for N, D, H, C in ((5, 4, 6, 3), (1, 2, 3, 4), (3, 6, 2, 2)):
        X, Y, params = _random_problem(student.rng, N, D, H, C)
        args = [a.copy() for a in (X, Y, params["W1"], params["b1"], params["W2"], params["b2"])]
        out, after = student.call_keep_args(FN, *args)
        what = f"two_layer_gradients (N={N}, D={D}, H={H}, C={C})"
        g = as_gradients(out, {k: np.shape(params[k]) for k in KEYS}, what, strict=True)
        _assert_reference(g, X, Y, params, what)
        for name, before, now in zip(("X", "Y", "W1", "b1", "W2", "b2"),
                                     (X, Y, params["W1"], params["b1"], params["W2"], params["b2"]), after):
            expect(isinstance(now, np.ndarray) and np.array_equal(now, before), f"{what} modified its argument {name}")


@check
def test_stable_softmax(student):
    for scale in (1000.0, 300.0):
        X, Y, params = _random_problem(student.rng, 6, 4, 5, 3, scale=scale)
        g = _grads(student, X, Y, params, "two_layer_gradients with scores of size ~1000")
        ref = reference_gradients(X, Y, **params)
        for k in KEYS:
            expect(np.all(np.isfinite(g[k])), f"gradient of {k} with huge scores: inf or NaN")
            assert_close(g[k], ref[k], f"gradient of {k} with huge scores", rtol=1e-6, atol=1e-9)
