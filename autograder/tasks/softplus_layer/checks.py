"""Checks of task softplus_layer (exam22, problem 4).

References live here: softplus is np.logaddexp(0, x), its derivative a stable
sigmoid, and every gradient is refereed by float64 central differences
(:func:`autograder.gradcheck.numerical_gradient`). The document's numbers (it
gives none beyond the formulas) and the extreme-input values are in
``autograder/tasks/softplus_layer/key.toml``.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import (
    as_array,
    assert_close,
    assert_rel_error,
    check,
    describe,
    dtype_name,
    expect,
    fail,
)
from autograder.grading.gradcheck import numerical_gradient
from autograder.tasks.answer_key import value

TASK = "softplus_layer"


# -- references -------------------------------------------------------------------

def reference_softplus(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def reference_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def numerical_jacobian(f, x):
    """J[i, j] = d f(x)_i / d x_j by float64 central differences, one output row at a time."""
    x = np.array(x, dtype=np.float64)
    n = x.size
    rows = []
    for i in range(n):
        dout = np.zeros(n)
        dout[i] = 1.0
        rows.append(numerical_gradient(f, x.copy(), dout=dout))
    return np.array(rows)


# -- helpers ------------------------------------------------------------------------

def _float_output(out, what, shape):
    """``out`` must be a float array (a float scalar is fine for a 0-d result) of ``shape``."""
    shape = tuple(shape)
    if isinstance(out, (np.ndarray, np.generic)):
        if np.dtype(out.dtype).kind != "f":
            fail(f"{what}: expected a floating-point dtype, got {dtype_name(out)}")
    elif not (shape == () and type(out) is float):
        fail(f"{what}: expected a NumPy array, got {describe(out)}")
    return as_array(out, what, shape=shape, allow_scalar=shape == ())


def _random_shape(rng, max_rank=4):
    rank = int(rng.integers(0, max_rank + 1))
    return tuple(int(s) for s in rng.integers(1, 5, size=rank))


# -- 0-d arrays ---------------------------------------------------------------------

def _call_0d(layer, method: str, x: float, dtype=np.float64):
    """``layer.method(<0-d array x>)``; returns the result as a 0-d float64 array after checking it."""
    label = f"{layer.label}.{method}(...)"
    out = layer.call(method, np.asarray(x, dtype=dtype))
    if type(out) is float:                      # a Python float is a fine 0-d result
        return np.asarray(out)
    if not isinstance(out, (np.ndarray, np.generic)):
        fail(f"{label} on a 0-d array: expected a NumPy array, got {describe(out)}")
    if np.dtype(out.dtype).kind != "f":
        fail(f"{label} on a 0-d array: expected a floating-point dtype, got {dtype_name(out)}")
    if np.shape(out) != ():
        fail(f"{label}: a 0-d input must give a 0-d output, got {describe(out)} of another shape")
    return np.asarray(out, dtype=np.float64).reshape(())


def _forward(layer, x, what="Softplus().forward(x)"):
    if x.ndim == 0:
        return _call_0d(layer, "forward", float(x), x.dtype)
    out, (after,) = layer.call_keep_args("forward", x)
    if not (isinstance(after, np.ndarray) and after.shape == x.shape and np.array_equal(after, x)):
        fail(f"{what}: the input array was modified")
    return _float_output(out, what, x.shape)


# -- checks ---------------------------------------------------------------------------

@check
def test_forward_values(student):
    layer = student.new("Softplus")
    x = value(TASK, "forward_document", "input")
    y = _forward(layer, x)
    assert_close(y, value(TASK, "forward_document"), "forward on a 4-dimensional input", rtol=1e-9, atol=1e-12)
    for n in (1, 5, 17):
        x = student.rng.uniform(-8.0, 8.0, size=n)
        assert_close(_forward(layer, x), reference_softplus(x), "forward on random vectors",
                     rtol=1e-9, atol=1e-12)


@check
def test_extreme_inputs(student):
    # the forward pass at large inputs; backward_inputs at large inputs is part of test_backward, so that
    # one overflow costs the points of the function it is in
    layer = student.new("Softplus")
    x = value(TASK, "forward_extreme", "input")
    assert_close(_forward(layer, x), value(TASK, "forward_extreme"),
                 "forward at -1000, -50, 0, 50, 1000", rtol=1e-9, atol=1e-12)
    rng = student.rng
    for _ in range(3):
        x = rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(30.0, 1000.0, size=(3, 4))
        assert_close(_forward(layer, x), reference_softplus(x), "forward on large random inputs",
                     rtol=1e-9, atol=1e-12)


def _remember(layer, x):
    """Run the student's forward on ``x`` for its side effect (what backward_inputs uses); its output is
    judged by the forward's own checks, not here."""
    layer.call("forward", np.array(x, copy=True))


