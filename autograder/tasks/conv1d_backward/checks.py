"""Checks of task conv1d_backward (exam22, problem 3, eqs. 41-65).

Reference implementations live here (per-kernel ``np.correlate`` for the layer,
an explicit loop model for the loss); every gradient is refereed by float64
central differences.

One mistake costs once: ``conv_model_forward_backward`` calls the student's own
``conv1d`` and ``conv1d_backward_weights``. Its checks accept the reference
answer or, failing that, the answer composed in the grader from those two
student functions (:func:`_composed_model`): a model right for the student's
own building blocks keeps its points, and a mistake in a building block costs
only that block's check. tests/key/test_conv1d_backward.py confirms the answer key
with finite differences and torch.
"""

from __future__ import annotations

import numpy as np

from autograder.bridge import codec
from autograder.grading.checking import (
    CheckFailed,
    as_float_array,
    assert_close,
    assert_rel_error,
    check,
    expect,
    fail,
)
from autograder.grading.gradcheck import numerical_gradient
from autograder.tasks.answer_key import value

TASK = "conv1d_backward"
GRAD_TOL = 1e-6


# -- references ------------------------------------------------------------------

def reference_conv1d(x, w):
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    return np.stack([np.correlate(x, kernel, mode="valid") for kernel in w])


def reference_model(x, y, w, W2, b2):
    """(p, loss, pre-activations) of conv -> ReLU -> GAP -> FC -> softmax -> CE."""
    h1 = reference_conv1d(x, w)
    h3 = np.maximum(h1, 0.0).mean(axis=1)
    s = np.asarray(W2, dtype=np.float64) @ h3 + np.asarray(b2, dtype=np.float64)
    m = s.max()
    log_p = s - m - np.log(np.sum(np.exp(s - m)))
    return np.exp(log_p), -log_p[y], h1


# -- helpers ---------------------------------------------------------------------

def _unchanged(before, after, what):
    for name, old, new in zip(what, before, after):
        if isinstance(old, np.ndarray):
            ok = isinstance(new, np.ndarray) and new.shape == old.shape and np.array_equal(new, old)
        else:
            ok = type(new) is type(old) and new == old
        expect(ok, f"the function modified its argument `{name}`")


def _exam_inputs():
    e = value(TASK, "exam_input", "x"), value(TASK, "exam_input", "w")
    return e[0].copy(), e[1].copy()


def _random_sizes(rng):
    K = int(rng.integers(1, 5))
    k = int(rng.integers(1, 6))
    L = k + int(rng.integers(0, 9))
    return K, k, L


# -- checks ----------------------------------------------------------------------

@check
def test_conv1d(student):
    x, w = _exam_inputs()
    out = as_float_array(student.call("conv1d", x, w), "conv1d(x, w) on the exam's data", (2, 3))
    assert_close(out, value(TASK, "conv_forward_exam"), "conv1d(x, w) on the exam's data (eqs. 41-42)")
    out = student.call("conv1d", np.arange(6.0), np.ones((4, 2)))
    as_float_array(out, "conv1d(x, w) with L=6, K=4, k=2", (4, 5))
    for _ in range(12):
        K, k, L = _random_sizes(student.rng)
        x, w = student.rng.normal(size=L), student.rng.normal(size=(K, k))
        out, args = student.call_keep_args("conv1d", x.copy(), w.copy())
        _unchanged((x, w), args, ("x", "w"))
        out = as_float_array(out, f"conv1d(x, w) with L={L}, K={K}, k={k}", (K, L - k + 1))
        assert_close(out, reference_conv1d(x, w), f"conv1d(x, w) with L={L}, K={K}, k={k}",
                     rtol=1e-9, atol=1e-12)


@check
def test_backward_weights(student):
    x, _ = _exam_inputs()
    dh1 = value(TASK, "dL_dh1_exam")
    dw = as_float_array(student.call("conv1d_backward_weights", x, dh1.copy()),
                      "conv1d_backward_weights on the exam's data", (2, 3))
    assert_close(dw, value(TASK, "dL_dw_exam"), "conv1d_backward_weights on the exam's data (eqs. 62-65)")
    for _ in range(12):
        K, k, L = _random_sizes(student.rng)
        x, w = student.rng.normal(size=L), student.rng.normal(size=(K, k))
        dout = student.rng.normal(size=(K, L - k + 1))
        got, args = student.call_keep_args("conv1d_backward_weights", x.copy(), dout.copy())
        _unchanged((x, dout), args, ("x", "dout"))
        what = f"conv1d_backward_weights with L={L}, K={K}, k={k}"
        got = as_float_array(got, what, (K, k))
        num = numerical_gradient(lambda wv: reference_conv1d(x, wv), w.copy(), dout)
        assert_rel_error(got, num, what, tol=GRAD_TOL)


