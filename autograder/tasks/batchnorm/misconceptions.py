"""Misconceptions of task batchnorm: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hints import Misconception, function_probe, like, modifies_argument

FORWARD = "test_batchnorm_forward"
CONST = "test_batchnorm_backward_const_stats"
EXACT = "test_batchnorm_backward"
STEPS = ("test_train_step_exam", "test_train_step_random")
USES_FORWARD = (FORWARD, CONST, EXACT) + STEPS


# -- references, right and wrong ----------------------------------------------------

def _normalise(h, eps, *, ddof=0, eps_outside=False, axis=0):
    h = np.asarray(h, dtype=np.float64)
    mu = h.mean(axis=axis, keepdims=True)
    var = h.var(axis=axis, ddof=ddof, keepdims=True)
    return (h - mu) / ((np.sqrt(var) + eps) if eps_outside else np.sqrt(var + eps))


def _exact_backward(dout, h, eps):
    h = np.asarray(h, dtype=np.float64)
    xhat = _normalise(h, eps)
    inv_std = 1.0 / np.sqrt(h.var(axis=0) + eps)
    n = dout.shape[0]
    return (inv_std / n) * (n * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0))


def _step(X, y, W1, b1, W2, b2, lr, eps, *, scale="mean", sign=1.0, lr_power=1, exact=False):
    """One step of the task's network (constant statistics unless ``exact``), in closed form."""
    n = X.shape[0]
    h1 = X @ W1.T + b1
    hn = _normalise(h1, eps)
    h2 = np.maximum(hn, 0.0)
    s = (h2 @ W2.T + b2).reshape(-1)
    p = np.exp(-np.logaddexp(0.0, -s))
    ds = (p - y) / (n if scale == "mean" else 1.0)
    dW2 = (ds @ h2).reshape(1, -1)
    db2 = np.array([ds.sum()])
    dhn = np.outer(ds, W2.reshape(-1)) * (hn > 0)
    dh1 = _exact_backward(dhn, h1, eps) if exact else dhn / np.sqrt(h1.var(axis=0) + eps)
    dW1, db1 = dh1.T @ X, dh1.sum(axis=0)
    step = sign * lr ** lr_power
    return W1 - step * dW1, b1 - step * db1, W2 - step * dW2, b2 - step * db2


# -- inputs the grader chooses ----------------------------------------------------------

def _batch(rng, n=None, d=None):
    n = n or int(rng.integers(4, 9))
    d = d or int(rng.integers(2, 5))
    return rng.uniform(-3, 3, size=d) + rng.uniform(0.05, 2.0, size=d) * rng.normal(size=(n, d))


def _forward_inputs(rng):
    return (_batch(rng), float(rng.choice([0.1, 0.3])))


def _backward_inputs(rng):
    h = _batch(rng)
    return h, rng.normal(size=h.shape), 0.1


def _step_inputs(rng):
    n, d, k = int(rng.integers(4, 8)), int(rng.integers(2, 4)), int(rng.integers(2, 5))
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    y = (np.arange(n) % 2).astype(np.float64)
    return (X, y, rng.normal(size=(k, d)), rng.normal(size=k), rng.normal(size=(1, k)), rng.normal(size=1),
            float(rng.uniform(0.2, 0.8)), 0.1)


def _forward_probe(**wrong):
    return function_probe("batchnorm_forward", _forward_inputs,
                          right=lambda h, eps: _normalise(h, eps), wrong=lambda h, eps: _normalise(h, eps, **wrong),
                          pick=lambda out: out[0])


def _backward_probe(wrong):
    """Student's forward (for the cache), then the student's batchnorm_backward."""
    def probe(student, rng):
        for _ in range(2):
            h, dout, eps = _backward_inputs(rng)
            out = student.call("batchnorm_forward", h.copy(), eps)
            dh = student.call("batchnorm_backward", dout.copy(), out[1])
            right = _exact_backward(dout, h, eps)
            if not like(dh, wrong(dout, h, eps), right, rtol=1e-6):
                return False
        return True
    return probe


