"""Checks of task batchnorm (exam22, problem 1: "Zadatak 1", eqs. 1-39).

References live here: ``reference_batchnorm`` (forward, biased variance, eps
inside the square root) and ``frozen_loss`` (the network's mean binary
cross-entropy with the batch statistics frozen at given values). Every
gradient is refereed by float64 central differences
(:func:`autograder.gradcheck.numerical_gradient`):

* the exact batch-norm gradient against differences of the full function;
* the constant-statistics gradient against differences of the function with
  mu and var frozen at the batch's values;
* ``train_step`` against differences of ``frozen_loss``. Differences of the
  *full* loss would give the exact batch-norm gradient, which is not what the
  exam (and the notebook's contract) asks for: with the statistics treated as
  constants, the step is the gradient of the loss in which mu and var are
  constants equal to their values at the current parameters.

One mistake costs once. The backward passes receive the cache of the student's
own ``batchnorm_forward`` (its layout is the student's), and ``train_step``
calls the student's forward and constant-statistics backward. So each of those
checks also accepts the answer that is correct *for the student's own forward*:
the forward's output on the check's batch is read as a per-feature affine map
``out = a * h + c`` (the statistics it used, frozen), and the expected gradient
is the batch-norm formula with that normalised output and scale ``a``
(:func:`_own_statistics`); ``train_step`` is compared with the step composed
in the grader from the student's forward and constant-statistics backward
(:func:`_composed_step`). A wrong forward thus costs the forward's points only;
a check still fails when its own function is wrong for every reading.

The exam's own numbers use eps = 0; the exam checks call the student's code
with ``eps=0.0`` and compare with the answer key exactly (rtol 1e-9).
"""

from __future__ import annotations

import numpy as np

from autograder.bridge import codec
from autograder.grading.checking import (
    CheckFailed,
    as_array,
    as_float_array,
    assert_close,
    assert_rel_error,
    check,
    expect,
    fail,
)
from autograder.grading.gradcheck import numerical_gradient, numerical_gradients
from autograder.tasks.answer_key import value

TASK = "batchnorm"


# -- references ---------------------------------------------------------------

def reference_batchnorm(h, eps):
    h = np.asarray(h, dtype=np.float64)
    mu = h.mean(axis=0)
    var = ((h - mu) ** 2).mean(axis=0)
    return (h - mu) / np.sqrt(var + eps), mu, var


def frozen_loss(X, y, W1, b1, W2, b2, mu, var, eps):
    """Mean BCE of the network with batch statistics frozen at (mu, var)."""
    h1 = X @ W1.T + b1
    hn = (h1 - mu) / np.sqrt(var + eps)
    s = (np.maximum(hn, 0.0) @ W2.T + b2).reshape(-1)
    # -[y log p + (1-y) log(1-p)] = softplus(s) - y s, computed stably
    return float(np.mean(np.logaddexp(0.0, s) - y * s))


def reference_step(X, y, W1, b1, W2, b2, lr, eps):
    """The new parameters from float64 central differences of ``frozen_loss``."""
    _, mu, var = reference_batchnorm(X @ W1.T + b1, eps)
    grads = numerical_gradients(
        lambda W1, b1, W2, b2: frozen_loss(X, y, W1, b1, W2, b2, mu, var, eps),
        {"W1": W1, "b1": b1, "W2": W2, "b2": b2})
    return {name: p - lr * grads[name] for name, p in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))}


# -- helpers --------------------------------------------------------------------

def _plain(obj, depth=0) -> bool:
    if isinstance(obj, codec.Unsupported) or depth > 10:
        return False
    if isinstance(obj, (list, tuple)):
        return all(_plain(v, depth + 1) for v in obj)
    if isinstance(obj, dict):
        return all(_plain(v, depth + 1) for v in obj.values())
    return True


def _forward(student, h, eps, label="batchnorm_forward"):
    result, args = student.call_keep_args("batchnorm_forward", h, eps=eps)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{label}: must return a pair (out, cache)")
    out, cache = result
    if not np.array_equal(as_array(args[0], "h after the call"), h):
        fail(f"{label}: modified its input h")
    if not _plain(cache):
        fail(f"{label}: the cache must be plain data (a tuple or dict of NumPy arrays and numbers)")
    return as_float_array(out, f"{label}: out", h.shape), cache


