"""Misconceptions of task softmax_regression: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hints import Misconception, function_probe, modifies_argument, overflows_like

FN = "softmax_regression_step"
DOC = "test_document_step"
RANDOM = "test_random_gradients"
LR = "test_learning_rate"
LARGE = "test_large_logits"
SHAPES = "test_shapes_and_inputs"
VALUES = (DOC, RANDOM, LR, LARGE, SHAPES)


def _step(W, b, x, y, lr=1.0, *, transposed=False, stable=True, sign=1.0, lr_power=1, act="softmax"):
    W, b, x, y = (np.asarray(a, dtype=np.float64) for a in (W, b, x, y))
    z = W @ x + b
    if act == "sigmoid":
        p = np.exp(-np.logaddexp(0.0, -z))
    else:
        e = np.exp(z - z.max()) if stable else np.exp(z)
        p = e / e.sum()
    dz = p - y
    step = sign * lr ** lr_power
    return W - step * (np.outer(x, dz) if transposed else np.outer(dz, x)), b - step * dz


def _problem(rng, square=False, scale=1.0):
    K = int(rng.integers(3, 6))
    D = K if square else K + int(rng.integers(1, 3))
    return (rng.normal(scale=scale, size=(K, D)), rng.normal(scale=scale, size=K), rng.normal(size=D),
            np.eye(K)[int(rng.integers(K))])


def _probe(inputs=_problem, lr=True, compare=None, **wrong):
    kwargs = (lambda rng: {"lr": float(rng.uniform(0.1, 0.6))}) if lr else None
    return function_probe(FN, inputs, right=_step, wrong=lambda *a, **k: _step(*a, **k, **wrong), rtol=1e-7,
                          pick=lambda out: tuple(out), kwargs=kwargs, compare=compare)


MISCONCEPTIONS = [
    Misconception(
        id="transposed_gradient",
        text="The weight gradient is transposed (the notes' orientation); dL/dW is the outer product of "
             "(y_hat - y) with x, one row per class, the shape of W.",
        checks=VALUES, mutants=("transposed_gradient",), group="step",
        probe=_probe(lambda rng: _problem(rng, square=True), transposed=True)),
    Misconception(
        id="unstable_softmax",
        text="The softmax overflows for large logits (exp gives inf, the result NaN); subtract the largest "
             "logit before taking exp.",
        checks=(LARGE,), mutants=("unstable_softmax",),
        probe=_probe(lambda rng: _problem(rng, scale=600.0), compare=overflows_like, stable=False)),
    Misconception(
        id="gradient_ascent",
        text="The update has the wrong sign (gradient ascent); a descent step subtracts the learning rate times "
             "the gradient.",
        checks=VALUES, probe=_probe(sign=-1.0), mutants=("gradient_ascent",), group="step"),
    Misconception(
        id="ignores_learning_rate",
        text="The step ignores the learning rate (it is always a unit step); scale the gradient by lr.",
        checks=(LR, SHAPES), mutants=("ignores_lr",), group="step",
        probe=_probe(lr=True, lr_power=0)),
    Misconception(
        id="learning_rate_twice",
        text="The learning rate is applied twice (the step is scaled by its square); multiply by lr once.",
        checks=(LR,), probe=_probe(lr_power=2), group="step"),
    Misconception(
        id="sigmoid_not_softmax",
        text="The probabilities come from an elementwise sigmoid; softmax regression normalises the "
             "exponentials of all logits together so that they sum to one.",
        checks=VALUES, probe=_probe(act="sigmoid"), mutants=("sigmoid_not_softmax",), group="step"),
    Misconception(
        id="modifies_inputs",
        text="softmax_regression_step changes W or b in place; return new arrays and leave the caller's untouched.",
        checks=(SHAPES,), probe=modifies_argument(FN, _problem, lr=0.3)),
]