@check
def test_shapes_and_dtypes(student):
    layer = student.new("Softplus")
    rng = student.rng
    shapes = [(), (3,), (2, 3), (2, 1, 4, 3), (1, 1), (3, 1, 2, 1, 2)]
    shapes += [_random_shape(rng, 5) for _ in range(4)]
    for shape in shapes:
        x = rng.uniform(-6.0, 6.0, size=shape)
        x = np.asarray(x, dtype=np.float64)
        y = _forward(layer, x, f"forward on a rank-{len(shape)} input")
        assert_close(y, reference_softplus(x), f"forward on a rank-{len(shape)} input", rtol=1e-9, atol=1e-12)
    for shape in [(2, 2), (3,), (), (2, 3, 2)]:
        x = np.asarray(rng.uniform(-6.0, 6.0, size=shape), dtype=np.float32)
        y = _forward(layer, x, "forward on a float32 input")
        assert_close(y, reference_softplus(x), "forward on a float32 input", rtol=1e-5, atol=1e-6)


@check
def test_backward(student):
    layer = student.new("Softplus")
    rng = student.rng
    expect(layer.get("has_params") is False, "has_params must be False (softplus has no parameters)")
    for shape in [(2, 2), (4,), (), (2, 3, 2)] + [_random_shape(rng) for _ in range(4)]:
        other = np.asarray(rng.uniform(-5.0, 5.0, size=shape), dtype=np.float64)
        x = np.asarray(rng.uniform(-5.0, 5.0, size=shape), dtype=np.float64)
        grads = np.asarray(rng.normal(size=shape), dtype=np.float64)
        _remember(layer, other)               # an earlier forward the backward pass must not use
        _remember(layer, x)
        if not shape:
            back = _call_0d(layer, "backward_inputs", float(grads))
        else:
            back, (grads_after,) = layer.call_keep_args("backward_inputs", grads)
            expect(isinstance(grads_after, np.ndarray) and np.array_equal(grads_after, grads),
                   "backward_inputs: the array grads was modified")
            back = _float_output(back, f"backward_inputs on a rank-{len(shape)} input", shape)
        expected = numerical_gradient(reference_softplus, x.copy(), dout=grads)
        assert_rel_error(back, expected, f"backward_inputs on a rank-{len(shape)} input "
                         "(for the inputs of the LAST forward)", tol=1e-6)
        expect(layer.call("backward_params", grads if shape else 1.0) is None, "backward_params must return None")
    # large inputs: the derivative must not overflow
    x = value(TASK, "forward_extreme", "input")
    _remember(layer, x)
    g = _float_output(layer.call("backward_inputs", np.ones_like(x)), "backward_inputs(ones)", x.shape)
    assert_close(g, value(TASK, "backward_extreme"), "backward_inputs at -1000, -50, 0, 50, 1000",
                 rtol=1e-9, atol=1e-12)
    for _ in range(3):
        x = rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(30.0, 1000.0, size=(3, 4))
        grads = rng.normal(size=(3, 4))
        _remember(layer, x)
        back = _float_output(layer.call("backward_inputs", grads), "backward_inputs on large inputs", x.shape)
        assert_close(back, grads * reference_sigmoid(x), "backward_inputs on large random inputs",
                     rtol=1e-9, atol=1e-12)


@check
def test_jacobian(student):
    x = value(TASK, "jacobian_document", "input")
    J = as_array(student.call("softplus_jacobian", x), "softplus_jacobian(x)", shape=(4, 4))
    assert_close(J, value(TASK, "jacobian_document"), "softplus_jacobian on a 4-dimensional input",
                 rtol=1e-9, atol=1e-12)
    rng = student.rng
    for n in (1, 3, 6):
        x = rng.uniform(-6.0, 6.0, size=n)
        J = as_array(student.call("softplus_jacobian", x.copy()), "softplus_jacobian(x)", shape=(n, n))
        off = ~np.eye(n, dtype=bool)
        expect(np.all(J[off] == 0), "softplus_jacobian: the Jacobian of an elementwise map is diagonal")
        assert_rel_error(J, numerical_jacobian(reference_softplus, x), "softplus_jacobian", tol=1e-6)
    x = np.array([-1000.0, -50.0, 50.0, 1000.0])
    J = as_array(student.call("softplus_jacobian", x), "softplus_jacobian(x)", shape=(4, 4))
    assert_close(J, np.diag(reference_sigmoid(x)), "softplus_jacobian at large inputs", rtol=1e-9, atol=1e-12)