def _const_probe(wrong):
    """Student's forward (for the cache), then the student's batchnorm_backward_const_stats."""
    def probe(student, rng):
        for _ in range(2):
            h, dout, eps = _backward_inputs(rng)
            out = student.call("batchnorm_forward", h.copy(), eps)
            dh = student.call("batchnorm_backward_const_stats", dout.copy(), out[1])
            right = dout / np.sqrt(h.var(axis=0) + eps)
            if not like(dh, wrong(dout, h, eps), right, rtol=1e-6):
                return False
        return True
    return probe


def _step_probe(**wrong):
    return function_probe("train_step", _step_inputs, right=lambda *a: _step(*a), wrong=lambda *a: _step(*a, **wrong),
                          trials=2, rtol=1e-6)


_FWD_NOTE = (" This is a mistake of batchnorm_forward: the backward passes and the training step are graded "
             "against what your own forward computes (if they are right for it they keep their points), so fix "
             "the forward first.")

MISCONCEPTIONS = [
    Misconception(
        id="unbiased_variance",
        text="Your variance looks like the unbiased estimator (dividing by N - 1); batch norm normalises with "
             "the biased one (dividing by N, the batch size)." + _FWD_NOTE,
        checks=USES_FORWARD, probe=_forward_probe(ddof=1), mutants=("unbiased_variance",), group="forward"),
    Misconception(
        id="eps_outside_sqrt",
        text="eps seems to be added to the standard deviation; it belongs inside the square root, added to "
             "the variance." + _FWD_NOTE,
        checks=USES_FORWARD, probe=_forward_probe(eps_outside=True), mutants=("eps_outside_sqrt",), group="forward"),
    Misconception(
        id="statistics_over_features",
        text="The mean and variance seem to be taken over the features of each example (the wrong axis); batch "
             "norm takes them over the examples of the batch, separately for every feature." + _FWD_NOTE,
        checks=USES_FORWARD, probe=_forward_probe(axis=1), group="forward"),
    Misconception(
        id="statistics_over_everything",
        text="The mean and variance seem to be taken over the whole batch at once; batch norm takes them "
             "over the examples, separately for every feature (one mean and variance per column)." + _FWD_NOTE,
        checks=USES_FORWARD, probe=_forward_probe(axis=None), group="forward"),
    Misconception(
        id="const_stats_times_sigma",
        text="batchnorm_backward_const_stats seems to multiply the upstream gradient by the standard deviation; "
             "with the statistics constant, the output is (h - mu) / sigma, so the gradient is divided by it.",
        checks=(CONST,), mutants=("const_stats_times_sigma",), group="const",
        probe=_const_probe(lambda dout, h, eps: dout * np.sqrt(h.var(axis=0) + eps))),
    Misconception(
        id="const_stats_as_exact",
        text="batchnorm_backward returns the constant-statistics gradient; the exact gradient also flows "
             "through the batch mean and variance, which depend on every input.",
        checks=(EXACT,), mutants=("const_stats_as_exact",), group="exact",
        probe=_backward_probe(lambda dout, h, eps: dout / np.sqrt(h.var(axis=0) + eps))),
    Misconception(
        id="step_sum_not_mean",
        text="The step looks like the gradient of the summed loss; the loss is the mean over the batch, so "
             "every gradient carries a factor of one over the batch size.",
        checks=STEPS, probe=_step_probe(scale="sum"), mutants=("train_step_sum",), group="step"),
    Misconception(
        id="step_sign_error",
        text="The update moves the parameters up the gradient; a gradient descent step subtracts the learning "
             "rate times the gradient.",
        checks=STEPS, probe=_step_probe(sign=-1.0), group="step"),
    Misconception(
        id="step_learning_rate_twice",
        text="The learning rate seems to be applied twice (the step is scaled by its square); multiply the "
             "gradient by it once.",
        checks=STEPS, probe=_step_probe(lr_power=2), group="step"),
    Misconception(
        id="step_exact_statistics",
        text="The step back-propagates through the batch statistics; this task's training step treats the "
             "mean and variance as constants (the constant-statistics backward).",
        checks=STEPS, probe=_step_probe(exact=True), group="step"),
    Misconception(
        id="step_modifies_inputs",
        text="train_step changes the arrays it was given (an in-place update such as -=); return new arrays "
             "and leave the caller's parameters untouched.",
        checks=STEPS, mutants=("train_step_in_place",),
        probe=modifies_argument("train_step", lambda rng: _step_inputs(rng)[:6], lr=0.5, eps=0.1)),
]
