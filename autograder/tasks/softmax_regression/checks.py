"""Checks of task softmax_regression (backprop): one SGD step of softmax regression.

The reference step lives here; every gradient it produces is compared, in
tests/key/test_softmax_regression.py, with float64 central differences of the
categorical cross-entropy and with torch autograd.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import as_array, assert_close, assert_rel_error, check, expect, fail
from autograder.grading.gradcheck import numerical_gradient
from autograder.tasks.answer_key import value

TASK = "softmax_regression"
FN = "softmax_regression_step"


# -- reference ---------------------------------------------------------------------

def reference_loss(W, b, x, y) -> float:
    """Categorical cross-entropy -sum_k y_k log softmax(Wx + b)_k, stable."""
    z = np.asarray(W, float) @ np.asarray(x, float) + np.asarray(b, float)
    m = np.max(z)
    return float(m + np.log(np.sum(np.exp(z - m))) - np.asarray(y, float) @ z)


def reference_step(W, b, x, y, lr=1.0):
    W, b, x, y = (np.asarray(a, dtype=np.float64) for a in (W, b, x, y))
    z = W @ x + b
    e = np.exp(z - z.max())
    dz = e / e.sum() - y
    return W - lr * np.outer(dz, x), b - lr * dz


def _random_problem(rng, K, D, scale=1.0):
    W = rng.normal(scale=scale, size=(K, D))
    b = rng.normal(scale=scale, size=K)
    x = rng.normal(size=D)
    y = np.eye(K)[int(rng.integers(K))]
    return W, b, x, y


def _step(student, W, b, x, y, lr=None, what="softmax_regression_step(...)"):
    out = student.call(FN, W, b, x, y) if lr is None else student.call(FN, W, b, x, y, lr=lr)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"{what}: expected a pair (W_new, b_new)")
    W_new = as_array(out[0], f"{what} W_new", shape=np.shape(W))
    b_new = as_array(out[1], f"{what} b_new", shape=np.shape(b))
    return W_new, b_new


# -- checks ------------------------------------------------------------------------

@check
def test_document_step(student):
    doc = "softmax_regression_step on the worked example"
    inp = {k: value(TASK, "example", k) for k in ("W", "b", "x", "y")}
    W_new, b_new = _step(student, inp["W"], inp["b"], inp["x"], inp["y"], lr=float(value(TASK, "example", "lr")),
                         what=doc)
    expect(np.allclose(W_new[:, 2], inp["W"][:, 2]),
           f"{doc}: the third column of W changed although x[2] = 0")
    assert_close(b_new, value(TASK, "b_new"), f"{doc}: b_new", rtol=1e-6)
    assert_close(W_new, value(TASK, "W_new"), f"{doc}: W_new", rtol=1e-6)
    # the default learning rate is 1
    W_def, b_def = _step(student, inp["W"], inp["b"], inp["x"], inp["y"], what=f"{doc} (default lr)")
    assert_close(W_def, value(TASK, "W_new"), f"{doc} with the default lr: W_new", rtol=1e-6)
    assert_close(b_def, value(TASK, "b_new"), f"{doc} with the default lr: b_new", rtol=1e-6)
    # examples of the worked example's sizes with values the student has not seen
    K, D = inp["W"].shape
    for lr in (float(value(TASK, "example", "lr")), None):
        for _ in range(2):
            W, b, x, y = _random_problem(student.rng, K, D)
            what = "softmax_regression_step on an example like the worked one" + (" (default lr)" if lr is None else "")
            W_new, b_new = _step(student, W, b, x, y, lr=lr, what=what)
            W_ref, b_ref = reference_step(W, b, x, y, 1.0 if lr is None else lr)
            assert_close(W_new, W_ref, f"{what}: W_new", rtol=1e-7, atol=1e-10)
            assert_close(b_new, b_ref, f"{what}: b_new", rtol=1e-7, atol=1e-10)


@check
def test_random_gradients(student):
    for _trial in range(6):
        K, D = (int(v) for v in student.rng.integers(2, 7, size=2))
        W, b, x, y = _random_problem(student.rng, K, D)
        W_new, b_new = _step(student, W, b, x, y, lr=1.0,
                             what=f"softmax_regression_step(...) on a random example (K={K}, D={D})")
        gW = numerical_gradient(lambda w: reference_loss(w, b, x, y), W.copy())
        gb = numerical_gradient(lambda v: reference_loss(W, v, x, y), b.copy())
        assert_rel_error(W - W_new, gW, f"W - W_new (lr = 1) for a random example (K={K}, D={D})", tol=1e-6)
        assert_rel_error(b - b_new, gb, f"b - b_new (lr = 1) for a random example (K={K}, D={D})", tol=1e-6)


@check
def test_learning_rate(student):
    for lr in (0.0, 0.1, 0.5, 2.5):
        K, D = 3, 4
        W, b, x, y = _random_problem(student.rng, K, D)
        W_new, b_new = _step(student, W, b, x, y, lr=lr, what=f"softmax_regression_step(..., lr={lr})")
        W_ref, b_ref = reference_step(W, b, x, y, lr)
        assert_close(W_new, W_ref, f"W_new with lr={lr}", rtol=1e-7, atol=1e-10)
        assert_close(b_new, b_ref, f"b_new with lr={lr}", rtol=1e-7, atol=1e-10)
    # the public test of the cell: halving lr halves the change
    inp = {k: value(TASK, "example", k) for k in ("W", "b", "x", "y")}
    W_a, b_a = _step(student, inp["W"], inp["b"], inp["x"], inp["y"], lr=1.0)
    W_h, b_h = _step(student, inp["W"], inp["b"], inp["x"], inp["y"], lr=0.5)
    expect(np.allclose(inp["W"] - W_h, 0.5 * (inp["W"] - W_a)) and np.allclose(inp["b"] - b_h, 0.5 * (inp["b"] - b_a)),
           "halving lr does not halve the step on the worked example")


@check
def test_large_logits(student):
    cases = [(np.array([[1000.0, 0.0], [-1000.0, 0.0], [0.0, 1000.0]]), np.zeros(3),
              np.array([1.0, 0.0]), np.array([0.0, 1.0, 0.0]))]
    for _ in range(4):
        W, b, x, y = _random_problem(student.rng, 4, 3, scale=400.0)
        cases.append((W, b, x, y))
    for W, b, x, y in cases:
        W_new, b_new = _step(student, W, b, x, y, lr=1.0, what="softmax_regression_step(...) with huge logits")
        expect(np.all(np.isfinite(W_new)) and np.all(np.isfinite(b_new)),
               "softmax_regression_step(...) with huge logits: inf or NaN in the result")
        W_ref, b_ref = reference_step(W, b, x, y)
        assert_close(W_new, W_ref, "W_new with huge logits", rtol=1e-7, atol=1e-9)
        assert_close(b_new, b_ref, "b_new with huge logits", rtol=1e-7, atol=1e-9)


@check
def test_shapes_and_inputs(student):
    for K, D in ((2, 4), (5, 3), (1, 6)):
        W, b, x, y = _random_problem(student.rng, K, D)
        args = [a.copy() for a in (W, b, x, y)]
        out, after = student.call_keep_args(FN, *args, lr=0.3)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail("softmax_regression_step(...): expected a pair (W_new, b_new)")
        W_new = as_array(out[0], f"W_new for K={K}, D={D}", shape=(K, D))
        b_new = as_array(out[1], f"b_new for K={K}, D={D}", shape=(K,))
        expect(out[0].dtype.kind == "f" and out[1].dtype.kind == "f", "W_new and b_new must be float arrays")
        for name, before, now in zip(("W", "b", "x", "y"), (W, b, x, y), after):
            expect(isinstance(now, np.ndarray) and np.array_equal(now, before),
                   f"softmax_regression_step(...) modified its argument {name}")
        expect(np.all(np.isfinite(W_new)) and np.all(np.isfinite(b_new)),
               f"softmax_regression_step(...) for K={K}, D={D}: inf or NaN in the result")
        W_ref, b_ref = reference_step(W, b, x, y, 0.3)
        assert_close(W_new, W_ref, f"W_new for K={K}, D={D}", rtol=1e-7, atol=1e-10)
        assert_close(b_new, b_ref, f"b_new for K={K}, D={D}", rtol=1e-7, atol=1e-10)
