"""Misconceptions of task conv1d_backward: known wrong approaches, each with a reference of the mistake.

See :mod:`autograder.grading.hints` for the contract (when probes run, what a match is).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from autograder.grading.hints import Misconception, function_probe, overflows_like
from autograder.tasks.conv1d_backward.checks import reference_conv1d

CONV = "test_conv1d"
DW = "test_backward_weights"
DX = "test_backward_inputs"
MODEL = ("test_model_exam", "test_model_random")


def _dw(x, dout):
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    return dout @ sliding_window_view(x, x.shape[0] - dout.shape[1] + 1)


def _dx(w, dout, L, *, pad=("both",)):
    w, dout = np.asarray(w, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    k = w.shape[1]
    widths = {"both": (k - 1, k - 1), "right": (0, 2 * (k - 1)), "none": (0, 0)}[pad[0]]
    padded = np.pad(dout, ((0, 0), widths))
    return np.einsum("clj,cj->l", sliding_window_view(padded, k, axis=1), w[:, ::-1])


def _model(x, y, w, W2, b2, *, pool="mean", mask=True, label=0, stable=True):
    h1 = reference_conv1d(x, w)
    n = h1.shape[1]
    h3 = np.maximum(h1, 0.0).sum(axis=1) / (n if pool == "mean" else 1)
    s = W2 @ h3 + b2
    e = np.exp(s - s.max()) if stable else np.exp(s)
    p = e / e.sum()
    ds = p.copy()
    ds[y + label] -= 1.0
    dh1 = np.repeat((W2.T @ ds)[:, None] / (n if pool == "mean" else 1), n, axis=1)
    return p, _dw(x, dh1 * (h1 > 0) if mask else dh1)


def _conv_inputs(rng):
    K, k = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    return rng.normal(size=k + int(rng.integers(2, 6))), rng.normal(size=(K, k))


def _dw_inputs(rng):
    x, w = _conv_inputs(rng)
    return x, rng.normal(size=(w.shape[0], x.size - w.shape[1] + 1))


def _dx_inputs(rng):
    x, w = _conv_inputs(rng)
    return w, rng.normal(size=(w.shape[0], x.size - w.shape[1] + 1)), x.size


def _model_inputs(rng, scale=1.0):
    while True:
        x, w = _conv_inputs(rng)
        C = int(rng.integers(3, 6))
        if np.min(np.abs(reference_conv1d(x, w))) > 1e-3:
            return x, int(rng.integers(1, C)), w, rng.normal(size=(C, w.shape[0])) * scale, rng.normal(size=C)


def _model_probe(inputs=_model_inputs, compare=None, **wrong):
    return function_probe("conv_model_forward_backward", inputs, right=_model,
                          wrong=lambda *a: _model(*a, **wrong), pick=lambda out: tuple(out), rtol=1e-6,
                          compare=compare)


_UPSTREAM = (" This is a mistake of {fn}: conv_model_forward_backward is graded against your own {fn}, so fix "
             "{fn} first.")

MISCONCEPTIONS = [
    Misconception(
        id="true_convolution",
        text="conv1d flips the kernel (a true convolution); deep-learning layers compute a cross-correlation: "
             "out[c, i] is the sum over j of w[c, j] * x[i + j], kernel not flipped." + _UPSTREAM.format(fn="conv1d"),
        checks=(CONV,) + MODEL, mutants=("true_convolution",), group="conv",
        probe=function_probe("conv1d", _conv_inputs, reference_conv1d,
                             lambda x, w: reference_conv1d(x, np.asarray(w)[:, ::-1]))),
    Misconception(
        id="dw_flipped_dout",
        text="The weight gradient correlates x with the reversed output gradient; dL/dw[c, j] is the sum over i "
             "of dout[c, i] * x[i + j], with dout in its own order." + _UPSTREAM.format(fn="conv1d_backward_weights"),
        checks=(DW,) + MODEL, mutants=("backward_weights_flipped_dout",), group="dw",
        probe=function_probe("conv1d_backward_weights", _dw_inputs, _dw,
                             lambda x, d: _dw(x, np.asarray(d)[:, ::-1]))),
    Misconception(
        id="dw_transposed",
        text="The weight gradient is transposed; it has the shape of the kernels, one row per kernel."
             + _UPSTREAM.format(fn="conv1d_backward_weights"),
        checks=(DW,) + MODEL, group="dw",
        probe=function_probe("conv1d_backward_weights", _dw_inputs, _dw, lambda x, d: _dw(x, d).T)),
    Misconception(
        id="dx_one_sided_padding",
        text="The input gradient pads the output gradient on one side only; a full convolution pads k - 1 "
             "zeros on both sides, so every input position collects every output it fed.",
        checks=(DX,), mutants=("backward_inputs_one_sided_padding",), group="dx",
        probe=function_probe("conv1d_backward_inputs", _dx_inputs, _dx, lambda w, d, L: _dx(w, d, L, pad=("right",)))),
    Misconception(
        id="dx_no_padding",
        text="The input gradient is a valid correlation without padding, so it is too short; it needs a full "
             "convolution (k - 1 zeros on both sides) to have one entry per input position.",
        checks=(DX,), mutants=("backward_inputs_no_padding",), group="dx",
        probe=function_probe("conv1d_backward_inputs", _dx_inputs, _dx, lambda w, d, L: _dx(w, d, L, pad=("none",)))),
    Misconception(
        id="sum_pooling",
        text="Global pooling is a sum; this model uses global average pooling (divide by the number of "
             "positions, in the forward pass and in the backward pass).",
        checks=MODEL, probe=_model_probe(pool="sum"), mutants=("sum_pooling",), group="model"),
    Misconception(
        id="no_relu_mask",
        text="The backward pass forgets the ReLU: the gradient must be zeroed where the convolution's output "
             "was negative.",
        checks=MODEL, probe=_model_probe(mask=False), mutants=("no_relu_mask",), group="model"),
    Misconception(
        id="one_based_label",
        text="The class index is read as if it were one-based; y is a 0-based index into the probabilities.",
        checks=MODEL, probe=_model_probe(label=-1), mutants=("one_based_label",), group="model"),
    Misconception(
        id="unstable_softmax",
        text="The softmax overflows for large scores; subtract the largest score before taking exp (it does "
             "not change the probabilities).",
        checks=MODEL, probe=_model_probe(lambda rng: _model_inputs(rng, scale=3000.0), overflows_like, stable=False)),
]
