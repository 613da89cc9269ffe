"""Misconceptions of task softplus_layer: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hints import Misconception, like, overflows_like

VALUES = "test_forward_values"
EXTREME = "test_extreme_inputs"
SHAPES = "test_shapes_and_dtypes"
BACKWARD = "test_backward"
JACOBIAN = "test_jacobian"


def _softplus(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def _naive_softplus(x):
    with np.errstate(all="ignore"):
        return np.log(np.exp(np.asarray(x, dtype=np.float64)) + 1.0)


def _naive_sigmoid(x):
    with np.errstate(all="ignore"):
        e = np.exp(np.asarray(x, dtype=np.float64))
        return e / (e + 1.0)


def _large(rng):
    """Inputs of both signs far out, where exp(x) overflows."""
    return rng.choice([-1.0, 1.0], size=(2, 3)) * rng.uniform(750.0, 1000.0, size=(2, 3))


def _moderate(rng, shape=(2, 3)):
    return rng.uniform(-4.0, 4.0, size=shape)


def _backward(student, x, grads):
    layer = student.new("Softplus")
    layer.call("forward", x.copy())
    return layer.call("backward_inputs", grads.copy())


def _backward_probe(wrong_local, inputs=_moderate, times_grads=True, compare=like):
    """The student's backward_inputs after one forward, against grads * (a wrong local derivative)."""
    def probe(student, rng):
        for _ in range(2):
            x, grads = inputs(rng), rng.normal(size=(2, 3))
            wrong = wrong_local(x) * (grads if times_grads else 1.0)
            if not compare(_backward(student, x, grads), wrong, grads * _sigmoid(x), rtol=1e-6):
                return False
        return True
    return probe


def _jacobian_probe(wrong_diag):
    def probe(student, rng):
        x = rng.uniform(-4.0, 4.0, size=4)
        return like(student.call("softplus_jacobian", x.copy()), np.diag(wrong_diag(x)), np.diag(_sigmoid(x)),
                    rtol=1e-6)
    return probe


def _either(*probes):
    def probe(student, rng):
        for p in probes:
            try:
                if p(student, rng) is True:
                    return True
            except Exception:  # noqa: BLE001 - a probe that raises is no match; try the next function
                continue
        return False
    return probe


def _overflow_forward(student, rng):
    x = _large(rng)
    return overflows_like(student.new("Softplus").call("forward", x.copy()), _naive_softplus(x), _softplus(x))


def _flattening(student, rng):
    x = _moderate(rng, (2, 3, 2))
    return like(student.new("Softplus").call("forward", x.copy()), _softplus(x).ravel(), _softplus(x),
                rtol=1e-6)


def _stale_cache(student, rng):
    layer = student.new("Softplus")
    first, second, grads = _moderate(rng), _moderate(rng), rng.normal(size=(2, 3))
    layer.call("forward", first.copy())
    layer.call("forward", second.copy())
    return like(layer.call("backward_inputs", grads.copy()), grads * _sigmoid(first), grads * _sigmoid(second),
                rtol=1e-6)


MISCONCEPTIONS = [
    Misconception(
        id="forward_overflow",
        text="softplus overflows for large inputs: exp of a large positive number is inf. Rewrite it so that "
             "no exp of a large positive number is taken (e.g. with np.logaddexp, or max(x, 0) + log1p(exp(-|x|))).",
        checks=(EXTREME,), probe=_overflow_forward, mutants=("document_code",)),
    Misconception(
        id="backward_overflow",
        text="The derivative exp(x) / (1 + exp(x)) is computed literally and becomes inf / inf (NaN) for large "
             "inputs; use a numerically stable sigmoid instead.",
        checks=(BACKWARD,), mutants=("unstable_backward", "document_code"), group="local_derivative",
        probe=_backward_probe(_naive_sigmoid, inputs=_large, compare=overflows_like)),
    Misconception(
        id="flattens_input",
        text="forward flattens its input: an elementwise layer must return an array of the same shape as its "
             "input (any rank, including 0-d).",
        checks=(EXTREME, SHAPES, BACKWARD), probe=_flattening, mutants=("flattening_forward",)),
    Misconception(
        id="backward_ignores_grads",
        text="backward_inputs returns the local derivative only; by the chain rule it must be multiplied, "
             "elementwise, by the incoming gradient grads.",
        checks=(BACKWARD,), mutants=("backward_ignores_grads",), group="local_derivative",
        probe=_backward_probe(_sigmoid, times_grads=False)),
    Misconception(
        id="stale_cache",
        text="backward_inputs uses the inputs of an earlier forward call; it must use those of the most "
             "recent forward (store them on every call).",
        checks=(BACKWARD,), probe=_stale_cache, mutants=("stale_cache",)),
    Misconception(
        id="jacobian_as_vector",
        text="softplus_jacobian returns the derivatives as a vector; the Jacobian of an elementwise map of "
             "n inputs is an n-by-n matrix with those derivatives on its diagonal.",
        checks=(JACOBIAN,), mutants=("jacobian_vector",),
        probe=lambda student, rng: like(student.call("softplus_jacobian", x := rng.uniform(-4, 4, size=4)),
                                        _sigmoid(x), np.diag(_sigmoid(x)), rtol=1e-6)),
    Misconception(
        id="derivative_as_tanh",
        text="The derivative of softplus is written as tanh; the derivative of log(1 + exp(x)) is the "
             "logistic sigmoid.",
        checks=(BACKWARD, JACOBIAN), group="local_derivative",
        probe=_either(_backward_probe(np.tanh), _jacobian_probe(np.tanh))),
    Misconception(
        id="derivative_as_softplus",
        text="The derivative of softplus is written as softplus itself (as if it were exp); the derivative "
             "of log(1 + exp(x)) is the logistic sigmoid.",
        checks=(BACKWARD, JACOBIAN), group="local_derivative",
        probe=_either(_backward_probe(_softplus), _jacobian_probe(_softplus))),
]
