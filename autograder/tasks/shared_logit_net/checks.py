"""Checks of task shared_logit_net (backprop; the tiny shared-logit network).

The reference below is the closed-form gradient with ReLU'(0) = 0; away from the
kink every gradient is refereed by float64 central differences of the reference
loss. tests/key/test_shared_logit_net.py confirms the answer key (finite
differences and torch).
"""

from __future__ import annotations

import math

import numpy as np

from autograder.bridge import codec
from autograder.grading.checking import as_number, assert_close, assert_rel_error, check, expect, fail
from autograder.grading.gradcheck import numerical_gradients
from autograder.tasks.answer_key import value

TASK = "shared_logit_net"
NAMES = ("w1", "b1", "w2", "b2")
GRAD_TOL = 1e-6


def reference_loss(x, t, w1, b1, w2, b2):
    s1 = w1 * x + b1
    s2 = w2 * max(s1, 0.0) + b2
    m = max(s1, s2)
    lse = m + math.log(math.exp(s1 - m) + math.exp(s2 - m))
    return -(t[0] * (s1 - lse) + t[1] * (s2 - lse))


def reference(x, t, w1, b1, w2, b2):
    """(loss, grads) in closed form, ReLU'(0) = 0."""
    s1 = w1 * x + b1
    h1 = max(s1, 0.0)
    s2 = w2 * h1 + b2
    m = max(s1, s2)
    lse = m + math.log(math.exp(s1 - m) + math.exp(s2 - m))
    y1, y2 = math.exp(s1 - lse), math.exp(s2 - lse)
    d1, d2 = y1 - t[0], y2 - t[1]
    ds1 = d1 + d2 * w2 * (1.0 if s1 > 0 else 0.0)
    return reference_loss(x, t, w1, b1, w2, b2), {"w1": ds1 * x, "b1": ds1, "w2": d2 * h1, "b2": d2}


def _call(student, x, t, params, what):
    t = np.asarray(t, dtype=np.float64)
    out, args = student.call_keep_args("shared_logit_forward_backward", float(x), t.copy(),
                                       *(float(params[n]) for n in NAMES))
    moved = args[1]
    expect(isinstance(moved, np.ndarray) and moved.shape == t.shape and np.array_equal(moved, t),
           "shared_logit_forward_backward modified its argument `t`")
    if isinstance(out, codec.Unsupported) or not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"{what}: expected a pair (loss, grads)")
    loss = as_number(out[0], f"{what}: loss")
    grads = out[1]
    if not isinstance(grads, dict):
        fail(f"{what}: grads must be a dict")
    missing = [n for n in NAMES if n not in grads]
    if missing:
        fail(f"{what}: grads lacks the key(s) {', '.join(missing)}")
    return loss, {n: as_number(grads[n], f"{what}: grads['{n}']") for n in NAMES}


def _random_params(rng, *, min_abs_s1=0.05):
    while True:
        x = float(rng.normal(scale=1.5))
        p = {n: float(v) for n, v in zip(NAMES, rng.normal(scale=1.5, size=4))}
        if abs(p["w1"] * x + p["b1"]) > min_abs_s1:
            return x, p


def _compare_fd(student, x, t, params, what):
    loss, grads = _call(student, x, t, params, what)
    ref_loss = reference_loss(x, t, **params)
    assert_close(loss, ref_loss, f"{what}: loss", rtol=1e-9, atol=1e-12)
    num = numerical_gradients(lambda **p: reference_loss(x, t, **p), params)
    for n in NAMES:
        assert_rel_error(grads[n], num[n], f"{what}: dL/d{n}", tol=GRAD_TOL)


def _compare_reference(student, x, t, params, what):
    loss, grads = _call(student, x, t, params, what)
    ref_loss, ref = reference(x, t, **params)
    assert_close(loss, ref_loss, f"{what}: loss", rtol=1e-9, atol=1e-12)
    for n in NAMES:
        assert_close(grads[n], ref[n], f"{what}: dL/d{n}", rtol=1e-9, atol=1e-12)