def _cache(student, h, eps, label):
    """The student's forward on a copy of ``h``: (its output if readable else None, its cache)."""
    result = student.call("batchnorm_forward", h.copy(), eps=eps)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{label} needs batchnorm_forward to return a pair (out, cache)")
    out, cache = result
    if not _plain(cache):
        fail(f"{label}: the cache of batchnorm_forward must be plain data "
             "(a tuple or dict of NumPy arrays and numbers)")
    ok = isinstance(out, np.ndarray) and out.shape == h.shape and out.dtype.kind == "f" and np.all(np.isfinite(out))
    return (np.asarray(out, dtype=np.float64) if ok else None), cache


def _own_statistics(h, out, eps):
    """The scale ``a`` (per feature) of the student's forward read as ``out = a * h + c``, or None.

    None (then only the reference counts) when ``out`` is missing, is not such a map within
    rounding, or is no normalisation at all: its output must be centred (per feature or as a
    whole) and ``a`` within a factor of 4 of the reference's ``1 / sqrt(var + eps)``. So a
    forward that returns its input, or zeros, leaves no "consistent" backward to pay.
    """
    if out is None:
        return None
    hc, oc = h - h.mean(axis=0), out - out.mean(axis=0)
    var = (hc ** 2).sum(axis=0)
    if np.any(var <= 0):
        return None
    a = (hc * oc).sum(axis=0) / var
    c = out.mean(axis=0) - a * h.mean(axis=0)
    scale = 1.0 + np.max(np.abs(out))
    if not np.all(np.isfinite(a)) or np.max(np.abs(a * h + c - out)) > 1e-9 * scale:
        return None
    centred = np.allclose(out.mean(axis=0), 0.0, atol=1e-9 * scale) or abs(out.mean()) <= 1e-9 * scale
    ratio = a * np.sqrt(h.var(axis=0) + eps)
    if not centred or not np.all((ratio > 0.25) & (ratio < 4.0)):
        return None
    return a


def _const_for_own(dout, h, out, eps):
    a = _own_statistics(h, out, eps)
    return None if a is None else dout * a


def _exact_for_own(dout, h, out, eps):
    a = _own_statistics(h, out, eps)
    if a is None:
        return None
    n = dout.shape[0]
    return (a / n) * (n * dout - dout.sum(axis=0) - out * (dout * out).sum(axis=0))


def _either(judge, reference, own):
    """``judge(expected)`` passes for the reference, or else for the answer right for the student's own forward.

    The reference's failure message is the one raised (it names no consistency value).
    """
    try:
        judge(reference)
    except CheckFailed:
        if own is None:
            raise
        try:
            judge(own)
        except CheckFailed:
            pass
        else:
            return
        raise


def _random_batch(rng, n, d, scales=(0.5, 5.0)):
    scale = 10 ** rng.uniform(np.log10(scales[0]), np.log10(scales[1]), size=d)
    offset = rng.uniform(-20.0, 20.0, size=d)
    return offset + scale * rng.normal(size=(n, d))


# -- checks ---------------------------------------------------------------------

@check
def test_batchnorm_forward(student):
    # the exam's batch after the first layer, eps = 0 (eqs. 4-8)
    h = value(TASK, "first_layer_output")
    out, _ = _forward(student, h, 0.0)
    assert_close(out, value(TASK, "normalized"), "batchnorm_forward on the exam's batch (eps=0)", rtol=1e-9)
    # random batches far from zero mean / unit variance; include tiny-variance features
    for trial in range(4):
        n, d = int(student.rng.integers(3, 30)), int(student.rng.integers(2, 7))
        h = _random_batch(student.rng, n, d, scales=(1e-3, 100.0))
        h[:, 0] = student.rng.uniform(-20, 20) + 1e-3 * student.rng.normal(size=n)
        eps = (1e-5, 1e-3, 1e-1, 1e-5)[trial]
        out, _ = _forward(student, h, eps)
        ref, _, var = reference_batchnorm(h, eps)
        expect(np.allclose(out.mean(axis=0), 0.0, atol=1e-8),
               "batchnorm_forward: the output features do not have mean 0")
        expect(np.allclose(out.var(axis=0), var / (var + eps), rtol=1e-6),
               "batchnorm_forward: the output features do not have the variance batch norm gives them")
        assert_close(out, ref, "batchnorm_forward on a random batch")
    # the default eps is 1e-5
    h = _random_batch(student.rng, 8, 3, scales=(1e-3, 1e-2))
    out, _ = _forward(student, h, 1e-5)
    res = student.call("batchnorm_forward", h)
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        fail("batchnorm_forward: must return a pair (out, cache)")
    assert_close(res[0], out, "batchnorm_forward with the default eps (must be 1e-5)")
    assert_close(out, reference_batchnorm(h, 1e-5)[0], "batchnorm_forward on a batch of small variance")


