"""Misconceptions of task shared_logit_net: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hints import Misconception, like, overflows_like

FN = "shared_logit_forward_backward"
NAMES = ("w1", "b1", "w2", "b2")
ALL = ("test_document_point", "test_random_points", "test_second_class", "test_relu_kink", "test_large_logits")
KINK = "test_relu_kink"
LARGE = "test_large_logits"


def _net(x, t, w1, b1, w2, b2, *, direct=True, hidden=True, relu_at_zero=0.0, sign=1.0, stable=True,
         relu_logit=False):
    """(loss, grads) of the task's net with the given mistakes, in closed form."""
    s1 = w1 * x + b1
    h1 = max(s1, 0.0)
    s2 = w2 * h1 + b2
    s = np.array([h1 if relu_logit else s1, s2])
    e = np.exp(s - s.max()) if stable else np.exp(s)
    y = e / e.sum()
    log_y = s - s.max() - np.log(np.sum(np.exp(s - s.max()))) if stable else np.log(y)
    loss = float(-np.sum(t * log_y))
    ds = sign * (y - t)
    relu_grad = 1.0 if s1 > 0 else (relu_at_zero if s1 == 0 else 0.0)
    ds1 = (ds[0] * (relu_grad if relu_logit else 1.0) if direct else 0.0) + (ds[1] * w2 * relu_grad if hidden else 0.0)
    return loss, {"w1": ds1 * x, "b1": ds1, "w2": ds[1] * h1, "b2": ds[1]}


def _as_pair(out):
    return (out[0], {n: out[1][n] for n in NAMES})


def _probe(points, compare=like, **wrong):
    def probe(student, rng):
        for _ in range(3):
            x, t, p = points(rng)
            out = _as_pair(student.call(FN, x, t.copy(), *(p[n] for n in NAMES)))
            if not compare(out, _net(x, t, **p, **wrong), _net(x, t, **p), rtol=1e-7):
                return False
        return True
    return probe


def _active(rng):
    """A point with s1 > 0 (both paths carry gradient) and a random target."""
    while True:
        x = float(rng.normal(scale=1.5))
        p = {n: float(v) for n, v in zip(NAMES, rng.normal(scale=1.5, size=4))}
        if p["w1"] * x + p["b1"] > 0.1:
            return x, np.eye(2)[int(rng.integers(2))], p


def _negative(rng):
    """A point with s1 < 0."""
    while True:
        x, t, p = _active(rng)
        p["b1"] = -abs(p["b1"]) - abs(p["w1"] * x) - 0.2
        return x, t, p


def _kink(rng):
    x, t, p = _active(rng)
    return 0.0, t, {**p, "b1": 0.0}


def _large(rng):
    x, t, p = _active(rng)
    return 1.0, t, {**p, "w1": float(rng.uniform(800.0, 1000.0)), "b1": 0.0, "w2": float(rng.uniform(1.5, 3.0))}


MISCONCEPTIONS = [
    Misconception(
        id="no_direct_path",
        text="dL/ds1 misses the direct path: s1 is itself a logit of the softmax, so its gradient is the "
             "softmax gradient of that logit plus what comes back through the hidden unit.",
        checks=ALL, probe=_probe(_active, direct=False), mutants=("no_direct_path",), group="ds1"),
    Misconception(
        id="no_hidden_path",
        text="dL/ds1 misses the path through the hidden unit: s1 also feeds h1 = ReLU(s1), which feeds the "
             "second logit; add that path's contribution (where the ReLU is active).",
        checks=ALL, probe=_probe(_active, hidden=False), mutants=("no_hidden_path",), group="ds1"),
    Misconception(
        id="relu_grad_one_at_zero",
        text="At s1 = 0 your ReLU derivative is one; this task takes ReLU'(0) = 0 (use s1 > 0, not s1 >= 0).",
        checks=(KINK,), probe=_probe(_kink, relu_at_zero=1.0), mutants=("relu_grad_one_at_zero",)),
    Misconception(
        id="unstable_softmax",
        text="The softmax overflows for large logits (exp gives inf and the loss NaN); subtract the largest "
             "logit before taking exp.",
        checks=(LARGE,), mutants=("unstable_softmax",),
        probe=_probe(_large, overflows_like, stable=False)),
    Misconception(
        id="sign_error_ds",
        text="The gradient of the cross-entropy with respect to the logits has the wrong sign; it is the "
             "softmax output minus the target, y - t.",
        checks=ALL, probe=_probe(_active, sign=-1.0), mutants=("sign_error_ds",), group="ds"),
    Misconception(
        id="relu_as_logit",
        text="The first logit is taken after the ReLU; in this network s1 itself (before the ReLU) is the "
             "first logit, and h1 = ReLU(s1) only feeds the second.",
        checks=ALL, probe=_probe(_negative, relu_logit=True), group="ds"),
]