def _doc_point():
    e = {n: float(value(TASK, "document_point", n)) for n in ("x",) + NAMES}
    return e.pop("x"), e


@check
def test_document_point(student):
    x, params = _doc_point()
    t = value(TASK, "document_point", "t")
    loss, grads = _call(student, x, t, params, "the document's point")
    assert_close(loss, value(TASK, "loss_document"), "the document's point: loss")
    for n in NAMES:
        assert_close(grads[n], value(TASK, f"dL_d{n}_document"), f"the document's point: dL/d{n}")
    # the document's target at points the student has not seen
    for i in range(4):
        x, params = _random_params(student.rng)
        _compare_reference(student, x, np.asarray(t, dtype=np.float64), params,
                           f"random point {i + 1} with the document's target")


@check
def test_random_points(student):
    point = dict(w1=0.8, b1=0.3, w2=-1.2, b2=0.4)
    _compare_fd(student, 0.7, np.array([1.0, 0.0]), point, "x=0.7, t=[1, 0], w1=0.8, b1=0.3, w2=-1.2, b2=0.4")
    for i in range(12):
        x, params = _random_params(student.rng)
        _compare_fd(student, x, np.array([1.0, 0.0]), params, f"random point {i + 1} with t=[1, 0]")


@check
def test_second_class(student):
    x, params = _doc_point()
    t = np.array([0.0, 1.0])
    loss, grads = _call(student, x, t, params, "the document's point with t=[0, 1]")
    ref_loss, ref = reference(x, t, **params)
    assert_close(loss, ref_loss, "the document's point with t=[0, 1]: loss")
    for n in NAMES:
        assert_close(grads[n], ref[n], f"the document's point with t=[0, 1]: dL/d{n}")
    for i in range(8):
        x, params = _random_params(student.rng)
        _compare_fd(student, x, t, params, f"random point {i + 1} with t=[0, 1]")


@check
def test_relu_kink(student):
    _compare_reference(student, 1.0, np.array([1.0, 0.0]), dict(w1=0.0, b1=0.0, w2=2.0, b2=0.0),
                       "s1 = 0 (x=1, w1=0, b1=0, w2=2, b2=0)")
    for i in range(6):
        t = np.array([1.0, 0.0]) if i % 2 == 0 else np.array([0.0, 1.0])
        w2, b2, other = (float(v) for v in student.rng.normal(scale=1.5, size=3))
        if i < 3:   # w1 = b1 = 0
            x, params = other, dict(w1=0.0, b1=0.0, w2=w2, b2=b2)
        else:       # x = 0, b1 = 0
            x, params = 0.0, dict(w1=other, b1=0.0, w2=w2, b2=b2)
        _compare_reference(student, x, t, params, f"a point with s1 = 0 exactly (case {i + 1})")


@check
def test_large_logits(student):
    cases = [
        (1.0, [1.0, 0.0], dict(w1=1000.0, b1=0.0, w2=1.0, b2=0.0)),
        (1.0, [0.0, 1.0], dict(w1=1000.0, b1=0.0, w2=1.0, b2=0.0)),
        (2.0, [1.0, 0.0], dict(w1=400.0, b1=5.0, w2=1.01, b2=-3.0)),
        (1.0, [0.0, 1.0], dict(w1=-500.0, b1=1.0, w2=1.0, b2=-480.0)),
    ]
    for x, t, params in cases:
        _compare_reference(student, x, np.array(t), params, "large logits (hundreds to thousands)")
    for _ in range(4):
        x = float(student.rng.uniform(1.0, 3.0))
        w1 = float(student.rng.uniform(300.0, 1000.0))
        w2 = float(1.0 + student.rng.uniform(-0.01, 0.01))
        _compare_reference(student, x, np.array([1.0, 0.0]), dict(w1=w1, b1=0.0, w2=w2, b2=0.0),
                           "large logits (hundreds to thousands)")