@check
def test_batchnorm_backward_const_stats(student):
    label = "batchnorm_backward_const_stats"
    # the exam's per-example gradients, eqs. (21)/(31) -> (22)/(32), eps = 0
    h = value(TASK, "first_layer_output")
    out, cache = _cache(student, h, 0.0, label)
    dout = value(TASK, "dnormalized_per_example")
    dh = as_float_array(student.call(label, dout, cache), f"{label}: dh", h.shape)
    _either(lambda expected: assert_close(dh, expected, f"{label} on the exam's batch (eps=0)", rtol=1e-9),
            value(TASK, "dh1_per_example_const_stats"), _const_for_own(dout, h, out, 0.0))
    for trial in range(4):
        n, d = int(student.rng.integers(2, 12)), int(student.rng.integers(2, 6))
        h = _random_batch(student.rng, n, d, scales=(0.01, 10.0))
        eps = (1e-5, 1e-3, 1e-1, 1e-5)[trial]
        dout = student.rng.normal(size=(n, d))
        out, cache = _cache(student, h, eps, label)
        dh = as_float_array(student.call(label, dout, cache), f"{label}: dh", h.shape)
        _, mu, var = reference_batchnorm(h, eps)
        num = numerical_gradient(lambda z: (z - mu) / np.sqrt(var + eps), h.copy(), dout)
        _either(lambda expected: assert_rel_error(dh, expected, f"{label} on a random batch", tol=1e-6),
                num, _const_for_own(dout, h, out, eps))


@check
def test_batchnorm_backward(student):
    label = "batchnorm_backward"
    for trial in range(4):
        n, d = int(student.rng.integers(3, 10)), int(student.rng.integers(2, 5))
        h = _random_batch(student.rng, n, d)
        eps = (1e-1, 1e-3, 1e-5, 1e-1)[trial]
        dout = student.rng.normal(size=(n, d))
        out, cache = _cache(student, h, eps, label)
        dh = as_float_array(student.call(label, dout, cache), f"{label}: dh", h.shape)
        num = numerical_gradient(lambda z: reference_batchnorm(z, eps)[0], h.copy(), dout)
        _either(lambda expected: assert_rel_error(dh, expected, f"{label} (exact gradient) on a random batch",
                                                  tol=1e-5),
                num, _exact_for_own(dout, h, out, eps))
    # the exam's batch, eps = 0: the exact gradient is zero
    h = value(TASK, "first_layer_output")
    out, cache = _cache(student, h, 0.0, label)
    dout = value(TASK, "dnormalized_per_example")
    dh = as_float_array(student.call(label, dout, cache), f"{label}: dh", h.shape)
    _either(lambda expected: assert_close(dh, expected, f"{label} on the exam's batch of two (eps=0)", atol=1e-12),
            value(TASK, "exact_bn_gradient_exam"), _exact_for_own(dout, h, out, 0.0))
    # any batch of two, eps = 0: the exact gradient is zero
    for _ in range(3):
        d = int(student.rng.integers(1, 5))
        h = _random_batch(student.rng, 2, d)
        h[1] = h[0] + student.rng.choice([-1.0, 1.0], size=d) * student.rng.uniform(0.5, 3.0, size=d)
        dout = student.rng.normal(size=(2, d))
        out, cache = _cache(student, h, 0.0, label)
        dh = as_float_array(student.call(label, dout, cache), f"{label}: dh", h.shape)

        def vanishes(expected, dh=dh, dout=dout):
            expect(np.all(np.isfinite(dh)) and np.max(np.abs(dh - expected)) < 1e-9 * np.max(np.abs(dout)) + 1e-12,
                   f"{label}: for a batch of two (eps=0) the exact gradient must vanish")
        _either(vanishes, np.zeros_like(dh), _exact_for_own(dout, h, out, 0.0))


def _step(student, args, lr, eps, label):
    result, after = student.call_keep_args("train_step", *args, lr=lr, eps=eps)
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        fail(f"{label}: train_step must return a tuple (W1, b1, W2, b2)")
    names = ("W1", "b1", "W2", "b2")
    shapes = [a.shape for a in args[2:]]
    new = {n: as_float_array(r, f"{label}: new {n}", s) for n, r, s in zip(names, result, shapes)}
    return new, after