@check
def test_backward_inputs(student):
    dx = as_float_array(student.call("conv1d_backward_inputs", np.array([[1.0, 2.0, 3.0]]),
                                   np.array([[0.0, 0.0, 1.0]]), 5),
                      "conv1d_backward_inputs for one kernel of length 3 and L=5", (5,))
    assert_close(dx, [0.0, 0.0, 1.0, 2.0, 3.0], "conv1d_backward_inputs for one kernel of length 3 and L=5")
    for _ in range(12):
        K, k, L = _random_sizes(student.rng)
        x, w = student.rng.normal(size=L), student.rng.normal(size=(K, k))
        dout = student.rng.normal(size=(K, L - k + 1))
        got, args = student.call_keep_args("conv1d_backward_inputs", w.copy(), dout.copy(), L)
        _unchanged((w, dout, L), args, ("w", "dout", "L"))
        what = f"conv1d_backward_inputs with L={L}, K={K}, k={k}"
        got = as_float_array(got, what, (L,))
        num = numerical_gradient(lambda xv: reference_conv1d(xv, w), x.copy(), dout)
        assert_rel_error(got, num, what, tol=GRAD_TOL)


def _model_call(student, x, y, w, W2, b2, what):
    out, args = student.call_keep_args("conv_model_forward_backward", x.copy(), y, w.copy(), W2.copy(), b2.copy())
    _unchanged((x, y, w, W2, b2), args, ("x", "y", "w", "W2", "b2"))
    if isinstance(out, codec.Unsupported) or not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"{what}: expected a pair (p, dw)")
    p = as_float_array(out[0], f"{what}: p", (W2.shape[0],))
    dw = as_float_array(out[1], f"{what}: dw", w.shape)
    return p, dw


@check
def test_model_exam(student):
    x, w = _exam_inputs()
    W2, b2 = value(TASK, "logits_exam", "W2"), value(TASK, "logits_exam", "b2")
    y = int(value(TASK, "dL_ds_exam", "y"))
    p, dw = _model_call(student, x, y, w, W2, b2, "the exam's model")

    def judge(expected):
        assert_close(p, expected[0], "the exam's model: p (eq. 54)")
        assert_close(dw, expected[1], "the exam's model: dw (eqs. 63, 65)")
    _either(judge, (value(TASK, "probs_exam"), value(TASK, "dL_dw_exam")),
            lambda: _composed_model(student, x, y, w, W2, b2))
    # models of the exam's sizes with values the student has not seen
    for _ in range(4):
        x, y, w, W2, b2 = _random_model(student.rng, sizes=(x.size, *w.shape, W2.shape[0]))
        _compare_model(student, x, y, w, W2, b2, "a model like the exam's")


def _random_model(rng, sizes=None):
    """A random model whose pre-activations stay away from the ReLU kink; ``sizes``: (L, K, k, C) or random."""
    while True:
        if sizes is None:
            K, k, L = _random_sizes(rng)
            C = int(rng.integers(2, 6))
        else:
            L, K, k, C = sizes
        x, w = rng.normal(size=L), rng.normal(size=(K, k))
        if np.min(np.abs(reference_conv1d(x, w))) > 1e-3:
            return x, int(rng.integers(0, C)), w, rng.normal(size=(C, K)), rng.normal(size=C)


@check
def test_model_random(student):
    # the notebook's public example
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=7), rng.normal(size=(3, 2))
    cases = [(x, 2, w, rng.normal(size=(4, 3)), rng.normal(size=4))]
    cases += [_random_model(student.rng) for _ in range(10)]
    for x, y, w, W2, b2 in cases:
        K, k = w.shape
        _compare_model(student, x, y, w, W2, b2, f"model with L={x.size}, K={K}, k={k}, C={W2.shape[0]}")


def _compare_model(student, x, y, w, W2, b2, what):
    p, dw = _model_call(student, x, y, w, W2, b2, what)

    def judge(expected):
        assert_close(p, expected[0], f"{what}: p", rtol=1e-9, atol=1e-12)
        assert_rel_error(dw, expected[1], f"{what}: dw", tol=GRAD_TOL)
    p_ref, _, _ = reference_model(x, y, w, W2, b2)
    num = numerical_gradient(lambda wv: reference_model(x, y, wv, W2, b2)[1], w.copy())
    _either(judge, (p_ref, num), lambda: _composed_model(student, x, y, w, W2, b2))


def _composed_model(student, x, y, w, W2, b2):
    """(p, dw) right for the student's own ``conv1d`` and ``conv1d_backward_weights``, or None.

    The student's conv1d gives the pre-activations, the grader the rest of the forward pass and
    dL/dh1, the student's conv1d_backward_weights turns that into dw.
    """
    try:
        h1 = as_float_array(student.call("conv1d", x.copy(), w.copy()), "conv1d", (w.shape[0], x.size - w.shape[1] + 1))
        if not np.all(np.isfinite(h1)):
            return None
        n = h1.shape[1]
        h3 = np.maximum(h1, 0.0).mean(axis=1)
        s = np.asarray(W2, dtype=np.float64) @ h3 + np.asarray(b2, dtype=np.float64)
        e = np.exp(s - s.max())
        p = e / e.sum()
        ds = p.copy()
        ds[y] -= 1.0
        dh1 = np.repeat((W2.T @ ds)[:, None] / n, n, axis=1) * (h1 > 0)
        dw = as_float_array(student.call("conv1d_backward_weights", x.copy(), dh1), "dw", w.shape)
    except CheckFailed:
        return None
    return p, dw


def _either(judge, reference, own):
    """``judge(expected)`` passes for the reference or, else, for ``own()`` (None: no alternative).

    The reference's failure message is the one raised.
    """
    try:
        judge(reference)
    except CheckFailed:
        alternative = own()
        if alternative is None:
            raise
        try:
            judge(alternative)
        except CheckFailed:
            pass
        else:
            return
        raise
