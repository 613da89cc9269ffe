"""Misconceptions of task relu_softmax_mlp: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hints import Misconception, function_probe, modifies_argument, overflows_like

FN = "two_layer_gradients"
KEYS = ("W1", "b1", "W2", "b2")
RANDOM = "test_random_batches"
POINT = "test_verification_point"
ZERO = "test_relu_at_zero"
MEAN = "test_batch_mean"
SHAPES = "test_shapes_and_inputs"
STABLE = "test_stable_softmax"


def _grads(X, Y, W1, b1, W2, b2, *, norm="mean", w2_t=True, mask_geq=False, dw1_mask=True, stable=True,
           transposed=False):
    n = X.shape[0]
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True)) if stable else np.exp(Z2)
    dZ2 = (E / E.sum(axis=1, keepdims=True) - Y) / (n if norm == "mean" else 1.0)
    dA1 = dZ2 @ (W2.T if w2_t else W2)
    dZ1 = dA1 * ((Z1 >= 0) if mask_geq else (Z1 > 0))
    dW1 = X.T @ (dZ1 if dw1_mask else dA1)
    dW2 = A1.T @ dZ2
    if transposed:
        dW1, dW2 = dW1.T, dW2.T
    return {"W1": dW1, "b1": dZ1.sum(0), "W2": dW2, "b2": dZ2.sum(0)}


def _problem(rng, *, square=False, zeros=False, scale=1.0):
    N, D, H = int(rng.integers(3, 7)), int(rng.integers(2, 5)), int(rng.integers(3, 6))
    C = H if square else H + 1
    X = rng.normal(size=(N, D))
    W1, b1 = rng.normal(size=(D, H)), rng.normal(size=H)
    if zeros:
        X[0] = 0.0
        b1[::2] = 0.0
    return (X, np.eye(C)[rng.integers(C, size=N)], W1, b1, rng.normal(scale=scale, size=(H, C)),
            rng.normal(size=C))


def _probe(inputs=_problem, compare=None, **wrong):
    return function_probe(FN, inputs, right=_grads, wrong=lambda *a: _grads(*a, **wrong), rtol=1e-6,
                          pick=lambda out: {k: out[k] for k in KEYS}, compare=compare)


ALL = (RANDOM, POINT, ZERO, MEAN, SHAPES, STABLE)

MISCONCEPTIONS = [
    Misconception(
        id="w2_not_transposed",
        text="Back through the second layer W2 is used without transposing it; dL/dA1 = dL/dZ2 times W2 "
             "transposed (the notes mix up the two weight matrices here).",
        checks=ALL, probe=_probe(lambda rng: _problem(rng, square=True), w2_t=False),
        mutants=("w2_not_transposed",), group="grads"),
    Misconception(
        id="relu_grad_one_at_zero",
        text="At a pre-activation of exactly zero your ReLU derivative is one (the notes' z >= 0); this task "
             "takes ReLU'(0) = 0, i.e. the mask z > 0.",
        checks=(ZERO,), probe=_probe(lambda rng: _problem(rng, zeros=True), mask_geq=True),
        mutants=("mask_z_geq_0",), group="grads"),
    Misconception(
        id="sum_not_mean",
        text="The gradients are those of the summed loss; the loss is the mean over the batch, so dL/dZ2 is "
             "divided by the batch size.",
        checks=ALL, probe=_probe(norm="sum"), mutants=("sum_not_mean",), group="grads"),
    Misconception(
        id="dW1_without_mask",
        text="dL/dW1 uses the gradient before the ReLU mask (the notes' final formula); the mask belongs in "
             "dZ1, and dW1 = X-transposed times dZ1.",
        checks=ALL, probe=_probe(dw1_mask=False), mutants=("dW1_without_mask",), group="grads"),
    Misconception(
        id="unstable_softmax",
        text="The softmax overflows for large logits (exp gives inf, the gradients NaN); subtract each row's "
             "largest logit before taking exp.",
        checks=(STABLE,), probe=_probe(lambda rng: _problem(rng, scale=900.0), overflows_like, stable=False),
        mutants=("unstable_softmax",)),
    Misconception(
        id="transposed_weight_gradients",
        text="The weight gradients are transposed; each must have the shape of its weight matrix "
             "(dW1 = X-transposed dZ1, dW2 = A1-transposed dZ2).",
        checks=ALL, probe=_probe(transposed=True), group="grads"),
    Misconception(
        id="modifies_inputs",
        text="two_layer_gradients changes its arguments in place; compute new arrays instead.",
        checks=(SHAPES,), probe=modifies_argument(FN, _problem)),
]