def _composed_step(student, X, y, W1, b1, W2, b2, lr, eps):
    """The step right for the student's own forward and constant-statistics backward, or None.

    Composed in the grader: the student's ``batchnorm_forward`` on the first layer's output, the
    network's other layers and the loss in the grader, the student's ``batchnorm_backward_const_stats``
    for the batch-norm layer. None when those functions give nothing usable.
    """
    try:
        h1 = X @ W1.T + b1
        hn, cache = _cache(student, h1, eps, "train_step")
        if _own_statistics(h1, hn, eps) is None:
            return None
        n, y = X.shape[0], np.asarray(y, dtype=np.float64).reshape(-1)
        h2 = np.maximum(hn, 0.0)
        s = (h2 @ W2.T + b2).reshape(-1)
        p = np.exp(-np.logaddexp(0.0, -s))
        ds = (p - y) / n
        dhn = np.outer(ds, W2.reshape(-1)) * (hn > 0)
        dh1 = as_float_array(student.call("batchnorm_backward_const_stats", dhn, cache), "dh", h1.shape)
    except CheckFailed:
        return None
    grads = {"W1": dh1.T @ X, "b1": dh1.sum(axis=0), "W2": (ds @ h2).reshape(1, -1), "b2": np.array([ds.sum()])}
    return {name: p - lr * grads[name].reshape(p.shape) for name, p in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))}


def _judge_step(student, new, reference, args, lr, eps, what, **tol):
    """Every new parameter matches ``reference``, or else (all of them) the step composed from the student's parts."""
    def judge(expected):
        for name in ("W1", "b1", "W2", "b2"):
            assert_close(new[name], np.reshape(expected[name], new[name].shape), f"{what}: new {name}", **tol)
    try:
        judge(reference)
    except CheckFailed:
        own = _composed_step(student, *args, lr, eps)
        _either(judge, reference, own)


@check
def test_train_step_exam(student):
    key = lambda f: value(TASK, "exam_batch", f)  # noqa: E731
    args = [key("X"), key("y"), key("W1"), key("b1"), key("W2").reshape(1, -1), key("b2").reshape(1)]
    lr = float(key("lr"))
    new, _ = _step(student, args, lr, 0.0, "the exam's step (eps=0)")
    _judge_step(student, new, {name: value(TASK, f"{name}_updated") for name in ("W1", "b1", "W2", "b2")},
                args, lr, 0.0, "train_step on the exam's batch (eps=0)", rtol=1e-9, atol=1e-12)
    # batches of the exam's sizes (eps=0, lr=1) with values the student has not seen
    rng = student.rng
    for _ in range(3):
        X, y = rng.normal(size=args[0].shape), rng.integers(0, 2, size=args[1].shape).astype(np.float64)
        params = [rng.normal(size=a.shape) for a in args[2:]]
        new, _ = _step(student, [X, y, *params], 1.0, 0.0, "a step like the exam's (eps=0)")
        _judge_step(student, new, reference_step(X, y, *params, 1.0, 0.0), [X, y, *params], 1.0, 0.0,
                    "train_step on a batch like the exam's (eps=0)", rtol=1e-6, atol=1e-8)


@check
def test_train_step_random(student):
    done = 0
    while done < 3:
        rng = student.rng
        n, d, hdim = int(rng.integers(3, 10)), int(rng.integers(2, 5)), int(rng.integers(2, 6))
        X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0) + rng.normal(size=d)
        y = rng.integers(0, 2, size=n).astype(np.float64)
        W1, b1 = rng.normal(size=(hdim, d)), rng.normal(size=hdim)
        W2, b2 = rng.normal(size=(1, hdim)), rng.normal(size=1)
        lr, eps = float(rng.uniform(0.05, 1.0)), (1e-1, 1e-2, 1e-5)[done]
        hn, _, _ = reference_batchnorm(X @ W1.T + b1, eps)
        if np.min(np.abs(hn)) < 1e-3:      # keep the finite differences away from ReLU's kink
            continue
        args = [X, y, W1, b1, W2, b2]
        new, after = _step(student, args, lr, eps, "train_step on a random batch")
        if not isinstance(after, list) or len(after) != len(args) or not all(
                isinstance(a, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
                for a, b in zip(after, args)):
            fail("train_step: modified its arguments (return new arrays instead)")
        _judge_step(student, new, reference_step(X, y, W1, b1, W2, b2, lr, eps), args, lr, eps,
                    "train_step on a random batch (compared with a numerical gradient of the mean loss, "
                    "statistics constant)", rtol=1e-6, atol=1e-8)
        done += 1
